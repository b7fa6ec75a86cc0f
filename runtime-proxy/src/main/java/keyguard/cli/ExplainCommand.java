package keyguard.cli;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import keyguard.compiler.Backend;
import keyguard.compiler.PolicyCompiler;
import keyguard.compiler.explain.Explainer;
import keyguard.policy.CounterRef;
import keyguard.policy.DataClass;
import keyguard.policy.Decision;
import keyguard.policy.DecisionInput;
import keyguard.policy.Policy;
import keyguard.policy.PolicyEvaluator;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(name = "explain", sortOptions = false, description = {
        "Explain the decision a policy makes for one request: every check in order, what it read, and which one decided.",
        "The request is an OpenAI-shaped JSON body (model, max_tokens, stream, metadata),",
        "or a recorded decision: --decision ID --audit DIR explains it from what its audit event recorded."})
final class ExplainCommand implements Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Spec
    CommandSpec spec;

    @picocli.CommandLine.Mixin
    PluginsOption plugins = new PluginsOption();

    @picocli.CommandLine.Mixin
    TrustOptions trustOptions = new TrustOptions();

    @Option(names = "--policies", paramLabel = "DIR|REV", description = "policy directory (default: ./policies); with --decision also a git revision of its repository")
    String policies = "policies";

    @Option(names = "--policy", paramLabel = "NAME", description = "the policy bound to the key (with --request)")
    String policyName;

    @Option(names = "--request", paramLabel = "FILE.json", description = "request body; `-` reads standard input")
    String request;

    @Option(names = "--decision", paramLabel = "ID", description = "a recorded decision (dec_…) to explain from its audit event, instead of --request")
    String decisionId;

    @Option(names = "--audit", paramLabel = "DIR", description = "with --decision: a gateway's data directory or its audit folder (default: ./data)")
    Path audit = Path.of("data");

    @Option(names = "--policy-dir", paramLabel = "DIR", description = "with --decision and a git revision: where the policies lie in their repository (default: policies)")
    Path policyDir = Path.of("policies");

    @Option(names = "--estimated-tokens", paramLabel = "N", description = "prompt tokens (default: the request's `estimated_tokens` field, else 0)")
    Long estimatedTokens;

    @Option(names = "--key-name", paramLabel = "NAME", description = "the key's name")
    String keyName = "";

    @Option(names = "--key-owner", paramLabel = "OWNER", description = "the key's owner")
    String keyOwner = "";

    @Option(names = "--label", paramLabel = "K=V", description = "a key label, repeatable: --label env=prod")
    Map<String, String> labels = new LinkedHashMap<>();

    @Option(names = "--usage", paramLabel = "COUNTER=N", description = "a counter value, repeatable: --usage tokens.policy.1d=4999500 (spend in usd)")
    Map<String, String> usage = new LinkedHashMap<>();

    @Option(names = "--at", paramLabel = "INSTANT", description = "evaluation time, ISO-8601 (default: now)")
    String at;

    @Option(names = "--class", paramLabel = "CLASS", description = "data class of the prompt: public, internal, confidential, restricted")
    String dataClass = "public";

    @Override
    public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        if (decisionId != null) return recorded(out, err);
        if (policyName == null || request == null) {
            err.println("error: give --policy and --request, or --decision with --audit");
            return 2;
        }
        PolicyCompiler.Result compiled = PolicyCompiler.compileDirectory(Path.of(policies), plugins.library(), trustOptions.trust());
        if (!compiled.ok()) {
            compiled.diagnostics().sorted().stream().filter(keyguard.lang.diag.Diagnostic::isError)
                    .forEach(d -> err.println(keyguard.lang.diag.DiagnosticRenderer.render(d)));
            err.println("error: the policies do not compile");
            err.flush();
            return 1;
        }
        Policy policy = compiled.set().policy(policyName);
        if (policy == null) {
            err.println("error: no policy `" + policyName + "` in " + policies + "; policies are " + compiled.set().policies().keySet());
            return 2;
        }
        JsonNode body;
        try {
            String text = request.equals("-") ? new String(System.in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8) : Files.readString(Path.of(request));
            body = JSON.readTree(text);
        } catch (JacksonException e) {
            err.println("error: `" + request + "` is not valid JSON: " + e.getOriginalMessage());
            return 2;
        }
        if (body == null || !body.isObject() || !body.path("model").isTextual()) {
            err.println("error: the request must be a JSON object with a string `model`");
            return 2;
        }
        DataClass cls = DataClass.parse(dataClass);
        if (cls == null) {
            err.println("error: `--class` takes public, internal, confidential or restricted");
            return 2;
        }
        Instant when;
        try {
            when = at == null ? Instant.now() : OffsetDateTime.parse(at).toInstant();
        } catch (DateTimeParseException e) {
            err.println("error: `--at " + at + "` is not an ISO-8601 instant such as 2026-06-06T10:00Z");
            return 2;
        }
        Map<CounterRef, Long> counters = new LinkedHashMap<>();
        for (Map.Entry<String, String> e : usage.entrySet()) {
            CounterRef ref = CounterRef.parse(e.getKey());
            if (ref == null) {
                err.println("error: `" + e.getKey() + "` is not a counter (e.g. tokens.policy.1d, requests.key.1m, concurrent.key, spend.policy.day)");
                return 2;
            }
            try {
                counters.put(ref, ref.metric() == keyguard.policy.Metric.SPEND
                        ? keyguard.policy.Money.micros(new java.math.BigDecimal(e.getValue()))
                        : Long.parseLong(e.getValue().replace("_", "")));
            } catch (NumberFormatException | ArithmeticException ex) {
                err.println("error: `" + e.getValue() + "` is not a valid value for " + e.getKey());
                return 2;
            }
        }
        Map<String, String> metadata = new LinkedHashMap<>();
        body.path("metadata").properties().forEach(e -> metadata.put(e.getKey(), e.getValue().asText()));
        long maxTokens = body.path("max_completion_tokens").asLong(body.path("max_tokens").asLong(-1));
        long prompt = estimatedTokens != null ? estimatedTokens : body.path("estimated_tokens").asLong(0);

        if (maxTokens < 0) maxTokens = policy.defaultMaxTokens(); // as the policy's tests do
        DecisionInput in = new DecisionInput().model(body.get("model").asText()).maxTokens(maxTokens).estimatedTokens(prompt)
                .stream(body.path("stream").asBoolean(false)).metadata(metadata).classification(cls)
                .keyName(keyName).keyOwner(keyOwner).labels(labels).at(when)
                .usage(ref -> counters.getOrDefault(ref, 0L));
        PolicyEvaluator evaluator = Backend.COMPILED.evaluators(compiled.set()).get(policyName);
        Decision decision = evaluator.decide(in);
        out.print(Explainer.explain(compiled.set(), policy, in, decision).render());
        out.flush();
        return 0;
    }

    /**
     * A recorded decision, explained from its audit event (schema 2): the same input and
     * counters, under the policies given (by default the directory as it is now; a git
     * revision to see it under the revision that decided, or a candidate).
     */
    private Integer recorded(PrintWriter out, PrintWriter err) {
        Path dir = Files.isDirectory(AuditCommand.auditDir(audit)) ? AuditCommand.auditDir(audit) : audit;
        if (!Files.isDirectory(dir)) {
            err.println("error: no audit log in " + audit);
            return 2;
        }
        keyguard.replay.RecordedDecision r = null;
        boolean found = false;
        String needle = "\"decision_id\":\"" + decisionId + "\"";
        try (net.openhft.chronicle.queue.ChronicleQueue q = keyguard.audit.AuditLog.openForReading(dir)) {
            java.util.List<String> hits = new java.util.ArrayList<>();
            keyguard.audit.AuditLog.read(q, null, null, line -> {
                if (hits.isEmpty() && line.contains(needle) && line.contains("\"type\":\"decision\"")) hits.add(line);
            });
            if (!hits.isEmpty()) {
                found = true;
                r = keyguard.replay.RecordedDecision.parse(JSON.readTree(hits.get(0)));
            }
        } catch (JacksonException e) {
            err.println("error: the event of " + decisionId + " is not valid JSON");
            return 2;
        }
        if (!found) {
            err.println("error: no decision `" + keyguard.audit.UntrustedText.quote(decisionId, 64) + "` in " + dir);
            return 2;
        }
        if (r == null) {
            err.println("error: decision " + decisionId + " was refused before its policy decided, or recorded before schema 2: it has no input to explain");
            return 2;
        }
        PolicyCompiler.Result compiled;
        try {
            compiled = keyguard.revision.Candidate.compile(policies, policyDir, plugins.library(), trustOptions.trust());
        } catch (IllegalArgumentException | java.io.UncheckedIOException e) {
            err.println("error: " + e.getMessage());
            return 2;
        }
        if (!compiled.ok()) {
            err.print(compiled.diagnostics().render());
            err.println("error: the policies do not compile");
            return 1;
        }
        Policy policy = compiled.set().policy(r.policy());
        if (policy == null) {
            err.println("error: revision " + compiled.set().revision() + " has no policy `" + r.policy() + "` (the key's policy)");
            return 2;
        }
        out.print(r.explain(compiled.set(), Backend.COMPILED.evaluators(compiled.set()).get(r.policy())));
        out.flush();
        return 0;
    }

}
