package keyguard.proxy;

import java.time.Duration;

/**
 * How slow a caller may be on the data plane, enforced by the request path itself rather
 * than by XNIO's {@code READ_TIMEOUT}/{@code WRITE_TIMEOUT}: Undertow's write timeout counts
 * the time between two writes, not how long one write is stuck, so a stream whose upstream
 * is silent for longer (a model thinking) would be cut (see docs/internals.md).
 *
 * @param bodyIdle the longest pause between two parts of a request body
 * @param bodyTotal the longest a whole request body may take to arrive
 * @param writeStuck the longest one write to the caller may wait for the caller to read
 */
public record CallerTimeouts(Duration bodyIdle, Duration bodyTotal, Duration writeStuck) {
    public static final CallerTimeouts NONE = new CallerTimeouts(Duration.ofDays(1), Duration.ofDays(1), Duration.ofDays(1));
}
