package keyguard.compiler.check;

import com.google.re2j.Pattern;
import com.google.re2j.PatternSyntaxException;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import keyguard.lang.diag.Code;
import keyguard.lang.diag.Diagnostic;
import keyguard.lang.diag.Diagnostics;
import keyguard.lang.source.Span;
import keyguard.lang.syntax.Expr;
import keyguard.lang.syntax.Name;
import keyguard.policy.CounterRef;
import keyguard.policy.DataClass;
import keyguard.policy.ir.Builtin;
import keyguard.policy.ir.Field;
import keyguard.policy.ir.Ir;
import keyguard.policy.ir.IrInterpreter;
import keyguard.policy.ir.Type;

/**
 * Binds names, checks types and folds constants, turning syntax into {@link Ir}. Template
 * parameters arrive as constants, so after substitution a condition like
 * {@code team == "search"} folds away entirely.
 *
 * <p>Returns null for an expression with an error; the error is already reported, and
 * callers stop checking that expression (one diagnostic per mistake, no cascades).
 */
final class ExprChecker {
    private static final Set<String> ROOTS = Set.of("request", "key", "model", "time", "usage");
    private static final Set<String> KEY_FIELDS = Set.of("id", "name", "owner", "labels");

    private final Diagnostics diagnostics;
    private final Map<String, Ir.Const> params;
    /** Set when a template parameter was read, so that "constant condition" is not reported for it. */
    boolean usedParameter;

    private final FunctionScope functions;
    /** The declared key labels; when set, reading any other label is an error (KG0411). */
    private Map<String, keyguard.policy.LabelSpec> labels;

    ExprChecker(Diagnostics diagnostics, Map<String, Ir.Const> params, FunctionScope functions) {
        this.diagnostics = diagnostics;
        this.params = params;
        this.functions = functions;
    }

    /** Checks that every key label read is declared (conditions and reasons, where rules trust labels). */
    ExprChecker labels(Map<String, keyguard.policy.LabelSpec> declared) {
        this.labels = declared;
        return this;
    }

    /** The lookup of label {@code name}, or null after KG0411 when it is not declared. */
    private Ir label(String name, Span span) {
        if (labels != null && !labels.containsKey(name)) {
            return error(Diagnostic.error(Code.KG0411, span, "label `" + name + "` is not declared")
                    .label("rules may only read declared labels")
                    .help(Suggestions.didYouMean(name, labels.keySet(), "declare it in the operator's folder: `label " + name
                            + " { set_by operator }` (or `set_by team` if team admins may set it)")));
        }
        return new Ir.Lookup(new Ir.Read(Field.KEY_LABELS), new Ir.Const(Type.STRING, name));
    }

    Ir check(Expr e) {
        return switch (e) {
            case Expr.Str s -> new Ir.Const(Type.STRING, s.lit().value());
            case Expr.Int i -> new Ir.Const(Type.INT, i.value());
            case Expr.Bool b -> Ir.Const.bool(b.value());
            case Expr.Dec d -> error(Diagnostic.error(Code.KG0401, d.span(), "decimal numbers cannot be used in conditions")
                    .label("conditions compare whole numbers")
                    .help("write a whole number such as `" + d.value().toBigInteger() + "`"));
            case Expr.Paren p -> check(p.inner());
            case Expr.Not n -> {
                Ir x = expect(check(n.operand()), Type.BOOL, n.operand().span(), "`!` applies to a boolean");
                yield x == null ? null : x instanceof Ir.Const c ? Ir.Const.bool(!(Boolean) c.value())
                        : x instanceof Ir.Not inner ? inner.operand() : new Ir.Not(x);
            }
            case Expr.Neg n -> {
                Ir x = expect(check(n.operand()), Type.INT, n.operand().span(), "`-` applies to an integer");
                yield x == null ? null : x instanceof Ir.Const c ? new Ir.Const(Type.INT, -(Long) c.value()) : new Ir.Neg(x);
            }
            case Expr.Binary b -> binary(b);
            case Expr.In in -> in(in);
            case Expr.Range r -> error(Diagnostic.error(Code.KG0406, r.span(), "a range can only stand on the right of `in`")
                    .label("range used as a value")
                    .help("write `x in " + r.low().span().text() + ".." + r.high().span().text() + "`"));
            case Expr.ListExpr l -> error(Diagnostic.error(Code.KG0405, l.span(), "a list can only stand on the right of `in`")
                    .label("list used as a value"));
            case Expr.Call c -> call(c);
            case Expr.Path p -> path(p);
            case Expr.Index ix -> index(ix);
        };
    }

    /** A condition block: must be boolean. */
    Ir condition(Expr e) {
        Ir ir = check(e);
        if (ir == null) return null;
        if (ir.type() != Type.BOOL) {
            return error(Diagnostic.error(Code.KG0402, e.span(), "condition has type `" + ir.type().word() + "`, not `bool`")
                    .label("this is a " + ir.type().word())
                    .help("compare it, e.g. `" + e.span().text() + " == ...`"));
        }
        return ir;
    }

    private Ir binary(Expr.Binary b) {
        Ir l = check(b.left());
        Ir r = check(b.right());
        if (l == null || r == null) return null;
        switch (b.op()) {
            case "&&", "||" -> {
                if (expect(l, Type.BOOL, b.left().span(), "`" + b.op() + "` joins booleans") == null) return null;
                if (expect(r, Type.BOOL, b.right().span(), "`" + b.op() + "` joins booleans") == null) return null;
                boolean and = b.op().equals("&&");
                if (l instanceof Ir.Const c) return ((Boolean) c.value()) == and ? r : Ir.Const.bool(!and);
                if (r instanceof Ir.Const c) return ((Boolean) c.value()) == and ? l : Ir.Const.bool(!and);
                return and ? new Ir.And(l, r) : new Ir.Or(l, r);
            }
            default -> {
                Ir.Op op = Ir.Op.bySymbol(b.op());
                if (l.type() != r.type()) {
                    return error(Diagnostic.error(Code.KG0401, b.span(),
                                    "cannot compare `" + l.type().word() + "` with `" + r.type().word() + "`")
                            .label("left is " + article(l.type()) + ", right is " + article(r.type()))
                            .help(hintFor(l.type(), r.type())));
                }
                if (op != Ir.Op.EQ && op != Ir.Op.NE && !ordered(l.type())) {
                    return error(Diagnostic.error(Code.KG0407, b.span(), "`" + b.op() + "` cannot order values of type `" + l.type().word() + "`")
                            .label("only integers, data classes and weekdays are ordered")
                            .help(l.type() == Type.STRING ? "use `==`, `!=`, `startsWith`, `endsWith` or `contains`" : ""));
                }
                if (l.type() == Type.MAP) {
                    return error(Diagnostic.error(Code.KG0401, b.span(), "maps cannot be compared").label("compare one entry, e.g. `m[\"k\"]`"));
                }
                if (l instanceof Ir.Const a && r instanceof Ir.Const c) return Ir.Const.bool(constCompare(op, a.value(), c.value()));
                return new Ir.Compare(op, l, r);
            }
        }
    }

    private Ir in(Expr.In in) {
        Ir element = check(in.element());
        if (element == null) return null;
        Expr coll = in.collection() instanceof Expr.Paren p ? p.inner() : in.collection();
        if (coll instanceof Expr.ListExpr list) {
            List<Object> values = new ArrayList<>();
            for (Expr item : list.items()) {
                Ir v = check(item);
                if (v == null) return null;
                if (!(v instanceof Ir.Const c)) {
                    return error(Diagnostic.error(Code.KG0405, item.span(), "list items must be constants")
                            .label("not known when the policy compiles"));
                }
                if (c.type() != element.type()) {
                    return error(Diagnostic.error(Code.KG0401, item.span(),
                                    "list item has type `" + c.type().word() + "`, but the value tested is " + article(element.type()))
                            .label("expected " + article(element.type())));
                }
                if (!values.contains(c.value())) values.add(c.value());
            }
            if (element instanceof Ir.Const c) return Ir.Const.bool(values.contains(c.value()));
            return new Ir.InList(element, List.copyOf(values));
        }
        if (coll instanceof Expr.Range range) {
            Ir lo = check(range.low());
            Ir hi = check(range.high());
            if (lo == null || hi == null) return null;
            if (!(lo instanceof Ir.Const l) || !(hi instanceof Ir.Const h)) {
                return error(Diagnostic.error(Code.KG0406, range.span(), "range bounds must be constants").label("not constant"));
            }
            if (!ordered(l.type()) || l.type() != h.type() || l.type() != element.type()) {
                return error(Diagnostic.error(Code.KG0406, range.span(),
                                "range of `" + l.type().word() + "` cannot contain " + article(element.type()))
                        .label("bounds and value must be integers, weekdays or data classes of one type"));
            }
            long low = ordinal(l.value());
            long high = ordinal(h.value());
            if (low > high) {
                return error(Diagnostic.error(Code.KG0406, range.span(), "range is empty: `" + range.span().text() + "`")
                        .label("the low bound is above the high bound")
                        .help("ranges are inclusive and ascending; for a range that wraps, write `x in a..z || x in b..c`"));
            }
            if (element instanceof Ir.Const c) {
                long v = ordinal(c.value());
                return Ir.Const.bool(low <= v && v <= high);
            }
            return new Ir.InRange(element, low, high);
        }
        return error(Diagnostic.error(Code.KG0405, in.collection().span(), "`in` needs a list `[a, b]` or a range `lo..hi`")
                .label("neither a list nor a range")
                .help(element.type() == Type.STRING ? "to test a map entry, compare it: `request.tags[\"k\"] == \"v\"`" : ""));
    }

    private Ir call(Expr.Call c) {
        Builtin fn = Builtin.byWord(c.function().text());
        if (fn == null) {
            keyguard.functions.FunctionRef ref = functions.lookup(c.function().text());
            if (ref != null) return invoke(c, ref);
            List<String> names = new ArrayList<>();
            for (Builtin b : Builtin.values()) names.add(b.word());
            List<String> all = new ArrayList<>(names);
            all.addAll(functions.names());
            return error(Diagnostic.error(Code.KG0108, c.function().span(), "unknown function `" + c.function().text() + "`")
                    .label("not a built-in, declared or plugin function")
                    .help(Suggestions.didYouMean(c.function().text(), all, "built-in functions are " + Suggestions.list(names)
                            + (functions.names().isEmpty() ? "" : "; declared and plugin functions are " + Suggestions.list(functions.names())))));
        }
        List<Ir> args = arguments(c, fn.word(), fn.params(), signature(fn), "");
        if (args == null) return null;
        boolean allConst = args.stream().allMatch(a -> a instanceof Ir.Const);
        Pattern pattern = null;
        if (fn == Builtin.MATCHES) {
            if (!(args.get(1) instanceof Ir.Const p)) {
                return error(Diagnostic.error(Code.KG0404, c.args().get(1).span(), "the pattern of `matches` must be a string literal")
                        .label("not constant")
                        .help("patterns are compiled once, when the policy compiles"));
            }
            try {
                pattern = Pattern.compile((String) p.value());
            } catch (PatternSyntaxException ex) {
                return error(Diagnostic.error(Code.KG0404, c.args().get(1).span(), "invalid regular expression: " + ex.getDescription())
                        .label("RE2 syntax")
                        .help("RE2 has no backreferences or lookaround; that is what keeps matching linear"));
            }
        }
        Ir.Call call = new Ir.Call(fn, args, pattern);
        if (allConst) {
            Object v = IrInterpreter.eval(call, null, null, null);
            return new Ir.Const(fn.result(), v);
        }
        return call;
    }

    /**
     * The checked arguments of a call of {@code name} with parameter types {@code params},
     * or null after a KG0403 (wrong count or type) labelled with the function's signature.
     */
    private List<Ir> arguments(Expr.Call c, String name, List<Type> params, String signature, String help) {
        if (c.args().size() != params.size()) {
            error(Diagnostic.error(Code.KG0403, c.span(), "`" + name + "` takes " + params.size() + " argument"
                    + (params.size() == 1 ? "" : "s") + ", not " + c.args().size()).label(signature).help(help));
            return null;
        }
        List<Ir> args = new ArrayList<>();
        for (int i = 0; i < c.args().size(); i++) {
            Ir a = check(c.args().get(i));
            if (a == null) return null;
            if (a.type() != params.get(i)) {
                error(Diagnostic.error(Code.KG0403, c.args().get(i).span(), "argument " + (i + 1) + " of `" + name + "` must be "
                        + article(params.get(i)) + ", not " + article(a.type())).label(signature).help(help));
                return null;
            }
            args.add(a);
        }
        return List.copyOf(args);
    }

    /** A call of a plugin or JavaScript function: arity and types checked here, never at run time. */
    private Ir invoke(Expr.Call c, keyguard.functions.FunctionRef fn) {
        List<Ir> args = arguments(c, fn.name(), fn.params(), fn.signature(), "defined by " + fn.origin());
        if (args == null) return null;
        boolean allConst = args.stream().allMatch(a -> a instanceof Ir.Const);
        Ir.Invoke call = new Ir.Invoke(fn, args);
        if (allConst && fn.pure()) {
            // A pure function of constants is computed once, now. If it fails, the call stays
            // and fails at run time, where `on error` decides and the audit log shows it.
            try {
                return new Ir.Const(fn.result(), IrInterpreter.eval(call, null, null, null));
            } catch (keyguard.functions.FunctionFailure ignored) {
                return call;
            }
        }
        return call;
    }

    private Ir path(Expr.Path p) {
        List<Name> seg = p.segments();
        String first = seg.get(0).text();
        if (seg.size() == 1) {
            Ir.Const param = params.get(first);
            if (param != null) {
                usedParameter = true;
                return param;
            }
            DataClass cls = DataClass.parse(first);
            if (cls != null) return new Ir.Const(Type.CLASS, cls.ordinal());
            int day = IrInterpreter.weekday(first);
            if (day != 0) return new Ir.Const(Type.WEEKDAY, day);
            Set<String> known = new LinkedHashSet<>(params.keySet());
            known.addAll(ROOTS);
            for (DataClass d : DataClass.values()) known.add(d.word());
            String hint = ROOTS.contains(first) ? "`" + first + "` needs a field, e.g. `" + example(first) + "`"
                    : Suggestions.didYouMean(first, known, params.isEmpty()
                            ? "conditions read `request`, `key`, `model`, `time` and `usage`"
                            : "parameters here: " + Suggestions.list(params.keySet()));
            return error(Diagnostic.error(Code.KG0106, seg.get(0).span(), "unknown name `" + first + "`").label("not defined").help(hint));
        }
        if (first.equals("usage")) {
            StringBuilder rest = new StringBuilder();
            for (int i = 1; i < seg.size(); i++) {
                if (i > 1) rest.append('.');
                rest.append(seg.get(i).text());
            }
            CounterRef ref = CounterRef.parse(rest.toString());
            if (ref == null) {
                return error(Diagnostic.error(Code.KG0408, p.span(), "`" + p.dotted() + "` is not a counter")
                        .label("expected usage.<metric>.<scope>.<window>")
                        .help("e.g. `usage.requests.key.1m`, `usage.tokens.policy.1d`, `usage.concurrent.key`, `usage.spend.policy.month`"));
            }
            return new Ir.Usage(ref);
        }
        if (!ROOTS.contains(first)) {
            Set<String> known = new LinkedHashSet<>(ROOTS);
            return error(Diagnostic.error(Code.KG0106, seg.get(0).span(), "unknown name `" + first + "`")
                    .label("not a root")
                    .help(Suggestions.didYouMean(first, known, "conditions read `request`, `key`, `model`, `time` and `usage`")));
        }
        String field = seg.get(1).text();
        Field f = Field.byPath(first + "." + field);
        Ir base;
        if (f != null) {
            base = new Ir.Read(f);
        } else if (first.equals("key") && !KEY_FIELDS.contains(field)) {
            base = label(field, seg.get(1).span());
            if (base == null) return null;
        } else {
            List<String> fields = new ArrayList<>();
            for (Field candidate : Field.values()) if (candidate.root().equals(first)) fields.add(candidate.leaf());
            return error(Diagnostic.error(Code.KG0107, seg.get(1).span(), "`" + first + "` has no field `" + field + "`")
                    .label("unknown field")
                    .help(Suggestions.didYouMean(field, fields, "fields of `" + first + "`: " + Suggestions.list(fields))));
        }
        if (seg.size() == 2) return base;
        if (base.type() == Type.MAP && seg.size() == 3) {
            if (f == Field.KEY_LABELS) return label(seg.get(2).text(), seg.get(2).span());
            return new Ir.Lookup(base, new Ir.Const(Type.STRING, seg.get(2).text()));
        }
        return error(Diagnostic.error(Code.KG0107, seg.get(2).span(), "`" + first + "." + field + "` has no field `" + seg.get(2).text() + "`")
                .label(base.type() == Type.MAP ? "maps take one key" : "a " + base.type().word() + " has no fields"));
    }

    private Ir index(Expr.Index ix) {
        Ir target = check(ix.target());
        Ir key = check(ix.index());
        if (target == null || key == null) return null;
        if (target.type() != Type.MAP) {
            return error(Diagnostic.error(Code.KG0410, ix.span(), "cannot index " + article(target.type()))
                    .label("only maps can be indexed")
                    .help("maps are `request.tags`, `request.metadata` and `key.labels`"));
        }
        if (key.type() != Type.STRING) {
            return error(Diagnostic.error(Code.KG0410, ix.index().span(), "map keys are strings, not " + article(key.type())).label("not a string"));
        }
        if (target instanceof Ir.Read r && r.field() == Field.KEY_LABELS && labels != null) {
            if (!(key instanceof Ir.Const c)) {
                return error(Diagnostic.error(Code.KG0411, ix.index().span(), "labels are read by name")
                        .label("not a constant")
                        .help("write `key.labels[\"env\"]` or `key.env`: a rule may only trust declared labels"));
            }
            return label((String) c.value(), ix.index().span());
        }
        return new Ir.Lookup(target, key);
    }

    // ------------------------------------------------------------------ helpers

    private Ir expect(Ir ir, Type type, Span span, String why) {
        if (ir == null) return null;
        if (ir.type() != type) {
            return error(Diagnostic.error(Code.KG0401, span, "expected " + article(type) + ", found " + article(ir.type()))
                    .label(why));
        }
        return ir;
    }

    private Ir error(Diagnostic d) {
        diagnostics.add(d);
        return null;
    }

    static boolean ordered(Type t) { return t == Type.INT || t == Type.CLASS || t == Type.WEEKDAY; }

    static long ordinal(Object v) { return v instanceof Long l ? l : (Integer) v; }

    private static boolean constCompare(Ir.Op op, Object a, Object b) {
        return switch (op) {
            case EQ -> a.equals(b);
            case NE -> !a.equals(b);
            case LT -> ordinal(a) < ordinal(b);
            case LE -> ordinal(a) <= ordinal(b);
            case GT -> ordinal(a) > ordinal(b);
            case GE -> ordinal(a) >= ordinal(b);
        };
    }

    static String article(Type t) {
        return switch (t) {
            case INT -> "an integer";
            case STRING -> "a string";
            case BOOL -> "a boolean";
            case CLASS -> "a data class";
            case WEEKDAY -> "a weekday";
            case MAP -> "a map";
            case LIST -> "a list";
            case RANGE -> "a range";
        };
    }

    private static String hintFor(Type l, Type r) {
        if ((l == Type.STRING && r == Type.INT) || (l == Type.INT && r == Type.STRING)) {
            return "strings are quoted, numbers are not";
        }
        if (l == Type.STRING && r == Type.CLASS || l == Type.CLASS && r == Type.STRING) {
            return "data classes are written without quotes: `internal`";
        }
        return "";
    }

    private static String signature(Builtin fn) {
        StringBuilder sb = new StringBuilder(fn.word()).append('(');
        for (int i = 0; i < fn.params().size(); i++) {
            if (i > 0) sb.append(", ");
            sb.append(fn.params().get(i).word());
        }
        return sb.append(") -> ").append(fn.result().word()).toString();
    }

    private static String example(String root) {
        return switch (root) {
            case "request" -> "request.model";
            case "key" -> "key.name";
            case "model" -> "model.id";
            case "time" -> "time.hour";
            default -> "usage.requests.key.1m";
        };
    }
}
