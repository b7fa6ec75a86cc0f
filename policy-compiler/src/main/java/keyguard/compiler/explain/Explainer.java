package keyguard.compiler.explain;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import keyguard.compiler.interp.InterpretedPolicy;
import keyguard.policy.BudgetSpec;
import keyguard.policy.DataClass;
import keyguard.policy.Decision;
import keyguard.policy.DecisionInput;
import keyguard.policy.DecisionKind;
import keyguard.policy.ForbidRule;
import keyguard.policy.LimitSpec;
import keyguard.policy.Metric;
import keyguard.policy.ModelInfo;
import keyguard.policy.Money;
import keyguard.policy.Policy;
import keyguard.policy.PolicySet;
import keyguard.policy.ir.Ir;
import keyguard.policy.ir.IrInterpreter;

/**
 * Explains one decision: every check of the decision procedure in its order, each with
 * what it read and whether it passed, and which one decided. The decision itself comes
 * from the caller (the compiled backend in {@code keyguard explain}); the explanation
 * re-evaluates every check with the reference semantics, including checks after the
 * deciding one, so a reader also sees what would have happened next.
 */
public final class Explainer {
    private Explainer() {}

    /** One line of an explanation. */
    public record Check(String stage, String subject, Status status, String detail) {}

    public enum Status { PASS, FAIL, MATCHED, NOT_MATCHED, EXEMPTED, WARN, INFO }

    public record Explanation(Decision decision, List<Check> checks) {
        public String render() {
            StringBuilder sb = new StringBuilder();
            sb.append("decision: ").append(decision).append('\n');
            int stageWidth = 7;
            int subjectWidth = 10;
            for (Check c : checks) {
                stageWidth = Math.max(stageWidth, c.stage().length());
                subjectWidth = Math.min(36, Math.max(subjectWidth, c.subject().length()));
            }
            String last = "";
            for (Check c : checks) {
                String stage = c.stage().equals(last) ? "" : c.stage();
                last = c.stage();
                sb.append(String.format("  %-" + stageWidth + "s  %-" + subjectWidth + "s  %-11s %s%n", stage, c.subject(),
                        c.status().name().toLowerCase().replace('_', ' '), c.detail()));
            }
            return sb.toString();
        }
    }

    public static Explanation explain(PolicySet set, Policy p, DecisionInput in, Decision decision) {
        List<Check> out = new ArrayList<>();
        out.add(new Check("policy", p.name(), Status.INFO, (p.template() == null ? "stand-alone" : "from template `" + p.template() + "`")
                + ", revision " + set.revision() + ", zone " + zoneName(p)));
        out.add(new Check("time", Instant.ofEpochMilli(in.epochMillis()).toString(), Status.INFO,
                IrInterpreter.weekdayWord(in.weekday(p.zone())) + " " + in.date(p.zone()) + " "
                        + String.format("%02d:%02d", in.hour(p.zone()), in.minute(p.zone())) + " in " + zoneName(p)));

        ModelInfo model = set.model(in.model());
        if (model == null) {
            out.add(new Check("model", in.model(), Status.FAIL, "unknown model" + decided(decision, DecisionKind.UNKNOWN_MODEL)));
            return new Explanation(decision, out);
        }
        out.add(new Check("model", model.name(), Status.PASS, "provider " + model.provider() + ", max_class " + model.maxClass().word()
                + ", hosting " + model.hosting()));

        if (!p.requestTags().isEmpty()) {
            Decision tags = keyguard.policy.Decisions.requestTags(p, in);
            out.add(new Check("tags", in.requestTags().toString(), tags == null ? Status.PASS : Status.FAIL,
                    tags == null ? "accepted by allow tags " + p.requestTags().keySet() : tags.reason() + decided(decision, DecisionKind.REQUEST_TAGS)));
            if (tags != null) return new Explanation(decision, out);
        }

        for (ForbidRule r : p.forbids()) out.add(forbid(r, in, model, p));
        if (p.forbids().isEmpty()) out.add(new Check("forbid", "(no rules)", Status.PASS, ""));

        boolean allowed = p.allows(model);
        out.add(new Check("models", model.name(), allowed ? Status.PASS : Status.FAIL,
                (allowed ? "listed in" : "not in") + " models allow " + p.allowedModels() + (allowed ? "" : decided(decision, DecisionKind.MODEL_NOT_ALLOWED))));

        boolean unscanned = in.unscannable() && !p.allowUnscannable();
        DataClass found = DataClass.values()[in.dataClassOrdinal(p.allowUnscannable())];
        String foundWord = found.word() + (unscanned ? " (unscannable content, `on unscannable deny`)"
                : in.unscannable() ? " (unscannable content allowed by `on unscannable allow`)" : "");
        DataClass ceiling = DataClass.min(p.data().max(), model.maxClass());
        ModelInfo routed = model;
        if (found.compareTo(ceiling) <= 0) {
            out.add(new Check("data", foundWord, Status.PASS, "<= " + ceiling.word() + " (policy " + p.data().max().word() + ", model " + model.maxClass().word() + ")"));
        } else {
            String action = switch (p.data().action()) {
                case REROUTE -> found.compareTo(p.data().reroute().maxClass()) <= 0 ? "reroute to `" + p.data().reroute().name() + "`"
                        : "deny (reroute target `" + p.data().reroute().name() + "` takes at most " + p.data().reroute().maxClass().word() + ")";
                case REDACT -> unscanned ? "deny (unscannable content cannot be redacted)" : "redact";
                default -> "deny";
            };
            if (action.startsWith("reroute")) routed = p.data().reroute();
            out.add(new Check("data", foundWord, action.startsWith("deny") ? Status.FAIL : Status.WARN,
                    "> " + ceiling.word() + " (policy " + p.data().max().word() + ", model " + model.maxClass().word() + "): " + action
                            + decided(decision, DecisionKind.DATA_CLASS)));
        }

        if (in.unscannable() && !routed.acceptsUnscannable()) {
            out.add(new Check("data", "unscannable", Status.FAIL, "model `" + routed.name()
                    + "` never receives content the gateway cannot scan (`unscannable deny`)" + decided(decision, DecisionKind.DATA_CLASS)));
        }
        for (LimitSpec l : p.rateLimits()) out.add(limit("rate", l, in, decision));
        for (LimitSpec l : p.concurrency()) out.add(limit("concurrency", l, in, decision));
        long cost = routed.costMicros(in.estimatedTokens(), in.maxTokens());
        for (BudgetSpec b : p.budgets()) {
            long used = in.usage().used(b.counter(), in.epochMillis());
            boolean over = b.amount() - used < cost;
            Status s = over ? (b.hard() ? Status.FAIL : Status.WARN) : b.warnPercent() > 0 && b.warnAt() - used <= cost ? Status.WARN : Status.PASS;
            out.add(new Check("budget", b.id(), s, Money.format(used) + " usd spent + " + Money.format(cost) + " worst case "
                    + (over ? ">" : "<=") + " " + Money.format(b.amount()) + " usd (" + (b.hard() ? "hard" : "soft")
                    + (b.warnPercent() > 0 ? ", warn at " + b.warnPercent() + "%" : "") + ")"
                    + (decision.limit() == b ? "  <- decided" : "")));
        }
        if (p.rateLimits().isEmpty() && p.concurrency().isEmpty() && p.budgets().isEmpty()) {
            out.add(new Check("limits", "(none)", Status.PASS, ""));
        }
        if (decision.allowed()) {
            out.add(new Check("result", "allow", Status.PASS, "tags " + decision.tags()
                    + (decision.warnings().isEmpty() ? "" : ", warnings " + decision.warnings())));
        }
        return new Explanation(decision, out);
    }

    private static String zoneName(Policy p) {
        return p.zone() == java.time.ZoneOffset.UTC ? "UTC" : p.zone().getId();
    }

    private static String decided(Decision d, DecisionKind kind) {
        return d.kind() == kind ? "  <- decided" : "";
    }

    private static Check limit(String stage, LimitSpec l, DecisionInput in, Decision decision) {
        long used = in.usage().used(l.counter(), in.epochMillis());
        long need = l.counter().metric() == Metric.TOKENS ? in.tokensNeeded() : 1;
        boolean over = l.amount() - used < need;
        String unit = l.counter().metric() == Metric.CONCURRENT ? "in flight" : l.counter().metric().word();
        return new Check(stage, l.id(), over ? Status.FAIL : Status.PASS, used + " " + unit + " used + " + need + " needed "
                + (over ? ">" : "<=") + " " + l.amount() + (decision.limit() == l ? "  <- decided" : ""));
    }

    private static Check forbid(ForbidRule r, DecisionInput in, ModelInfo model, Policy p) {
        try {
            return evaluated(r, in, model, p);
        } catch (keyguard.functions.FunctionFailure f) {
            boolean deny = !p.allowOnFunctionError();
            return new Check("forbid", r.id(), deny ? Status.MATCHED : Status.NOT_MATCHED, f.getMessage() + "; the policy says `on error "
                    + (deny ? "deny`" : "allow`") + " (" + r.conditionSpan().location() + ")" + (deny ? "  <- denies" : ""));
        }
    }

    private static Check evaluated(ForbidRule r, DecisionInput in, ModelInfo model, Policy p) {
        boolean when = IrInterpreter.test(r.when(), in, model, p.zone());
        String where = " (" + r.conditionSpan().location() + ")";
        if (!when) {
            Ir culprit = firstFalse(r.when(), in, model, p);
            return new Check("forbid", r.id(), Status.NOT_MATCHED, "false: " + IrPrinter.print(culprit) + values(culprit, in, model, p) + where);
        }
        if (r.unless() != null && IrInterpreter.test(r.unless(), in, model, p.zone())) {
            return new Check("forbid", r.id(), Status.EXEMPTED, "when holds, unless holds: " + IrPrinter.print(r.unless())
                    + values(r.unless(), in, model, p) + where);
        }
        String because = r.unless() == null ? "" : "; unless is false: " + IrPrinter.print(firstFalse(r.unless(), in, model, p))
                + values(firstFalse(r.unless(), in, model, p), in, model, p);
        return new Check("forbid", r.id(), Status.MATCHED, "when holds: " + IrPrinter.print(r.when()) + values(r.when(), in, model, p)
                + because + where + (InterpretedPolicy.fires(r, in, model, p.zone()) ? "  <- denies" : ""));
    }

    /** The smallest sub-condition that makes a false condition false. */
    static Ir firstFalse(Ir ir, DecisionInput in, ModelInfo model, Policy p) {
        if (ir instanceof Ir.And a) {
            return IrInterpreter.test(a.left(), in, model, p.zone()) ? firstFalse(a.right(), in, model, p) : firstFalse(a.left(), in, model, p);
        }
        return ir;
    }

    private static String values(Ir ir, DecisionInput in, ModelInfo model, Policy p) {
        List<String> parts = new ArrayList<>();
        for (Ir leaf : IrPrinter.leaves(ir)) {
            Object v = IrInterpreter.eval(leaf, in, model, p.zone());
            String shown = leaf.type() == keyguard.policy.ir.Type.STRING ? "\"" + v + "\"" : IrInterpreter.display(leaf, v);
            parts.add(IrPrinter.print(leaf) + " = " + shown);
        }
        return parts.isEmpty() ? "" : " [" + String.join(", ", parts) + "]";
    }
}
