package keyguard.counters;

import keyguard.policy.Limit;

/**
 * A request a limit or budget refused: nothing was reserved.
 *
 * @param used what the counter held when it refused (requests, tokens, in flight, micro-dollars)
 * @param retryAfterMillis when the same request would fit; -1 if it never can (it alone
 *     exceeds the limit), for a budget the end of the period
 * @param resetsAtMillis when the counter is empty again: window drained or period over;
 *     0 for concurrency
 */
public record Refused(Limit limit, long used, long retryAfterMillis, long resetsAtMillis) implements Admission {}
