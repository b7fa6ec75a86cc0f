package keyguard.lang.syntax;

import java.math.BigDecimal;
import keyguard.lang.source.Span;

/** An amount in a limit or budget: a number, or the name of a template parameter. */
public record Quantity(BigDecimal number, Name parameter, String raw, Span span) {
    public boolean isParameter() { return parameter != null; }
}
