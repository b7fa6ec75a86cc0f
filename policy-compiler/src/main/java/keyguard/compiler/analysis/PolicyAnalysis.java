package keyguard.compiler.analysis;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import keyguard.compiler.explain.IrPrinter;
import keyguard.lang.diag.Code;
import keyguard.lang.diag.Diagnostic;
import keyguard.lang.diag.Diagnostics;
import keyguard.lang.source.Span;
import keyguard.policy.BudgetSpec;
import keyguard.policy.DataAction;
import keyguard.policy.ForbidRule;
import keyguard.policy.LimitSpec;
import keyguard.policy.Metric;
import keyguard.policy.ModelInfo;
import keyguard.policy.Money;
import keyguard.policy.Policy;
import keyguard.policy.PolicySet;
import keyguard.policy.Scope;
import keyguard.policy.ir.Ir;
import org.logicng.formulas.Formula;
import org.logicng.formulas.FormulaFactory;

/**
 * What {@code keyguard check} finds beyond type errors: rules that can never fire or never
 * decide alone, allowed models no request can use, reroutes outside the allow-list, limits
 * that can never bind or always bind, and budgets below budgets (KG0901–KG0907, warnings).
 * Conditions are decided by {@link ConditionEncoder} and a SAT solver, not by their syntax;
 * limits by arithmetic on the policy's own numbers (one limit bounding another; not the
 * models' context windows: a request's reservation has no bound from them when it asks for
 * several choices or a large output). Every finding is sound: a rule reported
 * as never firing fires for no request (the encoding over-approximates what it cannot
 * decide), a limit reported as never binding cannot be reached under the stated assumption.
 *
 * <p>A policy built from a template reports a template's finding once, at the template.
 */
public final class PolicyAnalysis {
    private PolicyAnalysis() {}

    /** Adds the findings about every policy of {@code set} to {@code out}. */
    public static void analyze(PolicySet set, Diagnostics out) {
        Set<String> seen = new LinkedHashSet<>();
        List<Diagnostic> found = new ArrayList<>();
        // Policies built from one template usually share their rules and models: decided once.
        java.util.Map<List<Object>, RuleFindings> memo = new java.util.HashMap<>();
        for (Policy p : set.policies().values()) {
            if (!p.forbids().isEmpty()) {
                RuleFindings r = memo.computeIfAbsent(List.of(p.forbids(), p.allowedModels()), k -> rules(set, p));
                found.addAll(r.diagnostics());
                r.forbiddenModels().forEach((model, by) -> found.add(Diagnostic.warning(Code.KG0903, p.span(), "model `" + model
                                + "` is allowed by policy `" + p.name() + "` but every request for it is forbidden")
                        .label("by " + names(by))
                        .help("remove `" + model + "` from `models allow`, or narrow the rules")));
            }
            limits(set, p, found);
        }
        organisation(set, found);
        for (Diagnostic d : found) if (seen.add(d.code() + "|" + d.span() + "|" + d.message())) out.add(d);
    }

    // ---------------------------------------------------------------- rules

    /** What a policy's rules (with its allowed models) give: findings about the rules, and the allowed models they forbid entirely, with the rules that do. */
    private record RuleFindings(List<Diagnostic> diagnostics, java.util.Map<String, List<ForbidRule>> forbiddenModels) {}

    private static RuleFindings rules(PolicySet set, Policy p) {
        List<Diagnostic> out = new ArrayList<>();
        java.util.Map<String, List<ForbidRule>> forbiddenModels = new java.util.LinkedHashMap<>();
        List<ForbidRule> rules = p.forbids();
        List<Ir> conditions = new ArrayList<>();
        for (ForbidRule r : rules) {
            conditions.add(r.when());
            if (r.unless() != null) conditions.add(r.unless());
        }
        ConditionEncoder enc = new ConditionEncoder(set.models().values(), set.labels(), conditions);
        FormulaFactory f = enc.factory();
        List<Formula> fires = new ArrayList<>();
        List<Boolean> canFire = new ArrayList<>();
        for (ForbidRule r : rules) {
            Formula when = enc.encode(r.when());
            Formula fire = r.unless() == null ? when : f.and(when, f.not(enc.encode(r.unless())));
            if (ConditionEncoder.callsFunction(r.when()) || r.unless() != null && ConditionEncoder.callsFunction(r.unless())) {
                // A function that fails makes the rule fire (`on error deny`) or not (`on error allow`), whatever its condition says.
                org.logicng.formulas.Variable failed = enc.failure();
                fire = p.allowOnFunctionError() ? f.and(fire, f.not(failed)) : f.or(fire, failed);
            }
            fires.add(fire);
            boolean sat = enc.satisfiable(fire);
            canFire.add(sat);
            // A `when` that folded to a constant is KG0409's, from the checker.
            if (!sat && !(r.when() instanceof Ir.Const)) out.add(neverFires(enc, r));
        }
        // All rules that fire are reported together (DESIGN.md), so a rule whose requests other
        // rules forbid anyway never decides alone. Greedy in rule order, each against the rules not
        // flagged before it: removing every flagged rule together changes no decision.
        List<Boolean> redundant = new ArrayList<>();
        for (int j = 0; j < rules.size(); j++) {
            redundant.add(false);
            if (!canFire.get(j)) continue;
            List<Integer> others = new ArrayList<>();
            for (int i = 0; i < rules.size(); i++) if (i != j && canFire.get(i) && (i > j || !redundant.get(i))) others.add(i);
            List<ForbidRule> together = new ArrayList<>();
            for (int i : others) {
                if (!enc.satisfiable(f.and(fires.get(j), f.not(fires.get(i))))) {
                    together.add(rules.get(i)); // one rule alone covers it: name that one
                    break;
                }
            }
            if (together.isEmpty() && others.size() > 1) {
                List<Formula> cover = new ArrayList<>();
                for (int i : others) cover.add(fires.get(i));
                if (!enc.satisfiable(f.and(fires.get(j), f.not(f.or(cover))))) {
                    for (int i : others) if (enc.satisfiable(f.and(fires.get(j), fires.get(i)))) together.add(rules.get(i));
                }
            }
            if (together.isEmpty()) continue;
            redundant.set(j, true);
            ForbidRule rule = rules.get(j);
            List<String> example = enc.example(fires.get(j));
            out.add(Diagnostic.warning(Code.KG0902, rule.conditionSpan(), "rule `" + rule.id() + "` never decides alone: "
                            + names(together) + (together.size() == 1 ? " forbids" : " together forbid") + " every request it forbids")
                    .label("e.g. " + String.join(", ", example))
                    .help("remove it, or narrow " + names(together) + " if " + (together.size() == 1 ? "it forbids" : "they forbid") + " more than intended"));
        }
        for (String model : p.allowedModels()) {
            Formula open = f.and(enc.modelIs(model), f.not(f.or(fires)));
            if (enc.satisfiable(open)) continue;
            List<ForbidRule> by = new ArrayList<>();
            for (int i = 0; i < rules.size(); i++) if (enc.satisfiable(f.and(enc.modelIs(model), fires.get(i)))) by.add(rules.get(i));
            forbiddenModels.put(model, by);
        }
        return new RuleFindings(out, forbiddenModels);
    }

    private static String names(List<ForbidRule> rules) {
        List<String> n = new ArrayList<>();
        for (ForbidRule r : rules) n.add("`" + r.id() + "` (" + r.span().file().path() + ":" + r.span().line() + ")");
        return n.size() == 1 ? "rule " + n.get(0) : "rules " + String.join(", ", n);
    }

    /** KG0901, naming the smallest set of the condition's parts that contradict each other. */
    private static Diagnostic neverFires(ConditionEncoder enc, ForbidRule r) {
        FormulaFactory f = enc.factory();
        List<Ir> parts = new ArrayList<>();
        flatten(r.when(), parts);
        int whenParts = parts.size();
        if (r.unless() != null) parts.add(r.unless());
        List<Formula> encoded = new ArrayList<>();
        for (int i = 0; i < parts.size(); i++) encoded.add(i < whenParts ? enc.encode(parts.get(i)) : f.not(enc.encode(parts.get(i))));
        List<Integer> core = new ArrayList<>();
        for (int i = 0; i < parts.size(); i++) core.add(i);
        for (int i = 0; i < parts.size(); i++) {
            List<Integer> without = new ArrayList<>(core);
            without.remove((Integer) i);
            List<Formula> rest = new ArrayList<>();
            for (int k : without) rest.add(encoded.get(k));
            if (!enc.satisfiable(f.and(rest))) core = without;
        }
        boolean unless = core.contains(whenParts);
        List<String> shown = new ArrayList<>();
        for (int k : core) if (k < whenParts) shown.add("`" + IrPrinter.print(parts.get(k)) + "`");
        String why;
        if (unless) why = shown.isEmpty() ? "its `unless` always holds" : "its `unless` holds whenever " + String.join(" and ", shown) + " does";
        else if (shown.size() == 1) why = shown.get(0) + " never holds";
        else why = String.join(shown.size() == 2 ? " and " : ", ", shown) + (shown.size() == 2 ? " cannot both hold" : " cannot all hold");
        return Diagnostic.warning(Code.KG0901, r.conditionSpan(), "rule `" + r.id() + "` can never fire: " + why)
                .label("no request satisfies this")
                .help("fix the condition or remove the rule");
    }

    private static void flatten(Ir ir, List<Ir> out) {
        if (ir instanceof Ir.And a) {
            flatten(a.left(), out);
            flatten(a.right(), out);
        } else {
            out.add(ir);
        }
    }

    // ---------------------------------------------------------------- limits and budgets

    private static void limits(PolicySet set, Policy p, List<Diagnostic> out) {
        if (p.data().action() == DataAction.REROUTE && p.data().reroute() != null && !p.allowedModels().contains(p.data().reroute().name())) {
            out.add(Diagnostic.warning(Code.KG0904, p.data().span() != null ? p.data().span() : p.span(), "policy `" + p.name()
                            + "` reroutes to `" + p.data().reroute().name() + "`, which its `models allow` does not list")
                    .label("keys of the policy cannot call it, yet their most sensitive requests go to it")
                    .help("add it to `models allow`, or reroute to a model the policy allows"));
        }
        for (LimitSpec l : p.rateLimits()) {
            Bound b = bound(set, p, l);
            if (b != null && b.max() <= l.amount()) {
                out.add(Diagnostic.warning(Code.KG0905, l.span(), "`" + l.id() + "` (" + l.amount() + ") can never bind in policy `" + p.name() + "`")
                        .label(b.why())
                        .help("lower it, or remove it"));
            }
        }
        long defaultOutput = p.defaultMaxTokens();
        List<ModelInfo> allowed = new ArrayList<>();
        for (String m : p.allowedModels()) if (set.model(m) != null) allowed.add(set.model(m));
        for (LimitSpec l : p.rateLimits()) {
            if (l.counter().metric() != Metric.TOKENS) continue;
            if (l.amount() < 2) {
                out.add(Diagnostic.warning(Code.KG0906, l.span(), "`" + l.id() + "` refuses every request: each reserves at least one prompt and one output token")
                        .label("the smallest request needs 2 tokens").help("raise it"));
            } else if (defaultOutput > 0 && l.amount() < defaultOutput + 1) {
                out.add(Diagnostic.warning(Code.KG0906, l.span(), "`" + l.id() + "` refuses every request that does not set `max_tokens`")
                        .label("such a request reserves `default max_tokens` (" + defaultOutput + ") plus its prompt")
                        .help("raise the limit above " + defaultOutput + ", or lower `default max_tokens`"));
            }
        }
        if (!allowed.isEmpty()) {
            long cheapest = Long.MAX_VALUE;
            long cheapestDefault = Long.MAX_VALUE;
            for (ModelInfo m : allowed) {
                cheapest = Math.min(cheapest, m.costMicros(1, 1));
                if (defaultOutput > 0) cheapestDefault = Math.min(cheapestDefault, m.costMicros(1, defaultOutput));
            }
            for (BudgetSpec b : p.budgets()) {
                if (!b.hard()) continue;
                if (b.amount() < cheapest) {
                    out.add(Diagnostic.warning(Code.KG0906, b.span(), "`" + b.id() + "` ($" + Money.format(b.amount()) + ") refuses every request")
                            .label("the cheapest request (one prompt and one output token) costs $" + Money.format(cheapest))
                            .help("raise the budget"));
                } else if (defaultOutput > 0 && b.amount() < cheapestDefault) {
                    out.add(Diagnostic.warning(Code.KG0906, b.span(), "`" + b.id() + "` ($" + Money.format(b.amount())
                                    + ") refuses every request that does not set `max_tokens`")
                            .label("such a request reserves `default max_tokens` (" + defaultOutput + "), at least $" + Money.format(cheapestDefault))
                            .help("raise the budget, or lower `default max_tokens`"));
                }
            }
        }
        for (BudgetSpec child : p.budgets()) {
            for (BudgetSpec parent : p.budgets()) {
                if (parent.hard() && above(parent.counter().scope(), child.counter().scope())
                        && parent.counter().window().equals(child.counter().window()) && parent.amount() <= child.amount()) {
                    out.add(underParent(child, parent, "the " + parent.counter().scope().word() + "'s budget, shared by all its keys, is always reached first"));
                }
            }
        }
    }

    /** Whether a counter of scope {@code parent} always counts at least what one of {@code child} does (user ⊂ key ⊂ policy, key ⊂ team ⊂ org). */
    private static boolean above(Scope parent, Scope child) {
        return switch (child) {
            case USER -> parent != Scope.USER;
            case KEY -> parent != Scope.KEY && parent != Scope.USER;
            case TEAM -> parent == Scope.ORG;
            case POLICY, ORG -> false;
        };
    }

    private static Diagnostic underParent(BudgetSpec child, BudgetSpec parent, String why) {
        return Diagnostic.warning(Code.KG0907, child.span(), "`" + child.id() + "` ($" + Money.format(child.amount()) + ") is not below `"
                        + parent.id() + "` ($" + Money.format(parent.amount()) + ")" + (parent.origin().equals(child.origin()) ? "" : " of " + parent.origin()))
                .label(why)
                .help("give each " + child.counter().scope().word() + " a smaller share, or remove its budget");
    }

    /** A team's declared budget not below its org unit's hard budget of the same period can never bind. */
    private static void organisation(PolicySet set, List<Diagnostic> out) {
        for (keyguard.policy.OrgChart.Team t : set.org().teams().values()) {
            if (t.unit() == null) continue;
            for (keyguard.policy.Limit c : t.limits()) {
                if (!(c instanceof BudgetSpec child)) continue;
                for (keyguard.policy.Limit u : t.unit().limits()) {
                    if (u instanceof BudgetSpec parent && parent.hard() && parent.counter().window().equals(child.counter().window())
                            && parent.amount() <= child.amount()) {
                        out.add(underParent(child, parent, "org unit `" + t.unit().name() + "` shares its budget among all its teams: it is always reached first"));
                    }
                }
            }
        }
    }

    /** The most a limit's counter can reach because of the policy's other limits, and why. */
    private record Bound(long max, String why) {}

    private static Bound bound(PolicySet set, Policy p, LimitSpec l) {
        Bound best = null;
        for (LimitSpec o : p.rateLimits()) {
            if (o == l || o.counter().equals(l.counter()) || o.counter().metric() != l.counter().metric()) continue;
            Long max = within(o, l);
            if (max != null && (best == null || max < best.max())) {
                best = new Bound(max, "`" + o.id() + "` admits at most " + max + " in " + l.counter().window()
                        + (o.counter().scope() != l.counter().scope() ? " for the whole " + o.counter().scope().word() : ""));
            }
        }
        return best;
    }

    /**
     * The most units {@code o} lets into any window of {@code l}'s length that {@code l}
     * counts, or null when {@code o} does not bound {@code l}'s counter: a {@code by policy}
     * or {@code by team} limit bounds each key too, a {@code by key} limit does not bound the
     * policy's total, nor a policy's limit its team's (a team's keys have several policies).
     */
    private static Long within(LimitSpec o, LimitSpec l) {
        if (o.counter().metric() == Metric.CONCURRENT || l.counter().metric() == Metric.CONCURRENT) return null;
        if (o.counter().scope() != l.counter().scope() && !above(o.counter().scope(), l.counter().scope())) return null;
        long w = l.counter().windowSeconds();
        long wo = o.counter().windowSeconds();
        if (w <= 0 || wo <= 0) return null;
        if (wo >= w) return o.amount();
        long windows = (w + wo - 1) / wo;
        return o.amount() > Long.MAX_VALUE / windows ? Long.MAX_VALUE : o.amount() * windows;
    }
}
