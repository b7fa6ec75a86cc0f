package keyguard.compiler.check;

import java.math.BigDecimal;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import keyguard.lang.diag.Code;
import keyguard.lang.diag.Diagnostic;
import keyguard.lang.diag.Diagnostics;
import keyguard.lang.syntax.Expr;
import keyguard.lang.syntax.Item;
import keyguard.lang.syntax.MapEntry;
import keyguard.lang.syntax.TestClause;
import keyguard.policy.CounterRef;
import keyguard.policy.DataClass;
import keyguard.policy.Metric;
import keyguard.policy.ModelInfo;
import keyguard.policy.Money;
import keyguard.policy.Outcome;
import keyguard.policy.Policy;
import keyguard.policy.PolicyTestCase;

/** Checks {@code tests NAME { test "…" { … } }} blocks into {@link PolicyTestCase}s. */
final class TestChecker {
    /** When a test says no {@code at}: Monday 2026-01-05, noon UTC. */
    static final Instant DEFAULT_AT = Instant.parse("2026-01-05T12:00:00Z");
    private static final List<String> SECTIONS = List.of("request", "key", "usage");
    private static final List<String> REQUEST_FIELDS = List.of("model", "estimated_tokens", "max_tokens", "stream", "classification",
            "unscannable", "tags", "metadata");

    private final Diagnostics diagnostics;
    private final Map<String, ModelInfo> models;
    private final Map<String, Policy> policies;
    private final Set<String> declaredPolicies;

    TestChecker(Diagnostics diagnostics, Map<String, ModelInfo> models, Map<String, Policy> policies, Set<String> declaredPolicies) {
        this.diagnostics = diagnostics;
        this.models = models;
        this.policies = policies;
        this.declaredPolicies = declaredPolicies;
    }

    List<PolicyTestCase> check(Collection<Item.Tests> suites) {
        List<PolicyTestCase> out = new ArrayList<>();
        for (Item.Tests suite : suites) {
            String policy = suite.name().text();
            if (!declaredPolicies.contains(policy)) {
                diagnostics.add(Diagnostic.error(Code.KG0105, suite.name().span(), "unknown policy `" + policy + "`")
                        .label("tests must name the policy they test")
                        .help(Suggestions.didYouMean(policy, declaredPolicies, "declare `policy " + policy + " { ... }` or fix the name")));
                continue;
            }
            for (Item.TestCase tc : suite.cases()) {
                PolicyTestCase c = testCase(policy, tc);
                if (c != null) out.add(c);
            }
        }
        return out;
    }

    private PolicyTestCase testCase(String policy, Item.TestCase tc) {
        Map<String, Object> request = new LinkedHashMap<>();
        Map<String, String> keyFields = new LinkedHashMap<>();
        Map<String, String> labels = new LinkedHashMap<>();
        Map<CounterRef, Long> usage = new LinkedHashMap<>();
        Instant at = DEFAULT_AT;
        TestClause.Expect expect = null;
        boolean ok = true;
        for (TestClause clause : tc.clauses()) {
            switch (clause) {
                case TestClause.Section s -> {
                    switch (s.section().text()) {
                        case "request" -> ok &= request(s, request);
                        case "key" -> ok &= key(s, keyFields, labels);
                        case "usage" -> ok &= usage(s, usage);
                        default -> {
                            diagnostics.add(Diagnostic.error(Code.KG0501, s.section().span(), "unknown test clause `" + s.section().text() + "`")
                                    .label("not a clause")
                                    .help(Suggestions.didYouMean(s.section().text(), SECTIONS,
                                            "a test has `request {...}`, `key {...}`, `usage {...}`, `at \"...\"` and `expect ...`")));
                            ok = false;
                        }
                    }
                }
                case TestClause.At a -> {
                    try {
                        at = OffsetDateTime.parse(a.instant().value()).toInstant();
                    } catch (DateTimeParseException e) {
                        diagnostics.add(Diagnostic.error(Code.KG0503, a.instant().span(), "`" + a.instant().value() + "` is not an instant")
                                .label("expected ISO-8601 with a zone")
                                .help("e.g. `at \"2026-06-06T10:00Z\"` or `at \"2026-06-06T12:00+02:00\"`"));
                        ok = false;
                    }
                }
                case TestClause.Expect e -> {
                    if (expect != null) {
                        diagnostics.add(Diagnostic.error(Code.KG0505, e.span(), "a test has exactly one `expect`")
                                .label("second `expect`")
                                .help("split it into two tests"));
                        ok = false;
                    }
                    expect = e;
                }
            }
        }
        if (!ok) return null;
        if (!request.containsKey("model")) {
            diagnostics.add(Diagnostic.error(Code.KG0505, tc.name().span(), "test has no `request { model: ... }`")
                    .label("which model does the request call?")
                    .help("add `request { model: \"...\" }`"));
            return null;
        }
        if (expect == null) {
            diagnostics.add(Diagnostic.error(Code.KG0505, tc.name().span(), "test has no `expect`")
                    .label("what should happen?")
                    .help("add `expect allow`, `expect deny by \"<rule>\"` or `expect throttle by \"<limit>\"`"));
            return null;
        }
        Outcome outcome = switch (expect.outcome().text()) {
            case "allow" -> Outcome.ALLOW;
            case "deny" -> Outcome.DENY;
            case "throttle" -> Outcome.THROTTLE;
            default -> null;
        };
        if (outcome == null) {
            diagnostics.add(Diagnostic.error(Code.KG0504, expect.outcome().span(), "unknown outcome `" + expect.outcome().text() + "`")
                    .label("expected `allow`, `deny` or `throttle`")
                    .help(Suggestions.didYouMean(expect.outcome().text(), List.of("allow", "deny", "throttle"), "")));
            return null;
        }
        Map<String, String> expectTags = new LinkedHashMap<>();
        if (expect.tags() != null) {
            for (MapEntry e : expect.tags()) {
                String v = constantString(e.value());
                if (v == null) {
                    diagnostics.add(Diagnostic.error(Code.KG0504, e.value().span(), "expected tag values are strings").label("not a string"));
                    return null;
                }
                expectTags.put(e.key(), v);
            }
        }
        if (!ok) return null;
        return new PolicyTestCase(policy, tc.name().value(), policy, Map.copyOf(request), Map.copyOf(keyFields), Map.copyOf(labels),
                Map.copyOf(usage), at, outcome, expect.rule() == null ? null : expect.rule().value(), Map.copyOf(expectTags), tc.span());
    }

    private boolean request(TestClause.Section s, Map<String, Object> request) {
        for (MapEntry e : s.entries()) {
            String key = e.key();
            String field = key.contains(".") ? key.substring(0, key.indexOf('.')) : key;
            Object value;
            switch (field) {
                case "model" -> {
                    value = constantString(e.value());
                    if (value != null && !models.containsKey(value)) {
                        // A test may send an unknown model on purpose (to pin `model.unknown`); warn only on near misses.
                        String near = Suggestions.closest((String) value, models.keySet());
                        if (near != null) {
                            diagnostics.add(Diagnostic.warning(Code.KG0502, e.value().span(), "model `" + value + "` does not exist")
                                    .label("the decision will be `model.unknown`")
                                    .help("did you mean `" + near + "`?"));
                        }
                    }
                }
                case "estimated_tokens", "max_tokens" -> value = e.value() instanceof Expr.Int i && i.value() >= 0 ? i.value() : null;
                case "stream", "unscannable" -> value = e.value() instanceof Expr.Bool b ? b.value() : null;
                case "classification" -> value = e.value() instanceof Expr.Path p && p.segments().size() == 1
                        ? DataClass.parse(p.dotted()) : null;
                case "tags", "metadata" -> {
                    String v = constantString(e.value());
                    if (!key.contains(".") || v == null) {
                        return invalid(e, "write `" + field + ".<name>: \"value\"`");
                    }
                    @SuppressWarnings("unchecked")
                    Map<String, String> map = (Map<String, String>) request.computeIfAbsent(field, k -> new LinkedHashMap<String, String>());
                    map.put(key.substring(field.length() + 1), v);
                    continue;
                }
                default -> {
                    diagnostics.add(Diagnostic.error(Code.KG0502, e.keySpan(), "a test request has no field `" + key + "`")
                            .label("unknown field")
                            .help(Suggestions.didYouMean(key, REQUEST_FIELDS, "fields are " + Suggestions.list(REQUEST_FIELDS))));
                    return false;
                }
            }
            if (value == null) {
                return invalid(e, switch (field) {
                    case "model" -> "a model name in quotes";
                    case "stream", "unscannable" -> "`true` or `false`";
                    case "classification" -> "a data class: `public`, `internal`, `confidential` or `restricted`";
                    default -> "a whole number, zero or more";
                });
            }
            request.put(field, value);
        }
        return true;
    }

    private boolean key(TestClause.Section s, Map<String, String> fields, Map<String, String> labels) {
        for (MapEntry e : s.entries()) {
            String v = constantString(e.value());
            if (v == null) return invalid(e, "key fields and labels are strings");
            switch (e.key()) {
                case "id", "name", "owner" -> fields.put(e.key(), v);
                default -> labels.put(e.key().startsWith("labels.") ? e.key().substring(7) : e.key(), v);
            }
        }
        return true;
    }

    private boolean usage(TestClause.Section s, Map<CounterRef, Long> usage) {
        for (MapEntry e : s.entries()) {
            CounterRef ref = CounterRef.parse(e.key());
            if (ref == null) {
                diagnostics.add(Diagnostic.error(Code.KG0502, e.keySpan(), "`" + e.key() + "` is not a counter")
                        .label("expected <metric>.<scope>.<window>")
                        .help("e.g. `tokens.policy.1d`, `requests.key.1m`, `concurrent.key`, `spend.policy.day`"));
                return false;
            }
            long value;
            if (ref.metric() == Metric.SPEND && (e.value() instanceof Expr.Dec || e.value() instanceof Expr.Int)) {
                BigDecimal usd = e.value() instanceof Expr.Dec d ? d.value() : BigDecimal.valueOf(((Expr.Int) e.value()).value());
                try {
                    value = Money.micros(usd);
                } catch (ArithmeticException ex) {
                    return invalid(e, "spend in usd with at most six decimals");
                }
            } else if (e.value() instanceof Expr.Int i) {
                value = i.value();
            } else {
                return invalid(e, ref.metric() == Metric.SPEND ? "spend in usd, e.g. `49.50`" : "a whole number");
            }
            usage.put(ref, value);
        }
        return true;
    }

    private boolean invalid(MapEntry e, String expected) {
        diagnostics.add(Diagnostic.error(Code.KG0502, e.value().span(), "invalid value for `" + e.key() + "`")
                .label("expected " + expected));
        return false;
    }

    private static String constantString(Expr e) {
        return e instanceof Expr.Str s ? s.lit().value() : null;
    }
}
