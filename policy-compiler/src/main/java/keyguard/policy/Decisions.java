package keyguard.policy;

import java.util.ArrayList;
import java.util.List;

/**
 * How decisions are worded. Both backends build their results here, so that equal
 * verdicts are equal values; what the verdict is stays with each backend.
 */
public final class Decisions {
    private Decisions() {}

    public static final String RULE_UNKNOWN_MODEL = "model.unknown";
    public static final String RULE_MODELS_ALLOW = "models.allow";
    public static final String RULE_DATA_MAX = "data.max";
    public static final String RULE_DATA_UNSCANNABLE = "data.unscannable";

    public static Decision allow(Policy p) {
        return new Decision(DecisionKind.ALLOWED, p.name(), List.of(), "", p.tags(), null, DataAction.NONE, null, List.of());
    }

    /**
     * An allow with side effects. Bit {@code 2i} of {@code warnings} means budget {@code i}
     * reached its {@code warn at} threshold, bit {@code 2i+1} that soft budget {@code i}
     * is exceeded.
     */
    public static Decision allow(Policy p, ModelInfo rerouted, DataAction action, long warnings) {
        List<String> texts = new ArrayList<>();
        List<BudgetSpec> budgets = p.budgets();
        for (int i = 0; i < budgets.size(); i++) {
            BudgetSpec b = budgets.get(i);
            if ((warnings & (1L << (2 * i))) != 0) texts.add(b.id() + " reached " + b.warnPercent() + "%");
            if ((warnings & (1L << (2 * i + 1))) != 0) texts.add(b.id() + " soft cap exceeded");
        }
        return new Decision(DecisionKind.ALLOWED, p.name(), List.of(), "", p.tags(),
                rerouted == null ? null : rerouted.name(), action, null, List.copyOf(texts));
    }

    /** {@link #allow(Policy, ModelInfo, DataAction, long)} where {@code routed == model} means not rerouted. */
    public static Decision allow(Policy p, ModelInfo model, ModelInfo routed, DataAction action, long warnings) {
        return allow(p, routed == model ? null : routed, action, warnings);
    }

    public static final String RULE_TAGS_REQUIRED = "tags.required";
    public static final String RULE_TAGS_ALLOW = "tags.allow";

    /**
     * The request's tags against the policy's {@code allow tags}: null when they pass (and
     * always for a policy that declares none: its conditions may read {@code request.tags},
     * but nothing is recorded of them); else a deny by {@code tags.allow} (a tag the policy
     * does not declare, or a value it does not list) or, when those pass, by
     * {@code tags.required} (a required tag missing). Both backends call this first, after
     * the model is known.
     */
    public static Decision requestTags(Policy p, DecisionInput in) {
        java.util.Map<String, TagRule> rules = p.requestTags();
        if (rules.isEmpty()) return null;
        java.util.Map<String, String> tags = in.requestTags();
        for (java.util.Map.Entry<String, String> t : tags.entrySet()) {
            TagRule rule = rules.get(t.getKey());
            if (rule == null) {
                return tagsRefused(p, RULE_TAGS_ALLOW, "request tag `" + t.getKey() + "` is not accepted by policy `" + p.name() + "` (it accepts "
                        + String.join(", ", rules.keySet()) + ")");
            }
            if (!rule.accepts(t.getValue())) {
                return tagsRefused(p, RULE_TAGS_ALLOW, "request tag `" + t.getKey() + "` takes " + rule.values() + ", not `" + t.getValue() + "`");
            }
        }
        for (TagRule rule : rules.values()) {
            if (rule.required() && !tags.containsKey(rule.name())) {
                return tagsRefused(p, RULE_TAGS_REQUIRED, "request tag `" + rule.name() + "` is required by policy `" + p.name() + "`"
                        + (rule.values().isEmpty() ? "" : " (one of " + rule.values() + ")")
                        + ": send `x-keyguard-tags: " + rule.name() + "=<value>`");
            }
        }
        return null;
    }

    private static Decision tagsRefused(Policy p, String rule, String reason) {
        return new Decision(DecisionKind.REQUEST_TAGS, p.name(), List.of(rule), reason, p.tags(), null, DataAction.NONE, null, List.of());
    }

    public static Decision unknownModel(Policy p, String model) {
        return new Decision(DecisionKind.UNKNOWN_MODEL, p.name(), List.of(RULE_UNKNOWN_MODEL),
                "model `" + model + "` does not exist", p.tags(), null, DataAction.NONE, null, List.of());
    }

    public static Decision forbidden(Policy p, List<ForbidRule> fired, DecisionInput in, ModelInfo model) {
        List<String> ids = new ArrayList<>(fired.size());
        StringBuilder reason = new StringBuilder();
        for (ForbidRule r : fired) {
            ids.add(r.id());
            if (!reason.isEmpty()) reason.append("; ");
            FunctionError failed = in.functionError(r.id());
            if (failed != null) {
                reason.append("rule `").append(r.id()).append("` could not be evaluated: ").append(failed.message())
                        .append(" (the policy says `on error deny`)");
            } else {
                reason.append(r.reason().isEmpty() ? "forbidden by rule `" + r.id() + "`" : r.reason().render(in, model, p.zone()));
            }
        }
        return new Decision(DecisionKind.FORBIDDEN, p.name(), List.copyOf(ids), reason.toString(), p.tags(), null,
                DataAction.NONE, null, List.of());
    }

    public static Decision modelNotAllowed(Policy p, ModelInfo model) {
        return new Decision(DecisionKind.MODEL_NOT_ALLOWED, p.name(), List.of(RULE_MODELS_ALLOW),
                "model `" + model.name() + "` is not allowed by policy `" + p.name() + "`", p.tags(), null,
                DataAction.NONE, null, List.of());
    }

    /**
     * Denied for data class: the ceiling is min(policy clearance, model ceiling), and
     * {@code foundOrdinal} the class the check compared ({@link DecisionInput#dataClassOrdinal}).
     * The rule is {@code data.max} when what the scan found is refused by itself, else
     * {@code data.unscannable}: the content the gateway could not read was the reason.
     */
    public static Decision dataDenied(Policy p, ModelInfo model, DecisionInput in, int foundOrdinal) {
        DataClass ceiling = DataClass.min(p.data().max(), model.maxClass());
        DataClass scanned = in.classification();
        boolean scannedAloneDenied = scanned.compareTo(ceiling) > 0 && switch (p.data().action()) {
            case DENY -> true;
            case REROUTE -> scanned.compareTo(p.data().reroute().maxClass()) > 0;
            default -> false;
        };
        if (scannedAloneDenied || !in.unscannable() || p.allowUnscannable()) {
            return dataDenied(p, model, DataClass.values()[foundOrdinal], ceiling);
        }
        return new Decision(DecisionKind.DATA_CLASS, p.name(), List.of(RULE_DATA_UNSCANNABLE),
                "the request holds content the gateway cannot scan, which policy `" + p.name() + "` treats as `restricted`;"
                        + " model `" + model.name() + "` takes at most `" + ceiling.word() + "`"
                        + (p.data().action() == DataAction.REDACT ? " (unscannable content cannot be redacted)" : ""),
                p.tags(), null, DataAction.DENY, null, List.of());
    }

    /** Denied because the (routed) model never takes content the gateway cannot scan ({@code unscannable deny}). */
    public static Decision unscannableRefused(Policy p, ModelInfo model) {
        return new Decision(DecisionKind.DATA_CLASS, p.name(), List.of(RULE_DATA_UNSCANNABLE),
                "model `" + model.name() + "` never receives content the gateway cannot scan (the operator's `unscannable deny`)",
                p.tags(), null, DataAction.DENY, null, List.of());
    }

    public static Decision dataDenied(Policy p, ModelInfo model, DataClass found, DataClass ceiling) {
        return new Decision(DecisionKind.DATA_CLASS, p.name(), List.of(RULE_DATA_MAX),
                "prompt data class `" + found.word() + "` exceeds `" + ceiling.word() + "` allowed for model `"
                        + model.name() + "` under policy `" + p.name() + "`",
                p.tags(), null, DataAction.DENY, null, List.of());
    }

    public static Decision throttled(Policy p, Limit limit) {
        DecisionKind kind;
        String reason;
        switch (limit) {
            case LimitSpec l when l.counter().metric() == Metric.CONCURRENT -> {
                kind = DecisionKind.CONCURRENCY;
                reason = "at most " + l.amount() + " requests in flight by " + l.counter().scope().word();
            }
            case LimitSpec l -> {
                kind = DecisionKind.RATE_LIMIT;
                reason = "at most " + l.amount() + " " + l.counter().metric().word() + " per " + l.counter().window()
                        + " by " + l.counter().scope().word();
            }
            case BudgetSpec b when b.origin().equals(BudgetSpec.CARVE_OUT_ORIGIN) -> {
                kind = DecisionKind.BUDGET;
                reason = "the carve-out of " + Money.format(b.amount()) + " usd of this sub-key is exhausted";
            }
            case BudgetSpec b -> {
                kind = DecisionKind.BUDGET;
                reason = "hard budget of " + Money.format(b.amount()) + " usd per " + b.counter().window() + " by "
                        + b.counter().scope().word() + " is exhausted";
            }
        }
        return new Decision(kind, p.name(), List.of(limit.id()), reason, p.tags(), null, DataAction.NONE, limit, List.of());
    }
}
