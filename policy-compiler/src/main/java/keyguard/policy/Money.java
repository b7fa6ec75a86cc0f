package keyguard.policy;

import java.math.BigDecimal;

/** Money is integer micro-dollars everywhere; this only formats and parses. */
public final class Money {
    private Money() {}

    public static String format(long micros) {
        return BigDecimal.valueOf(micros, 6).stripTrailingZeros().toPlainString();
    }

    /** Micro-dollars of a usd amount with at most six decimals; throws ArithmeticException otherwise. */
    public static long micros(BigDecimal usd) {
        return usd.movePointRight(6).longValueExact();
    }
}
