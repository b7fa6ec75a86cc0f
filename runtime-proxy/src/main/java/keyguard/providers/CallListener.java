package keyguard.providers;

/** How a call ended, reported exactly once: the settle point for usage and audit. */
@FunctionalInterface
public interface CallListener {
    /**
     * @param status the HTTP status the caller got (a mid-stream failure keeps 200)
     * @param outcome {@code ok}, {@code client_gone}, {@code upstream_error}, {@code upstream_timeout}, …
     * @param promptTokens from the provider's usage when it reported one, else the estimate
     * @param completionTokens from the provider's usage, else counted from the streamed text
     */
    void ended(int status, String outcome, long promptTokens, long completionTokens);
}
