package keyguard.lang.syntax;

import java.math.BigDecimal;
import keyguard.lang.source.Span;

/** {@code input 0.15 usd per 1m tokens}. */
public record PriceTerm(Name direction, BigDecimal amount, String amountRaw, Name currency, String per, Span perSpan, Name unit, Span span) {}
