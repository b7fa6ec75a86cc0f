package keyguard.compiler.analysis;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.UnaryOperator;
import keyguard.compiler.explain.IrPrinter;
import keyguard.policy.DataClass;
import keyguard.policy.LabelSpec;
import keyguard.policy.ModelInfo;
import keyguard.policy.ir.Field;
import keyguard.policy.ir.Ir;
import keyguard.policy.ir.IrInterpreter;
import keyguard.policy.ir.Type;
import org.logicng.datastructures.Assignment;
import org.logicng.datastructures.Tristate;
import org.logicng.formulas.Formula;
import org.logicng.formulas.FormulaFactory;
import org.logicng.formulas.Variable;
import org.logicng.solvers.MiniSat;
import org.logicng.solvers.SATSolver;

/**
 * Conditions as propositional formulas over what a request can be, so that a SAT solver
 * (LogicNG's MiniSat) decides whether a condition can hold, and shows a request for which
 * it does.
 *
 * <p>Every value a condition reads is a function of one <em>base</em>: a variable of the
 * request with finitely many values, each a boolean variable of which exactly one is true.
 * The requested model is one base (its name, provider, hosting, ceiling and context follow
 * from it), so are the data class, the weekday, the hour, the minute, the two flags, and a
 * key label that declares its values. An integer without such bounds (the token estimate,
 * {@code max_tokens}, a counter) is cut into intervals at every constant it is compared
 * with, so that each comparison is constant on each interval; a string without bounds (a
 * key's name, a tag) takes the constants it is compared with, or "any other value" (one
 * that equals none of them).
 *
 * <p>Whatever this cannot decide (a JavaScript or plugin function, two unbounded values
 * compared with each other, {@code matches} on a value it does not know) becomes a fresh
 * variable, free to be true or false. The encoding therefore over-approximates: a condition
 * it finds unsatisfiable is unsatisfiable for every request; one it finds satisfiable has
 * an example that holds up to those free parts.
 */
final class ConditionEncoder {
    /** The value of an unbounded string base other than each of its {@code named} candidates. */
    record Other(Set<String> named) {
        @Override
        public String toString() { return "any other value"; }
    }

    /** A string nothing is known of (the lower case of an unknown value). */
    private static final Other UNKNOWN_STRING = new Other(Set.of());

    /** An interval of an unbounded integer base; each comparison the conditions make is constant on it. */
    record Region(long lo, long hi) {
        @Override
        public String toString() {
            if (lo == hi) return Long.toString(lo);
            if (hi == Long.MAX_VALUE) return lo + " or more";
            if (lo == Long.MIN_VALUE) return hi + " or less";
            return lo + " to " + hi;
        }
    }

    private enum Tri { TRUE, FALSE, UNKNOWN }

    /** A variable of the request: its values, and one boolean variable per value. */
    final class Base {
        final String name;
        final List<Object> values;
        final List<Variable> vars = new ArrayList<>();

        Base(String name, List<Object> values) {
            this.name = name;
            this.values = values;
            int id = bases.size();
            for (int i = 0; i < values.size(); i++) vars.add(f.variable("b" + id + "_" + i));
        }

        String describe(Object v) {
            if (v instanceof String s) return name + " = \"" + s + "\"";
            if (v instanceof Region r) return name + " = " + r;
            if (v instanceof Other o) return name + " = " + o;
            return name + " = " + v;
        }
    }

    /** A value-typed condition part: {@code fn} of the value of {@code base} (null base: a constant, {@code fn.apply(null)}). */
    private record Term(Base base, UnaryOperator<Object> fn) {
        Object at(Object baseValue) { return fn.apply(baseValue); }
    }

    /** The encoder's own factory: one shared by every policy of a large set grew its caches until it was slower than one per policy. */
    private final FormulaFactory f = new FormulaFactory();
    private final List<ModelInfo> models;
    private final Map<String, LabelSpec> labels;
    private final Map<Object, Base> bases = new LinkedHashMap<>();
    private final Map<Object, TreeSet<Long>> cuts = new HashMap<>();
    private final Map<Object, LinkedHashSet<String>> candidates = new HashMap<>();
    private final Map<Ir, Variable> free = new HashMap<>();

    /**
     * @param models the declared models (the values of {@code request.model})
     * @param conditions every condition that will be encoded (the intervals and candidates come from their constants)
     */
    ConditionEncoder(Collection<ModelInfo> models, Map<String, LabelSpec> labels, Collection<Ir> conditions) {
        this.models = List.copyOf(models);
        this.labels = labels;
        for (Ir c : conditions) collect(c);
    }

    FormulaFactory factory() { return f; }

    // ---------------------------------------------------------------- the bases

    /** The base an unbounded value reads, by key: a field, a counter, a map entry, or the part itself. */
    private static Object openKey(Ir ir) {
        return switch (ir) {
            case Ir.Read r when r.field() == Field.REQUEST_ESTIMATED_TOKENS || r.field() == Field.REQUEST_MAX_TOKENS -> r.field();
            case Ir.Read r when r.field() == Field.KEY_ID || r.field() == Field.KEY_NAME || r.field() == Field.KEY_OWNER
                    || r.field() == Field.TIME_DATE -> r.field();
            case Ir.Usage u -> u.counter();
            case Ir.Lookup l when l.map() instanceof Ir.Read m && l.key() instanceof Ir.Const k -> List.of(m.field(), k.value());
            default -> ir;
        };
    }

    /** Whether {@code ir} is read directly from an unbounded base (not a function of a bounded one). */
    private boolean isOpen(Ir ir) {
        return switch (ir) {
            case Ir.Const c -> false;
            case Ir.Read r -> switch (r.field()) {
                case REQUEST_ESTIMATED_TOKENS, REQUEST_MAX_TOKENS, KEY_ID, KEY_NAME, KEY_OWNER, TIME_DATE -> true;
                default -> false;
            };
            case Ir.Lookup l -> declaredValues(l) == null;
            case Ir.Call c -> c.type() == Type.STRING ? false : true; // lower/upper follow their argument
            case Ir.Not n -> false;
            case Ir.And a -> false;
            case Ir.Or o -> false;
            case Ir.Compare c -> false;
            case Ir.InList l -> false;
            case Ir.InRange r -> false;
            default -> true; // counters, negations, functions
        };
    }

    /** The values a key label may take (its declared values, or none: ""), or null when it declares none or the key is not constant. */
    private List<Object> declaredValues(Ir.Lookup l) {
        if (!(l.map() instanceof Ir.Read m) || m.field() != Field.KEY_LABELS || !(l.key() instanceof Ir.Const k)) return null;
        LabelSpec spec = labels.get((String) k.value());
        if (spec == null || spec.values() == null || spec.values().isEmpty()) return null;
        List<Object> v = new ArrayList<>(spec.values());
        if (!v.contains("")) v.add(0, ""); // a key without the label reads ""
        return v;
    }

    private Base base(Object key, String name, java.util.function.Supplier<List<Object>> values) {
        Base b = bases.get(key);
        if (b == null) {
            b = new Base(name, values.get());
            bases.put(key, b);
        }
        return b;
    }

    private Base modelBase() {
        return base("model", "request.model", () -> {
            List<Object> v = new ArrayList<>();
            for (int i = 0; i < models.size(); i++) v.add(i);
            return v;
        });
    }

    private static List<Object> range(long lo, long hi, boolean asInt) {
        List<Object> v = new ArrayList<>();
        for (long i = lo; i <= hi; i++) v.add(asInt ? (Object) (int) i : (Object) i);
        return v;
    }

    private Base openIntBase(Ir ir) {
        Object key = openKey(ir);
        boolean nonNegative = ir instanceof Ir.Read || ir instanceof Ir.Usage;
        return base(key, IrPrinter.print(ir), () -> {
            TreeSet<Long> starts = new TreeSet<>(cuts.getOrDefault(key, new TreeSet<>()));
            long lo = nonNegative ? 0 : Long.MIN_VALUE;
            starts.add(lo);
            List<Object> regions = new ArrayList<>();
            List<Long> s = new ArrayList<>(starts.tailSet(lo, true));
            for (int i = 0; i < s.size(); i++) regions.add(new Region(s.get(i), i + 1 < s.size() ? s.get(i + 1) - 1 : Long.MAX_VALUE));
            return regions;
        });
    }

    private Base openStringBase(Ir ir) {
        Object key = openKey(ir);
        return base(key, IrPrinter.print(ir), () -> {
            LinkedHashSet<String> named = candidates.getOrDefault(key, new LinkedHashSet<>());
            List<Object> v = new ArrayList<>(named);
            v.add(new Other(Set.copyOf(named)));
            return v;
        });
    }

    /** What a value-typed part is, as a function of one base. */
    private Term term(Ir ir) {
        switch (ir) {
            case Ir.Const c -> {
                Object v = c.value();
                return new Term(null, x -> v);
            }
            case Ir.Read r -> {
                return switch (r.field()) {
                    case REQUEST_MODEL, MODEL_ID -> new Term(modelBase(), m -> models.get((Integer) m).name());
                    case MODEL_PROVIDER -> new Term(modelBase(), m -> models.get((Integer) m).provider());
                    case MODEL_HOSTING -> new Term(modelBase(), m -> models.get((Integer) m).hosting());
                    case MODEL_MAX_CLASS -> new Term(modelBase(), m -> models.get((Integer) m).maxClass().ordinal());
                    case MODEL_CONTEXT -> new Term(modelBase(), m -> models.get((Integer) m).context());
                    case REQUEST_CLASSIFICATION -> new Term(base(Field.REQUEST_CLASSIFICATION, "request.classification",
                            () -> range(0, DataClass.values().length - 1, true)), x -> x);
                    case TIME_WEEKDAY -> new Term(base(Field.TIME_WEEKDAY, "time.weekday", () -> range(1, 7, true)), x -> x);
                    case TIME_HOUR -> new Term(base(Field.TIME_HOUR, "time.hour", () -> range(0, 23, false)), x -> x);
                    case TIME_MINUTE -> new Term(base(Field.TIME_MINUTE, "time.minute", () -> range(0, 59, false)), x -> x);
                    case REQUEST_STREAM, REQUEST_UNSCANNABLE -> new Term(base(r.field(), r.field().path(), () -> List.of(false, true)), x -> x);
                    case REQUEST_ESTIMATED_TOKENS, REQUEST_MAX_TOKENS -> new Term(openIntBase(ir), x -> x);
                    default -> new Term(openStringBase(ir), x -> x); // key.id, key.name, key.owner, time.date; maps are only indexed
                };
            }
            case Ir.Lookup l -> {
                List<Object> declared = declaredValues(l);
                if (declared != null) {
                    return new Term(base(openKey(l), IrPrinter.print(l), () -> declared), x -> x);
                }
                return new Term(openStringBase(l), x -> x);
            }
            case Ir.Call c when c.function() == keyguard.policy.ir.Builtin.LOWER || c.function() == keyguard.policy.ir.Builtin.UPPER -> {
                Term arg = term(c.args().get(0));
                boolean lower = c.function() == keyguard.policy.ir.Builtin.LOWER;
                return new Term(arg.base(), x -> {
                    Object v = arg.at(x);
                    return v instanceof String s ? (lower ? s.toLowerCase(Locale.ROOT) : s.toUpperCase(Locale.ROOT)) : UNKNOWN_STRING;
                });
            }
            default -> {
                // A counter, a negation, a function's result: its own base, unrelated to anything else.
                return new Term(ir.type() == Type.STRING ? openStringBase(ir) : openIntBase(ir), x -> x);
            }
        }
    }

    // ---------------------------------------------------------------- the intervals and candidates

    /** The values a part can take when that is a known finite set (a constant, a model's field), else null. */
    private List<Object> finiteValues(Ir ir) {
        if (ir instanceof Ir.Const c) return List.of(c.value());
        if (ir instanceof Ir.Read r) {
            List<Object> v = new ArrayList<>();
            switch (r.field()) {
                case REQUEST_MODEL, MODEL_ID -> models.forEach(m -> v.add(m.name()));
                case MODEL_PROVIDER -> models.forEach(m -> v.add(m.provider()));
                case MODEL_HOSTING -> models.forEach(m -> v.add(m.hosting()));
                case MODEL_CONTEXT -> models.forEach(m -> v.add(m.context()));
                default -> { return null; }
            }
            return v;
        }
        if (ir instanceof Ir.Lookup l) return declaredValues(l);
        return null;
    }

    private void cut(Ir open, Object value, boolean point) {
        if (!(value instanceof Long v)) return;
        TreeSet<Long> c = cuts.computeIfAbsent(openKey(open), k -> new TreeSet<>());
        c.add(v);
        if (point && v < Long.MAX_VALUE) c.add(v + 1);
    }

    private void candidate(Ir open, Object value) {
        if (value instanceof String s) candidates.computeIfAbsent(openKey(open), k -> new LinkedHashSet<>()).add(s);
    }

    /** Gathers, for every unbounded value, the constants (and known finite values) it is compared with. */
    private void collect(Ir ir) {
        switch (ir) {
            case Ir.Not n -> collect(n.operand());
            case Ir.And a -> { collect(a.left()); collect(a.right()); }
            case Ir.Or o -> { collect(o.left()); collect(o.right()); }
            case Ir.Compare c -> { pair(c.left(), c.right()); pair(c.right(), c.left()); }
            case Ir.InList l -> {
                if (isOpen(l.element())) for (Object v : l.values()) { cut(l.element(), v, true); candidate(l.element(), v); }
            }
            case Ir.InRange r -> {
                if (isOpen(r.element()) && r.element().type() == Type.INT) {
                    cut(r.element(), r.low(), false);
                    if (r.high() < Long.MAX_VALUE) cut(r.element(), r.high() + 1, false);
                }
            }
            case Ir.Call c when c.type() == Type.BOOL -> {
                // startsWith(key.name, "svc-"): "svc-" itself is a value that makes it true.
                if (c.args().size() == 2 && isOpen(c.args().get(0)) && c.args().get(1) instanceof Ir.Const k) candidate(c.args().get(0), k.value());
            }
            default -> { }
        }
    }

    private void pair(Ir open, Ir other) {
        if (!isOpen(open)) return;
        List<Object> values = finiteValues(other);
        if (values == null) return;
        for (Object v : values) {
            cut(open, v, true);
            candidate(open, v);
        }
    }

    // ---------------------------------------------------------------- formulas

    /** The formula of a boolean condition. */
    Formula encode(Ir ir) {
        return switch (ir) {
            case Ir.Const c -> (Boolean) c.value() ? f.verum() : f.falsum();
            case Ir.Not n -> f.not(encode(n.operand()));
            case Ir.And a -> f.and(encode(a.left()), encode(a.right()));
            case Ir.Or o -> f.or(encode(o.left()), encode(o.right()));
            case Ir.Read r -> atom(ir, List.of(term(ir)), v -> tri((Boolean) v[0]));
            // Booleans compare as formulas: `startsWith(k, "a") == true`, `f(x) != (y > 3)`.
            case Ir.Compare c when c.left().type() == Type.BOOL -> c.op() == Ir.Op.EQ ? f.equivalence(encode(c.left()), encode(c.right()))
                    : f.not(f.equivalence(encode(c.left()), encode(c.right())));
            case Ir.InList l when l.element().type() == Type.BOOL -> {
                List<Formula> any = new ArrayList<>();
                for (Object v : l.values()) any.add((Boolean) v ? encode(l.element()) : f.not(encode(l.element())));
                yield f.or(any);
            }
            case Ir.Compare c -> atom(ir, List.of(term(c.left()), term(c.right())), v -> compare(c.op(), v[0], v[1]));
            case Ir.InList l -> atom(ir, List.of(term(l.element())), v -> {
                Tri any = Tri.FALSE;
                for (Object x : l.values()) {
                    Tri t = compare(Ir.Op.EQ, v[0], x);
                    if (t == Tri.TRUE) return Tri.TRUE;
                    if (t == Tri.UNKNOWN) any = Tri.UNKNOWN;
                }
                return any;
            });
            case Ir.InRange r -> atom(ir, List.of(term(r.element())), v -> within(v[0], r.low(), r.high()));
            case Ir.Call c when c.args().size() == 2 && c.function() != keyguard.policy.ir.Builtin.MATCHES ->
                    atom(ir, List.of(term(c.args().get(0)), term(c.args().get(1))), v -> text(c, v[0], v[1]));
            case Ir.Call c when c.function() == keyguard.policy.ir.Builtin.MATCHES ->
                    atom(ir, List.of(term(c.args().get(0))), v -> v[0] instanceof String s ? tri(c.pattern().matcher(s).find()) : Tri.UNKNOWN);
            default -> freeVariable(ir); // a function's answer
        };
    }

    /**
     * The variable of a part nothing is known of. Equal parts share one (a condition that
     * reads {@code f(x)} twice reads one value), unless they call a function that is not pure.
     */
    private Variable freeVariable(Ir ir) {
        if (callsImpure(ir)) return f.variable("impure" + impure++);
        return free.computeIfAbsent(ir, k -> f.variable("free" + free.size()));
    }

    private int impure;

    private static boolean callsImpure(Ir ir) {
        return Ir.anyMatch(ir, n -> n instanceof Ir.Invoke c && !c.function().pure());
    }

    /** Whether a condition calls a policy function (JavaScript or plugin), which can fail. */
    static boolean callsFunction(Ir ir) {
        return Ir.anyMatch(ir, n -> n instanceof Ir.Invoke);
    }

    /** A fresh variable: "this rule's function failed". */
    Variable failure() {
        return f.variable("failed" + impure++);
    }

    private interface Eval {
        Tri at(Object[] values);
    }

    /**
     * An atomic condition over at most two bases: the disjunction, over every combination of
     * their values, of that combination where the condition is true there (and, where it
     * cannot be known, of the combination with the atom's free variable).
     */
    private Formula atom(Ir ir, List<Term> terms, Eval eval) {
        List<Base> involved = new ArrayList<>();
        for (Term t : terms) if (t.base() != null && !involved.contains(t.base())) involved.add(t.base());
        List<Formula> cases = new ArrayList<>();
        int[] index = new int[involved.size()];
        while (true) {
            Object[] values = new Object[terms.size()];
            for (int i = 0; i < terms.size(); i++) {
                Base b = terms.get(i).base();
                values[i] = terms.get(i).at(b == null ? null : b.values.get(index[involved.indexOf(b)]));
            }
            Tri t = eval.at(values);
            if (t != Tri.FALSE) {
                List<Formula> conj = new ArrayList<>();
                for (int i = 0; i < involved.size(); i++) conj.add(involved.get(i).vars.get(index[i]));
                if (t == Tri.UNKNOWN) conj.add(freeVariable(ir));
                cases.add(f.and(conj));
            }
            int k = involved.size() - 1;
            while (k >= 0 && ++index[k] == involved.get(k).values.size()) index[k--] = 0;
            if (k < 0) break;
        }
        return f.or(cases);
    }

    private static Tri tri(boolean b) { return b ? Tri.TRUE : Tri.FALSE; }

    private static Tri text(Ir.Call c, Object a, Object b) {
        if (!(a instanceof String s) || !(b instanceof String t)) return Tri.UNKNOWN;
        return tri(switch (c.function()) {
            case STARTS_WITH -> s.startsWith(t);
            case ENDS_WITH -> s.endsWith(t);
            case CONTAINS -> s.contains(t);
            default -> throw new IllegalStateException(c.function().toString());
        });
    }

    /** The interval a value lies in, or null for a string, a flag or an unknown string. */
    private static long[] interval(Object v) {
        if (v instanceof Region r) return new long[] {r.lo(), r.hi()};
        if (v instanceof Long l) return new long[] {l, l};
        if (v instanceof Integer i) return new long[] {i, i};
        return null;
    }

    private static Tri within(Object v, long lo, long hi) {
        long[] a = interval(v);
        if (a == null) return Tri.UNKNOWN;
        if (lo <= a[0] && a[1] <= hi) return Tri.TRUE;
        if (a[1] < lo || a[0] > hi) return Tri.FALSE;
        return Tri.UNKNOWN;
    }

    private Tri compare(Ir.Op op, Object l, Object r) {
        long[] a = interval(l);
        long[] b = interval(r);
        if (a != null && b != null) {
            return switch (op) {
                case EQ -> a[0] == a[1] && b[0] == b[1] && a[0] == b[0] ? Tri.TRUE : a[1] < b[0] || b[1] < a[0] ? Tri.FALSE : Tri.UNKNOWN;
                case NE -> not(compare(Ir.Op.EQ, l, r));
                case LT -> a[1] < b[0] ? Tri.TRUE : a[0] >= b[1] ? Tri.FALSE : Tri.UNKNOWN;
                case LE -> a[1] <= b[0] ? Tri.TRUE : a[0] > b[1] ? Tri.FALSE : Tri.UNKNOWN;
                case GT -> compare(Ir.Op.LT, r, l);
                case GE -> compare(Ir.Op.LE, r, l);
            };
        }
        if (op != Ir.Op.EQ && op != Ir.Op.NE) return Tri.UNKNOWN;
        Tri eq;
        if (l instanceof Other lo) eq = r instanceof Other ? Tri.UNKNOWN : lo.named().contains(r) ? Tri.FALSE : Tri.UNKNOWN;
        else if (r instanceof Other ro) eq = ro.named().contains(l) ? Tri.FALSE : Tri.UNKNOWN;
        else eq = tri(l.equals(r));
        return op == Ir.Op.EQ ? eq : not(eq);
    }

    private static Tri not(Tri t) {
        return t == Tri.TRUE ? Tri.FALSE : t == Tri.FALSE ? Tri.TRUE : Tri.UNKNOWN;
    }

    // ---------------------------------------------------------------- solving

    /**
     * One incremental solver per encoder: every base's domain (exactly one value) is added
     * once, and each query {@code q} as {@code selector -> q}, solved under the assumption of
     * its selector, so later queries reuse what the solver learnt.
     */
    private SATSolver solver;
    private int basesInSolver;
    private int queries;

    /** A request for which {@code formula} holds, as {@code field = value} lines; null when there is none. */
    List<String> example(Formula formula) {
        if (solver == null) solver = MiniSat.miniSat(f);
        List<Base> all = new ArrayList<>(bases.values());
        for (; basesInSolver < all.size(); basesInSolver++) solver.add(f.exo(all.get(basesInSolver).vars));
        Variable selector = f.variable("query" + queries++);
        solver.add(f.or(f.not(selector), formula));
        if (solver.sat(selector) != Tristate.TRUE) return null;
        Assignment model = solver.model();
        Set<Variable> used = formula.variables();
        List<String> out = new ArrayList<>();
        for (Base b : bases.values()) {
            if (b.vars.stream().noneMatch(used::contains)) continue;
            for (int i = 0; i < b.vars.size(); i++) {
                if (model.evaluateLit(b.vars.get(i))) {
                    Object v = b.values.get(i);
                    out.add(b.name.equals("request.model") ? "request.model = \"" + models.get((Integer) v).name() + "\""
                            : b.name.equals("request.classification") ? "request.classification = " + DataClass.values()[(Integer) v].word()
                            : b.name.equals("time.weekday") ? "time.weekday = " + IrInterpreter.weekdayWord((Integer) v)
                            : b.describe(v));
                }
            }
        }
        return out;
    }

    boolean satisfiable(Formula formula) {
        return example(formula) != null;
    }

    /** The formula of {@code request.model == name}. */
    Formula modelIs(String name) {
        Base b = modelBase();
        for (int i = 0; i < models.size(); i++) if (models.get(i).name().equals(name)) return b.vars.get(i);
        return f.falsum();
    }
}
