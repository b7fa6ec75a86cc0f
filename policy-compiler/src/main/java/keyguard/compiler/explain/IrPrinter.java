package keyguard.compiler.explain;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import keyguard.policy.DataClass;
import keyguard.policy.ir.Field;
import keyguard.policy.ir.Ir;
import keyguard.policy.ir.IrInterpreter;
import keyguard.policy.ir.Type;

/** Prints typed conditions back in the language's syntax, for explanations. */
public final class IrPrinter {
    private IrPrinter() {}

    public static String print(Ir ir) {
        return print(ir, 0);
    }

    /** Precedence: 0 top, 1 ||, 2 &&, 3 comparison, 4 unary/primary. */
    private static String print(Ir ir, int context) {
        return switch (ir) {
            case Ir.Const c -> literal(c.type(), c.value());
            case Ir.Read r -> r.field().path();
            case Ir.Usage u -> "usage." + u.counter();
            case Ir.Lookup l -> l.map() instanceof Ir.Read r && r.field() == Field.KEY_LABELS && l.key() instanceof Ir.Const k
                    && ((String) k.value()).matches("[A-Za-z_][A-Za-z_0-9]*") && !List.of("id", "name", "owner", "labels").contains(k.value())
                    ? "key." + k.value() : print(l.map(), 4) + "[" + print(l.key(), 0) + "]";
            case Ir.Not n -> "!" + print(n.operand(), 4);
            case Ir.Neg n -> "-" + print(n.operand(), 4);
            case Ir.And a -> paren(print(a.left(), 2) + " && " + print(a.right(), 2), context > 2);
            case Ir.Or o -> paren(print(o.left(), 1) + " || " + print(o.right(), 1), context > 1);
            case Ir.Compare c -> paren(print(c.left(), 4) + " " + c.op().symbol() + " " + print(c.right(), 4), context > 3);
            case Ir.InList l -> {
                List<String> items = new ArrayList<>();
                for (Object v : l.values()) items.add(literal(l.element().type(), v));
                yield paren(print(l.element(), 4) + " in [" + String.join(", ", items) + "]", context > 3);
            }
            case Ir.InRange r -> paren(print(r.element(), 4) + " in " + bound(r.element().type(), r.low()) + ".." + bound(r.element().type(), r.high()),
                    context > 3);
            case Ir.Call c -> {
                List<String> args = new ArrayList<>();
                for (Ir a : c.args()) args.add(print(a, 0));
                yield c.function().word() + "(" + String.join(", ", args) + ")";
            }
            case Ir.Invoke c -> {
                List<String> args = new ArrayList<>();
                for (Ir a : c.args()) args.add(print(a, 0));
                yield c.function().name() + "(" + String.join(", ", args) + ")";
            }
        };
    }

    private static String bound(Type t, long v) {
        return t == Type.INT ? Long.toString(v) : literal(t, (int) v);
    }

    static String literal(Type t, Object v) {
        return switch (t) {
            case STRING -> "\"" + ((String) v).replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
            case CLASS -> DataClass.values()[(Integer) v].word();
            case WEEKDAY -> IrInterpreter.weekdayWord((Integer) v);
            default -> String.valueOf(v);
        };
    }

    private static String paren(String s, boolean needed) {
        return needed ? "(" + s + ")" : s;
    }

    /** The inputs an expression reads (fields, labels, counters), in order of appearance. */
    static Set<Ir> leaves(Ir ir) {
        Set<Ir> out = new LinkedHashSet<>();
        collect(ir, out);
        return out;
    }

    private static void collect(Ir ir, Set<Ir> out) {
        switch (ir) {
            case Ir.Read r -> out.add(r);
            case Ir.Usage u -> out.add(u);
            case Ir.Lookup l -> out.add(l);
            case Ir.Not n -> collect(n.operand(), out);
            case Ir.Neg n -> collect(n.operand(), out);
            case Ir.And a -> {
                collect(a.left(), out);
                collect(a.right(), out);
            }
            case Ir.Or o -> {
                collect(o.left(), out);
                collect(o.right(), out);
            }
            case Ir.Compare c -> {
                collect(c.left(), out);
                collect(c.right(), out);
            }
            case Ir.InList l -> collect(l.element(), out);
            case Ir.InRange r -> collect(r.element(), out);
            case Ir.Call c -> c.args().forEach(a -> collect(a, out));
            case Ir.Invoke c -> {
                c.args().forEach(a -> collect(a, out));
                out.add(c); // its result is an input of the decision too
            }
            case Ir.Const c -> { }
        }
    }
}
