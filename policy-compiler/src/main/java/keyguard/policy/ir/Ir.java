package keyguard.policy.ir;

import java.util.List;
import keyguard.policy.CounterRef;

/**
 * Typed, name-bound, constant-folded conditions: what the checker produces and both
 * backends consume. Values: BOOL is {@link Boolean}, INT {@link Long}, STRING
 * {@link String}, CLASS an {@link Integer} ordinal of {@code DataClass}, WEEKDAY an
 * {@link Integer} 1 (Monday) … 7 (Sunday), MAP a {@code Map<String,String>}.
 */
public sealed interface Ir {
    Type type();

    /** Visits {@code ir} and every part of it, parents before their parts. */
    static void forEach(Ir ir, java.util.function.Consumer<Ir> visit) {
        visit.accept(ir);
        switch (ir) {
            case Lookup l -> { forEach(l.map(), visit); forEach(l.key(), visit); }
            case Not n -> forEach(n.operand(), visit);
            case Neg n -> forEach(n.operand(), visit);
            case And a -> { forEach(a.left(), visit); forEach(a.right(), visit); }
            case Or o -> { forEach(o.left(), visit); forEach(o.right(), visit); }
            case Compare c -> { forEach(c.left(), visit); forEach(c.right(), visit); }
            case InList l -> forEach(l.element(), visit);
            case InRange r -> forEach(r.element(), visit);
            case Call c -> c.args().forEach(a -> forEach(a, visit));
            case Invoke c -> c.args().forEach(a -> forEach(a, visit));
            case Const c -> { }
            case Read r -> { }
            case Usage u -> { }
        }
    }

    /** Whether {@code ir} or any part of it satisfies {@code test}. */
    static boolean anyMatch(Ir ir, java.util.function.Predicate<Ir> test) {
        boolean[] found = {false};
        forEach(ir, n -> found[0] |= test.test(n));
        return found[0];
    }

    record Const(Type type, Object value) implements Ir {
        public static final Const TRUE = new Const(Type.BOOL, Boolean.TRUE);
        public static final Const FALSE = new Const(Type.BOOL, Boolean.FALSE);

        public static Const bool(boolean b) { return b ? TRUE : FALSE; }
    }

    record Read(Field field) implements Ir {
        public Type type() { return field.type(); }
    }

    record Usage(CounterRef counter) implements Ir {
        public Type type() { return Type.INT; }
    }

    /** {@code map[key]}: the value, or {@code ""} when the key is absent. */
    record Lookup(Ir map, Ir key) implements Ir {
        public Type type() { return Type.STRING; }
    }

    record Not(Ir operand) implements Ir {
        public Type type() { return Type.BOOL; }
    }

    record Neg(Ir operand) implements Ir {
        public Type type() { return Type.INT; }
    }

    record And(Ir left, Ir right) implements Ir {
        public Type type() { return Type.BOOL; }
    }

    record Or(Ir left, Ir right) implements Ir {
        public Type type() { return Type.BOOL; }
    }

    enum Op {
        EQ("=="), NE("!="), LT("<"), LE("<="), GT(">"), GE(">=");

        private final String symbol;

        Op(String symbol) { this.symbol = symbol; }

        public String symbol() { return symbol; }

        public static Op bySymbol(String s) {
            for (Op op : values()) if (op.symbol.equals(s)) return op;
            return null;
        }
    }

    /** Both sides have the same type; ordering only for INT, CLASS and WEEKDAY. */
    record Compare(Op op, Ir left, Ir right) implements Ir {
        public Type type() { return Type.BOOL; }
    }

    /** Membership in a constant list; values have the element's type. */
    record InList(Ir element, List<Object> values) implements Ir {
        public Type type() { return Type.BOOL; }
    }

    /** {@code low <= element <= high}, inclusive, for INT (and WEEKDAY/CLASS ordinals). */
    record InRange(Ir element, long low, long high) implements Ir {
        public Type type() { return Type.BOOL; }
    }

    /**
     * A call of a plugin or JavaScript function. It may throw
     * {@link keyguard.functions.FunctionFailure}; the forbid rule around it catches that.
     */
    record Invoke(keyguard.functions.FunctionRef function, List<Ir> args) implements Ir {
        public Type type() { return function.result(); }
    }

    /** {@code pattern} is the compiled RE2J pattern for MATCHES, otherwise null. */
    record Call(Builtin function, List<Ir> args, com.google.re2j.Pattern pattern) implements Ir {
        public Type type() { return function.result(); }
    }
}
