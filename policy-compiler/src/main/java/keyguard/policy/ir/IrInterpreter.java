package keyguard.policy.ir;

import java.time.ZoneId;
import java.util.Locale;
import java.util.Map;
import keyguard.policy.DataClass;
import keyguard.policy.DecisionInput;
import keyguard.policy.ModelInfo;

/**
 * The reference semantics of conditions: a plain tree walk over boxed values. Slow on
 * purpose-free grounds only; it is the specification that the bytecode emitter must match.
 */
public final class IrInterpreter {
    private static final String[] WEEKDAYS = {"", "mon", "tue", "wed", "thu", "fri", "sat", "sun"};

    private IrInterpreter() {}

    public static boolean test(Ir ir, DecisionInput in, ModelInfo model, ZoneId zone) {
        return (Boolean) eval(ir, in, model, zone);
    }

    public static Object eval(Ir ir, DecisionInput in, ModelInfo model, ZoneId zone) {
        return switch (ir) {
            case Ir.Const c -> c.value();
            case Ir.Read r -> read(r.field(), in, model, zone);
            case Ir.Usage u -> in.usage().used(u.counter(), in.epochMillis());
            case Ir.Lookup l -> {
                @SuppressWarnings("unchecked")
                Map<String, String> map = (Map<String, String>) eval(l.map(), in, model, zone);
                String v = map.get((String) eval(l.key(), in, model, zone));
                yield v == null ? "" : v;
            }
            case Ir.Not n -> !(Boolean) eval(n.operand(), in, model, zone);
            case Ir.Neg n -> -(Long) eval(n.operand(), in, model, zone);
            case Ir.And a -> (Boolean) eval(a.left(), in, model, zone) && (Boolean) eval(a.right(), in, model, zone);
            case Ir.Or o -> (Boolean) eval(o.left(), in, model, zone) || (Boolean) eval(o.right(), in, model, zone);
            case Ir.Compare c -> compare(c.op(), eval(c.left(), in, model, zone), eval(c.right(), in, model, zone));
            case Ir.InList l -> l.values().contains(eval(l.element(), in, model, zone));
            case Ir.InRange r -> {
                long v = ordinal(eval(r.element(), in, model, zone));
                yield r.low() <= v && v <= r.high();
            }
            case Ir.Call c -> call(c, in, model, zone);
            case Ir.Invoke c -> {
                Object[] args = new Object[c.args().size()];
                for (int i = 0; i < args.length; i++) args[i] = eval(c.args().get(i), in, model, zone);
                yield c.function().invoke(args);
            }
        };
    }

    static Object read(Field f, DecisionInput in, ModelInfo m, ZoneId zone) {
        return switch (f) {
            case REQUEST_MODEL -> in.model();
            case REQUEST_ESTIMATED_TOKENS -> in.estimatedTokens();
            case REQUEST_MAX_TOKENS -> in.maxTokens();
            case REQUEST_STREAM -> in.stream();
            case REQUEST_CLASSIFICATION -> in.classificationOrdinal();
            case REQUEST_UNSCANNABLE -> in.unscannable();
            case REQUEST_TAGS -> in.requestTags();
            case REQUEST_METADATA -> in.metadata();
            case KEY_ID -> in.keyId();
            case KEY_NAME -> in.keyName();
            case KEY_OWNER -> in.keyOwner();
            case KEY_LABELS -> in.labels();
            case MODEL_ID -> m.name();
            case MODEL_PROVIDER -> m.provider();
            case MODEL_HOSTING -> m.hosting();
            case MODEL_MAX_CLASS -> m.maxClass().ordinal();
            case MODEL_CONTEXT -> m.context();
            case TIME_HOUR -> (long) in.hour(zone);
            case TIME_MINUTE -> (long) in.minute(zone);
            case TIME_WEEKDAY -> in.weekday(zone);
            case TIME_DATE -> in.date(zone);
        };
    }

    private static boolean compare(Ir.Op op, Object l, Object r) {
        if (op == Ir.Op.EQ) return l.equals(r);
        if (op == Ir.Op.NE) return !l.equals(r);
        int c = Long.compare(ordinal(l), ordinal(r));
        return switch (op) {
            case LT -> c < 0;
            case LE -> c <= 0;
            case GT -> c > 0;
            case GE -> c >= 0;
            default -> throw new IllegalStateException();
        };
    }

    private static long ordinal(Object v) {
        return v instanceof Long l ? l : (Integer) v;
    }

    private static Object call(Ir.Call c, DecisionInput in, ModelInfo m, ZoneId zone) {
        String a = (String) eval(c.args().get(0), in, m, zone);
        return switch (c.function()) {
            case STARTS_WITH -> a.startsWith((String) eval(c.args().get(1), in, m, zone));
            case ENDS_WITH -> a.endsWith((String) eval(c.args().get(1), in, m, zone));
            case CONTAINS -> a.contains((String) eval(c.args().get(1), in, m, zone));
            case MATCHES -> c.pattern().matcher(a).find();
            case LOWER -> a.toLowerCase(Locale.ROOT);
            case UPPER -> a.toUpperCase(Locale.ROOT);
        };
    }

    /** How a value reads in a reason text or an explanation. */
    public static String display(Ir ir, Object value) {
        return display(ir.type(), value);
    }

    public static String display(Type type, Object value) {
        return switch (type) {
            case CLASS -> DataClass.values()[(Integer) value].word();
            case WEEKDAY -> WEEKDAYS[(Integer) value];
            default -> String.valueOf(value);
        };
    }

    public static String weekdayWord(int iso) { return WEEKDAYS[iso]; }

    /** ISO number of {@code mon} … {@code sun}, or 0. */
    public static int weekday(String word) {
        for (int i = 1; i < WEEKDAYS.length; i++) if (WEEKDAYS[i].equals(word)) return i;
        return 0;
    }
}
