package keyguard.providers;

import keyguard.policy.Usage;

/** How a call ended, reported exactly once: the settle point for usage and audit. */
@FunctionalInterface
public interface CallListener {
    /**
     * @param status the HTTP status the caller got (a mid-stream failure keeps 200)
     * @param outcome {@code ok}, {@code client_gone}, {@code upstream_error}, {@code upstream_timeout}, …
     * @param usage what the call used in billing terms: the provider's report where it gave
     *     one, else the gateway's count of the prompt and of everything generated; null when
     *     the provider may have billed the call and nothing tells how much (a caller gone
     *     before the provider's report, no headers in time, a reply cut off or unreadable)
     * @param billed true when {@code usage} is the provider's own final report
     */
    void ended(int status, String outcome, Usage usage, boolean billed);
}
