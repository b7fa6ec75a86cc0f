package keyguard.compiler.interp;

import java.util.ArrayList;
import java.util.List;
import keyguard.policy.BudgetSpec;
import keyguard.policy.DataAction;
import keyguard.policy.DataClass;
import keyguard.policy.Decision;
import keyguard.policy.DecisionInput;
import keyguard.policy.Decisions;
import keyguard.policy.ForbidRule;
import keyguard.policy.LimitSpec;
import keyguard.policy.Metric;
import keyguard.policy.ModelInfo;
import keyguard.policy.Policy;
import keyguard.policy.PolicyEvaluator;
import keyguard.policy.PolicySet;
import keyguard.policy.UsageView;
import keyguard.policy.ir.IrInterpreter;

/**
 * The reference backend: the decision procedure of DESIGN.md written as plainly as it
 * reads, over the typed IR. It is the specification the compiled backend is tested
 * against; it is not used on the gateway's hot path.
 *
 * <ol>
 *   <li>an unknown model is denied;</li>
 *   <li>every {@code forbid} rule is evaluated (order never matters) and any that fires denies;</li>
 *   <li>a model not in {@code models allow} is denied;</li>
 *   <li>a prompt above min(policy clearance, model ceiling) is denied, redacted or rerouted
 *       (content the gateway cannot scan counts as {@code restricted} unless the policy says
 *       {@code on unscannable allow}, and cannot be redacted; a model declared
 *       {@code unscannable deny} never receives it);</li>
 *   <li>rate limits, then concurrency limits, then hard budgets throttle, each sorted by id;</li>
 *   <li>otherwise allow, with soft-budget warnings.</li>
 * </ol>
 */
public final class InterpretedPolicy implements PolicyEvaluator {
    private final PolicySet set;
    private final Policy policy;
    private final Decision allow;

    public InterpretedPolicy(PolicySet set, Policy policy) {
        this.set = set;
        this.policy = policy;
        this.allow = Decisions.allow(policy);
    }

    @Override
    public Policy policy() { return policy; }

    @Override
    public Decision decide(DecisionInput in) {
        Policy p = policy;
        ModelInfo model = set.model(in.model());
        if (model == null) return Decisions.unknownModel(p, in.model());
        Decision tags = Decisions.requestTags(p, in);
        if (tags != null) return tags;

        List<ForbidRule> fired = new ArrayList<>();
        for (ForbidRule rule : p.forbids()) {
            if (fires(rule, in, model)) fired.add(rule);
        }
        if (!fired.isEmpty()) return Decisions.forbidden(p, fired, in, model);

        if (!p.allowedModels().contains(model.name())) return Decisions.modelNotAllowed(p, model);

        ModelInfo routed = model;
        DataAction action = DataAction.NONE;
        // Unscannable content counts as the highest class unless the policy allows it.
        boolean unscanned = in.unscannable() && !p.allowUnscannable();
        DataClass found = unscanned ? DataClass.RESTRICTED : in.classification();
        DataClass ceiling = DataClass.min(p.data().max(), model.maxClass());
        if (found.compareTo(ceiling) > 0) {
            switch (p.data().action()) {
                case REDACT -> {
                    if (unscanned) return Decisions.dataDenied(p, model, in, found.ordinal()); // an image cannot be redacted
                    action = DataAction.REDACT;
                }
                case REROUTE -> {
                    ModelInfo target = p.data().reroute();
                    if (found.compareTo(target.maxClass()) > 0) return Decisions.dataDenied(p, model, in, found.ordinal());
                    routed = target;
                    action = DataAction.REROUTE;
                }
                default -> {
                    return Decisions.dataDenied(p, model, in, found.ordinal());
                }
            }
        }

        if (in.unscannable() && !routed.acceptsUnscannable()) return Decisions.unscannableRefused(p, routed);

        UsageView usage = in.usage();
        for (LimitSpec limit : p.rateLimits()) {
            long need = limit.counter().metric() == Metric.REQUESTS ? 1 : in.tokensNeeded();
            if (limit.amount() - usage.usedForCap(limit.counter(), in.epochMillis()) < need) return Decisions.throttled(p, limit);
        }
        for (LimitSpec limit : p.concurrency()) {
            if (limit.amount() - usage.usedForCap(limit.counter(), in.epochMillis()) < 1) return Decisions.throttled(p, limit);
        }
        long cost = routed.costMicros(in.estimatedTokens(), in.maxTokens());
        long warnings = 0;
        List<BudgetSpec> budgets = p.budgets();
        for (int i = 0; i < budgets.size(); i++) {
            BudgetSpec budget = budgets.get(i);
            long used = usage.used(budget.counter(), in.epochMillis());
            if (budget.hard()) {
                // A hard refusal relies only on what the counter surely holds (the admission is exact).
                if (budget.amount() - usage.usedForCap(budget.counter(), in.epochMillis()) < cost) return Decisions.throttled(p, budget);
            } else if (budget.amount() - used < cost) {
                warnings |= 1L << (2 * i + 1);
            }
            if (budget.warnPercent() > 0 && budget.warnAt() - used <= cost) warnings |= 1L << (2 * i);
        }

        if (routed == model && action == DataAction.NONE && warnings == 0) return allow;
        return Decisions.allow(p, routed == model ? null : routed, action, warnings);
    }

    /** A rule fires when its {@code when} holds and its {@code unless}, if any, does not. */
    public static boolean fires(ForbidRule rule, DecisionInput in, ModelInfo model, java.time.ZoneId zone) {
        return IrInterpreter.test(rule.when(), in, model, zone)
                && (rule.unless() == null || !IrInterpreter.test(rule.unless(), in, model, zone));
    }

    private boolean fires(ForbidRule rule, DecisionInput in, ModelInfo model) {
        try {
            return fires(rule, in, model, policy.zone());
        } catch (keyguard.functions.FunctionFailure f) {
            return keyguard.compiler.emit.Rt.ruleFailed(f, in, rule, policy);
        }
    }
}
