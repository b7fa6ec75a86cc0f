package keyguard.lang.syntax;

import java.math.BigDecimal;
import keyguard.lang.source.Span;

/** The value of a {@code provider}, {@code model} or {@code detector} setting. */
public sealed interface Value {
    Span span();

    record Str(StringLit lit) implements Value {
        public Span span() { return lit.span(); }
    }

    record Num(BigDecimal value, String raw, Span span) implements Value {}

    /** {@code 20ms}, {@code 1m}, {@code 128k}: a whole number with a unit suffix. */
    record Suffixed(long amount, String suffix, String raw, Span span) implements Value {}

    /** {@code env("NAME")}. */
    record Call(Name function, StringLit arg, Span span) implements Value {}

    record Word(Name word) implements Value {
        public Span span() { return word.span(); }
    }

    /** {@code ["a", "b"]}: a detector's word list. */
    record ListV(java.util.List<Expr> items, Span span) implements Value {}
}
