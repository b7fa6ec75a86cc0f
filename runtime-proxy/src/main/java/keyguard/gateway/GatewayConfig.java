package keyguard.gateway;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.function.Function;

/**
 * How to start a gateway. {@code env} supplies provider credentials and
 * {@code KEYGUARD_ADMIN_TOKEN} (tests pass a map instead of the process environment).
 * {@code policyWatchDebounce} is how long the policy watcher waits for quiet before it
 * reloads; null turns the watcher off (reloads only on {@code POST /admin/policies/reload}).
 * {@code oidc}, when set, lets the identity provider's JWTs into the admin API.
 */
public record GatewayConfig(Path policies, Path data, String host, int port, int adminPort, String adminHost, long maxBodyBytes,
                            Function<String, String> env, Clock clock, Counters counters, Duration policyWatchDebounce,
                            keyguard.admin.OidcConfig oidc, Path plugins) {

    /** The same configuration without a plugin folder. */
    public GatewayConfig(Path policies, Path data, String host, int port, int adminPort, String adminHost, long maxBodyBytes,
                         Function<String, String> env, Clock clock, Counters counters, Duration policyWatchDebounce,
                         keyguard.admin.OidcConfig oidc) {
        this(policies, data, host, port, adminPort, adminHost, maxBodyBytes, env, clock, counters, policyWatchDebounce, oidc, null);
    }

    public static final long DEFAULT_MAX_BODY = 10L << 20;

    /**
     * Sizing of the counter store, and how long a reservation may stay unsettled before the
     * reaper releases it (longer than the longest stream you expect).
     */
    public record Counters(long maxCounters, int maxInFlight, Duration reservationTtl, Duration reapEvery) {
        public static final Counters DEFAULT = new Counters(1_000_000, 16_384, Duration.ofMinutes(30), Duration.ofSeconds(5));
    }

    public static GatewayConfig defaults(Path policies, Path data) {
        return new GatewayConfig(policies, data, "127.0.0.1", 8080, 8081, "127.0.0.1", DEFAULT_MAX_BODY, System::getenv,
                Clock.systemUTC(), Counters.DEFAULT, Duration.ofMillis(300), null, null);
    }
}
