package keyguard.replay;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import keyguard.audit.AuditLog;
import keyguard.cli.Main;
import keyguard.compiler.PolicyCompiler;
import keyguard.compiler.emit.CompiledPolicies;
import keyguard.counters.Fixtures;
import keyguard.gateway.GatewayHarness;
import keyguard.policy.CounterRef;
import keyguard.policy.Decision;
import keyguard.policy.PolicyEvaluator;
import keyguard.policy.UsageView;
import net.openhft.chronicle.queue.ChronicleQueue;
import org.eclipse.jgit.api.Git;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A recorded day of traffic through a live gateway, replayed against candidates: the serving
 * revision changes nothing, a tightened limit and a removed model change exactly the
 * requests they must, and the counts equal those of deciding the recorded inputs directly.
 */
class ReplayGatewayTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final int HOURS = 24;
    static final String SERVING = """
            policy team {
              models allow ["sim-small", "up-ok"]
              limit requests 1000 per 1m by key
              limit tokens 1_000_000 per 1h by key
              budget 100 usd per day hard
            }
            """;

    @TempDir
    static Path tmp;
    static GatewayHarness h;
    static int sent;
    static int malformed;

    @BeforeAll
    static void recordADay() throws Exception {
        h = new GatewayHarness(tmp, false);
        Files.writeString(h.policies.resolve("team.kgp"), SERVING);
        Fixtures.MovableClock clock = new Fixtures.MovableClock(Instant.parse("2026-11-30T00:00:30Z"));
        h.clock = clock;
        h.start();
        String a = h.key("team", "alpha", Map.of());
        String b = h.key("team", "beta", Map.of());
        for (int hour = 0; hour < HOURS; hour++) {
            // Key alpha: a prompt above the models' class ceiling (denied), then 5 small and 3 up-ok.
            expect(403, h.post("/v1/chat/completions", a, chat("sim-small", "mail jane@example.com please")));
            for (int i = 0; i < 8; i++) expect(200, h.post("/v1/chat/completions", a, chat(i < 5 ? "sim-small" : "up-ok", "hour " + hour + " " + i)));
            // Key beta: the same eight, then one malformed request (refused before its policy decides).
            for (int i = 0; i < 8; i++) expect(200, h.post("/v1/chat/completions", b, chat(i < 5 ? "sim-small" : "up-ok", "beta " + hour + " " + i)));
            expect(400, h.post("/v1/chat/completions", b, "{\"model\":\"sim-small\",\"messages\":7}"));
            malformed++;
            clock.advance(3_600_000);
        }
        long deadline = System.nanoTime() + 20_000_000_000L;
        while (h.gateway.audit().written() < sent && System.nanoTime() < deadline) Thread.sleep(20);
        assertEquals(sent, h.gateway.audit().written());
    }

    @AfterAll
    static void stop() {
        if (h != null) h.close();
    }

    static String chat(String model, String text) {
        return "{\"model\":\"" + model + "\",\"max_tokens\":16,\"messages\":[{\"role\":\"user\",\"content\":\"" + text + "\"}]}";
    }

    static void expect(int status, java.net.http.HttpResponse<String> r) {
        sent++;
        assertEquals(status, r.statusCode(), r.body());
    }

    /** A copy of the serving policy directory with the team's policy replaced. */
    static Path candidate(String name, String policy) throws Exception {
        Path dir = tmp.resolve("candidates").resolve(name);
        Files.createDirectories(dir.resolve("platform"));
        Files.copy(h.platform.resolve("models.kgp"), dir.resolve("platform/models.kgp"));
        Files.copy(h.policies.resolve("policies.kgp"), dir.resolve("policies.kgp"));
        Files.writeString(dir.resolve("team.kgp"), policy);
        return dir;
    }

    static ReplayReport replay(Path candidate) {
        PolicyCompiler.Result r = PolicyCompiler.compileDirectory(candidate);
        assertTrue(r.ok(), r.diagnostics().render());
        ReplayReport report = new ReplayReport(r.set().revision(), 3);
        try (ChronicleQueue q = AuditLog.openForReading(h.data.resolve("audit"))) {
            return Replay.run(Replay.read(List.of(q), null, null, report), new Replayer(r.set(), CompiledPolicies.compile(r.set())), report);
        }
    }

    /** Decides each recorded input under {@code candidate} with the counters exactly as recorded, without replay's machinery. */
    static int changedWhenDecidedDirectly(Path candidate) throws Exception {
        PolicyCompiler.Result r = PolicyCompiler.compileDirectory(candidate);
        Map<String, PolicyEvaluator> evaluators = CompiledPolicies.compile(r.set());
        int changed = 0;
        for (JsonNode e : events()) {
            if (!e.has("input")) continue;
            JsonNode in = e.get("input");
            UsageView recorded = new UsageView() {
                @Override public long used(CounterRef c) { return in.path("counters").path(c.toString()).asLong(0); }
            };
            Decision d = evaluators.get(e.get("policy").asText()).decide(new keyguard.policy.DecisionInput().model(in.get("model").asText())
                    .estimatedTokens(in.get("estimated_tokens").asLong()).maxTokens(in.get("max_tokens").asLong())
                    .classification(keyguard.policy.DataClass.parse(in.get("data_class").asText())).keyId(e.get("key_id").asText())
                    .keyName(e.get("key_name").asText()).epochMillis(in.get("decided_at_ms").asLong()).usage(recorded));
            String was = e.get("decision").get("kind").asText();
            if (!d.kind().name().toLowerCase(java.util.Locale.ROOT).equals(was)) changed++;
        }
        return changed;
    }

    static List<JsonNode> events() throws Exception {
        List<JsonNode> out = new ArrayList<>();
        try (ChronicleQueue q = AuditLog.openForReading(h.data.resolve("audit"))) {
            List<String> lines = new ArrayList<>();
            AuditLog.read(q, null, null, lines::add);
            for (String l : lines) {
                JsonNode e = JSON.readTree(l);
                if (e.path("type").asText().equals("decision")) out.add(e);
            }
        }
        return out;
    }

    @Test
    void eachDecidedRequestsEventCarriesItsInputTheCountersItReadAndThePolicysAnswer() throws Exception {
        List<JsonNode> events = events();
        assertEquals(sent, events.size());
        JsonNode allowed = events.stream().filter(e -> e.path("outcome").asText().equals("ok")).findFirst().orElseThrow();
        assertEquals(2, allowed.get("schema").asInt());
        JsonNode in = allowed.get("input");
        assertEquals(16, in.get("max_tokens").asLong());
        assertTrue(in.get("estimated_tokens").asLong() > 0);
        assertEquals(java.util.Set.of("requests.key.1m", "tokens.key.1h", "spend.key.day", "concurrent.key"),
                fieldNames(in.get("counters")), "every counter of the key's policy, read or not");
        assertEquals("allow", allowed.get("decision").get("outcome").asText());
        JsonNode denied = events.stream().filter(e -> e.path("status").asInt() == 403).findFirst().orElseThrow();
        assertEquals("data_class", denied.get("decision").get("kind").asText());
        assertTrue(!denied.get("input").get("data_class").asText().equals("public"), denied.toString());
        assertTrue(!denied.toString().contains("jane@example.com"), "no prompt text in the event");
        long withoutInput = events.stream().filter(e -> !e.has("input")).count();
        assertEquals(malformed, withoutInput, "only requests refused before their policy decided lack an input");
    }

    @Test
    void replayingTheServingRevisionChangesNothing() throws Exception {
        ReplayReport report = replay(h.policies);
        assertEquals(sent - malformed, report.replayed());
        assertEquals(0, report.changed(), report.text());
        assertEquals("replayed " + (sent - malformed) + " decisions: 0 changed", report.lastLine());
    }

    @Test
    void aTighterRequestLimitThrottlesTheRequestsOverItInEachMinute() throws Exception {
        Path tighter = candidate("tighter", SERVING.replace("limit requests 1000 per 1m", "limit requests 5 per 1m"));
        ReplayReport report = replay(tighter);
        // Each hour, in one minute: alpha's 9th..6th request (4: the denied one counts too), beta's 8th..6th (3).
        int expected = HOURS * (4 + 3);
        assertEquals(expected, report.changed(), report.text());
        assertEquals(expected, changedWhenDecidedDirectly(tighter));
        assertEquals((long) expected, report.variables().get("throttled").longValue());
        assertEquals("replayed " + (sent - malformed) + " decisions: " + expected + " changed (" + expected + " allow → throttle)",
                report.lastLine());
        assertTrue(report.variables().get("spend_refused_usd") > 0, report.text());
    }

    @Test
    void aRemovedModelDeniesEveryRequestForIt() throws Exception {
        Path narrower = candidate("narrower", SERVING.replace("\"sim-small\", \"up-ok\"", "\"sim-small\""));
        ReplayReport report = replay(narrower);
        int expected = HOURS * 2 * 3;
        assertEquals(expected, report.changed(), report.text());
        assertEquals(expected, changedWhenDecidedDirectly(narrower));
        assertTrue(report.text().contains(expected + "  allow → deny (models.allow)"), report.text());
    }

    @Test
    void theCommandReadsARevisionFromGitAndFailsTheBuildWhenAskedTo() throws Exception {
        Path repo = tmp.resolve("repo");
        Path dir = repo.resolve("policies");
        Files.createDirectories(dir.resolve("platform"));
        Files.copy(h.platform.resolve("models.kgp"), dir.resolve("platform/models.kgp"));
        Files.copy(h.policies.resolve("policies.kgp"), dir.resolve("policies.kgp"));
        Files.writeString(dir.resolve("team.kgp"), SERVING);
        try (Git git = Git.init().setDirectory(repo.toFile()).setInitialBranch("main").call()) {
            git.add().addFilepattern(".").call();
            git.commit().setMessage("serving").setAuthor("t", "t@example.com").setCommitter("t", "t@example.com").setSign(false).call();
            git.checkout().setCreateBranch(true).setName("tighten").call();
            Files.writeString(dir.resolve("team.kgp"), SERVING.replace("limit requests 1000 per 1m", "limit requests 5 per 1m"));
            git.commit().setAll(true).setMessage("tighten").setAuthor("t", "t@example.com").setCommitter("t", "t@example.com").setSign(false).call();
            git.checkout().setName("main").call();
        }
        assertTrue(Files.readString(dir.resolve("team.kgp")).contains("1000 per 1m"), "the working tree stays on main");

        String[] run = run("replay", "--audit", h.data.toString(), "--policies", "tighten", "--policy-dir", dir.toString(),
                "--format", "markdown", "--fail-on", "throttled > 100 or denied > 0");
        assertEquals("1", run[0], run[2]);
        assertTrue(run[1].startsWith("### Policy replay: `"), run[1]);
        assertTrue(run[1].contains("| " + HOURS * 7 + " | allow → throttle (limit.requests.key.1m) |"), run[1]);
        assertTrue(run[1].strip().endsWith("decisions: " + HOURS * 7 + " changed (" + HOURS * 7 + " allow → throttle)"), run[1]);

        String[] same = run("replay", "--audit", h.data.toString(), "--policies", "main", "--policy-dir", dir.toString(), "--fail-on", "changed > 0");
        assertEquals("0", same[0], same[2]);
        assertTrue(same[1].strip().endsWith("0 changed"), same[1]);

        String[] json = run("replay", "--audit", h.data.resolve("audit").toString(), "--policies", "tighten", "--policy-dir", dir.toString(), "--format", "json");
        assertEquals("0", json[0], json[2]);
        JsonNode report = JSON.readTree(json[1]);
        assertEquals(HOURS * 7, report.get("changed").asInt());
        assertEquals(malformed, report.get("skipped").asInt());
        assertTrue(report.get("spend_refused_usd").isNumber() && report.get("spend_refused_usd").decimalValue().signum() > 0, json[1]);
        assertTrue(json[1].matches("(?s).*\"spend_refused_usd\" : 0\\.\\d{6}\\b.*"), "dollars with six places, never 8e-06: " + json[1]);
    }

    @Test
    void explainShowsARecordedDecisionFromItsEventUnderAnyRevision() throws Exception {
        List<JsonNode> events = events();
        JsonNode denied = events.stream().filter(e -> e.path("status").asInt() == 403).findFirst().orElseThrow();
        String[] same = run("explain", "--decision", denied.get("decision_id").asText(), "--audit", h.data.toString(), "--policies", h.policies.toString());
        assertEquals("0", same[0], same[2]);
        assertTrue(same[1].startsWith("recorded: " + denied.get("decision_id").asText()), same[1]);
        assertTrue(same[1].contains("decision: deny"), same[1]);
        assertTrue(!same[1].contains("not the one that decided"), "the serving revision: " + same[1]);

        // The ninth request of an hour for alpha (the counter read 8): allowed then, throttled under the tighter limit.
        JsonNode ninth = events.stream().filter(e -> e.has("input") && e.get("key_name").asText().equals("alpha")
                && e.get("input").get("counters").get("requests.key.1m").asLong() == 8).findFirst().orElseThrow();
        Path tighter = candidate("explained", SERVING.replace("limit requests 1000 per 1m", "limit requests 5 per 1m"));
        String[] under = run("explain", "--decision", ninth.get("decision_id").asText(), "--audit", h.data.toString(), "--policies", tighter.toString());
        assertEquals("0", under[0], under[2]);
        assertTrue(under[1].contains("not the one that decided") && under[1].contains("decision: throttle"), under[1]);

        String[] none = run("explain", "--decision", "dec_nope", "--audit", h.data.toString());
        assertEquals("2", none[0]);
        assertTrue(none[2].contains("no decision `dec_nope`"), none[2]);
        JsonNode malformedEvent = events.stream().filter(e -> !e.has("input")).findFirst().orElseThrow();
        String[] noInput = run("explain", "--decision", malformedEvent.get("decision_id").asText(), "--audit", h.data.toString());
        assertEquals("2", noInput[0]);
        assertTrue(noInput[2].contains("no input to explain"), noInput[2]);
    }

    @Test
    void badArgumentsAreErrorsNotReports() throws Exception {
        String[] noLog = run("replay", "--audit", tmp.resolve("nowhere").toString(), "--policies", h.policies.toString());
        assertEquals("2", noLog[0]);
        assertTrue(noLog[2].contains("no audit log in"), noLog[2]);
        String[] badExpr = run("replay", "--audit", h.data.toString(), "--policies", h.policies.toString(), "--fail-on", "changes > 0");
        assertEquals("2", badExpr[0]);
        assertTrue(badExpr[2].contains("no number called `changes`"), badExpr[2]);
        String[] noRevision = run("replay", "--audit", h.data.toString(), "--policies", "no-such-branch", "--policy-dir", h.policies.toString());
        assertEquals("2", noRevision[0]);
        assertTrue(noRevision[2].contains("no-such-branch"), noRevision[2]);
        Path broken = candidate("broken", "policy team { models allow [\"nope\"] }");
        String[] errors = run("replay", "--audit", h.data.toString(), "--policies", broken.toString());
        assertEquals("2", errors[0]);
        assertTrue(errors[2].contains("nothing replayed"), errors[2]);
    }

    static java.util.Set<String> fieldNames(JsonNode o) {
        java.util.Set<String> s = new java.util.TreeSet<>();
        o.fieldNames().forEachRemaining(s::add);
        return s;
    }

    /** Exit code, standard output, standard error. */
    static String[] run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Main.run(new PrintWriter(out), new PrintWriter(err), args);
        return new String[] {Integer.toString(code), out.toString(), err.toString()};
    }
}
