package keyguard.counters;

/**
 * A request the gateway could not take because this process already holds its maximum of
 * reservations in flight ({@code GatewayConfig.Counters.maxInFlight}): nothing was reserved,
 * and the caller is told to come back (503 {@code overloaded}). Every policy's per-key
 * concurrency cap keeps one key from getting here alone.
 */
public record Overloaded(int inFlight) implements Admission {}
