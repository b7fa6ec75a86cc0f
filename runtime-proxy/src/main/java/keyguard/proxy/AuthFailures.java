package keyguard.proxy;

import io.undertow.server.HttpServerExchange;
import java.net.InetSocketAddress;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import keyguard.wire.ApiShape;
import keyguard.wire.ErrorCode;
import keyguard.wire.GatewayError;
import keyguard.wire.Responses;

/**
 * Slows down a client address that keeps presenting bad API keys, without ever touching a
 * valid key: only failed authentications are counted and answered here, so a valid key
 * works at full speed from any address, also one an attacker shares (a NAT).
 *
 * <p>Per address, in a window of {@link #WINDOW_MILLIS}: the first {@link #FREE} failures are
 * answered at once; each further one waits longer before its 401 (from 100 ms, doubling, up
 * to 2 s, held without a thread: the answer is scheduled on the connection's IO thread);
 * past {@link #REFUSE_AFTER} failures the address gets 429 with {@code retry-after} at once.
 *
 * <p>An IPv6 client counts by its /64. Memory is fixed: addresses hash into {@value #SLOTS} slots, a colliding address takes
 * the slot over (an attacker can lose its own history, never grow the table).
 */
public final class AuthFailures {
    static final int SLOTS = 4096;
    static final int FREE = 10;
    static final int REFUSE_AFTER = 30;
    static final long WINDOW_MILLIS = 60_000;
    private static final long FIRST_DELAY = 100;
    private static final long MAX_DELAY = 2_000;

    private final long[] owner = new long[SLOTS];
    private final long[] windowStart = new long[SLOTS];
    private final int[] failures = new int[SLOTS];
    private final java.time.Clock clock;

    public AuthFailures(java.time.Clock clock) {
        this.clock = clock;
    }

    /** Answers a failed authentication: at once, after a delay, or 429, by the address's recent failures. */
    public void answer(HttpServerExchange exchange, ApiShape shape, GatewayError error) {
        // The body is never read: close after the answer instead of draining whatever the
        // caller keeps sending (an unauthenticated caller must not hold a connection).
        exchange.setPersistent(false);
        int n = fail(address(exchange), clock.millis());
        if (n <= FREE) {
            Responses.error(exchange, shape, error, Map.of());
        } else if (n > REFUSE_AFTER) {
            long retry = Math.max(1, WINDOW_MILLIS / 1000);
            Responses.error(exchange, shape, ErrorCode.TOO_MANY_FAILED_AUTHENTICATIONS.error().header("retry-after", Long.toString(retry)), Map.of());
        } else {
            long delay = Math.min(MAX_DELAY, FIRST_DELAY << Math.min(16, n - FREE - 1));
            exchange.dispatch(io.undertow.util.SameThreadExecutor.INSTANCE, () -> exchange.getIoThread().executeAfter(
                    () -> Responses.error(exchange, shape, error, Map.of()), delay, TimeUnit.MILLISECONDS));
        }
    }

    /** Counts a failure of {@code address} at {@code now}; returns the failures in its current window, this one included. */
    synchronized int fail(long address, long now) {
        int slot = (int) ((address * 0x9E3779B97F4A7C15L) >>> 52) & (SLOTS - 1);
        if (owner[slot] != address || now - windowStart[slot] >= WINDOW_MILLIS) {
            owner[slot] = address;
            windowStart[slot] = now;
            failures[slot] = 0;
        }
        return ++failures[slot];
    }

    /** The client's address, IPv6 by its /64 (one host can rotate through a whole /64). */
    private static long address(HttpServerExchange exchange) {
        InetSocketAddress a = exchange.getSourceAddress();
        if (a == null || a.getAddress() == null) return 0;
        byte[] b = a.getAddress().getAddress();
        int n = b.length == 16 ? 8 : b.length;
        long h = 1125899906842597L;
        for (int i = 0; i < n; i++) h = 31 * h + b[i];
        return h;
    }
}
