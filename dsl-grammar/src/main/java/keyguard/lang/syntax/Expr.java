package keyguard.lang.syntax;

import java.math.BigDecimal;
import java.util.List;
import keyguard.lang.source.Span;

/** Condition expressions, as written. Typing and name binding happen in the checker. */
public sealed interface Expr {
    Span span();

    record Str(StringLit lit) implements Expr {
        public Span span() { return lit.span(); }
    }

    record Int(long value, String raw, Span span) implements Expr {}

    record Dec(BigDecimal value, String raw, Span span) implements Expr {}

    record Bool(boolean value, Span span) implements Expr {}

    record Not(Expr operand, Span span) implements Expr {}

    record Neg(Expr operand, Span span) implements Expr {}

    /** {@code ==, !=, <, <=, >, >=, &&, ||}. */
    record Binary(String op, Expr left, Expr right, Span span) implements Expr {}

    record In(Expr element, Expr collection, Span span) implements Expr {}

    record Range(Expr low, Expr high, Span span) implements Expr {}

    record ListExpr(List<Expr> items, Span span) implements Expr {}

    record Call(Name function, List<Expr> args, Span span) implements Expr {}

    /** {@code a.b.c}; a single segment is a plain name. */
    record Path(List<Name> segments, Span span) implements Expr {
        public String dotted() {
            StringBuilder sb = new StringBuilder();
            for (Name n : segments) {
                if (!sb.isEmpty()) sb.append('.');
                sb.append(n.text());
            }
            return sb.toString();
        }
    }

    record Index(Expr target, Expr index, Span span) implements Expr {}

    /** Parenthesised, kept so the formatter and the reason text can reproduce the source. */
    record Paren(Expr inner, Span span) implements Expr {}
}
