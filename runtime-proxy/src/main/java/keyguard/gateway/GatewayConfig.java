package keyguard.gateway;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.function.Function;
import keyguard.admin.OidcConfig;
import keyguard.compiler.Trust;

/**
 * How to start a gateway. Immutable: {@link #defaults} and the {@code with…} copies.
 *
 * @param host the data plane's address; {@code adminHost} the admin API's (and /metrics'),
 *     which stays on loopback unless moved on purpose
 * @param env provider credentials and {@code KEYGUARD_ADMIN_TOKEN} (tests pass a map
 *     instead of the process environment)
 * @param policyWatchDebounce how long the policy watcher waits for quiet before it reloads;
 *     null turns the watcher off (reloads only on {@code POST /admin/policies/reload})
 * @param oidc when set, lets the identity provider's JWTs into the admin API
 * @param plugins a folder of plugin jars; null for none
 * @param connections timeouts and the connection cap of the data plane
 * @param trust what the policy repository may declare where (operator part, credential
 *     variables, base URLs)
 * @param metricsAuth whether {@code GET /metrics} needs a token
 * @param auditFailOpen false (the default): a request whose audit event cannot be written
 *     is answered 503 and nothing is forwarded; true keeps serving and logs the loss
 * @param node this gateway's name, in every audit event (the host name by default)
 * @param workloadIdentity the operator's file of trusted workload-token issuers
 *     (docs/identity.md), or null: then only {@code kg-} keys are accepted
 * @param fleet when set, keys, limits, budgets and spend are shared through Redis with
 *     the other gateways of the fleet; null for a single node
 */
public record GatewayConfig(Path policies, Path data, String host, int port, String adminHost, int adminPort, long maxBodyBytes,
                            Function<String, String> env, Clock clock, Counters counters, Duration policyWatchDebounce,
                            OidcConfig oidc, Path plugins, Connections connections, Trust trust, MetricsAuth metricsAuth,
                            boolean auditFailOpen, String node, keyguard.fleet.FleetConfig fleet, Path workloadIdentity) {

    public static final long DEFAULT_MAX_BODY = 10L << 20;

    public GatewayConfig {
        keyguard.fleet.FleetConfig.checkNode(node);
        if (fleet != null && !fleet.node().equals(node)) throw new IllegalArgumentException("the fleet's node name is the gateway's");
    }

    /**
     * Sizing of the counter store, and how long a reservation may stay unsettled before the
     * reaper releases it (longer than the longest stream you expect).
     *
     * @param maxInFlight requests holding reservations at once in this process; beyond it
     *     the gateway answers 503 {@code overloaded}
     */
    public record Counters(long maxCounters, int maxInFlight, Duration reservationTtl, Duration reapEvery) {
        public static final Counters DEFAULT = new Counters(1_000_000, 16_384, Duration.ofMinutes(30), Duration.ofSeconds(5));
    }

    /**
     * What a caller's connection may cost: the time to send the request head, the longest
     * pause while sending the body (and five times that for the whole body), how long one
     * write may wait for the caller to read, how long an idle keep-alive connection stays,
     * and how many connections are open at once (beyond it, new connections wait in the
     * kernel's accept queue; XNIO splits the cap evenly over the IO threads). A stream whose
     * upstream is silent (a model thinking) is not affected: these count the caller's own
     * slowness.
     */
    public record Connections(Duration requestHeaders, Duration bodyRead, Duration responseWrite, Duration keepAliveIdle,
                              int maxConnections) {
        public static final Connections DEFAULT = new Connections(Duration.ofSeconds(30), Duration.ofSeconds(60),
                Duration.ofSeconds(60), Duration.ofMinutes(2), 10_000);

        /** What the request path enforces itself: body pauses, the whole body (five pauses' worth), stuck writes. */
        public keyguard.proxy.CallerTimeouts caller() {
            return new keyguard.proxy.CallerTimeouts(bodyRead, bodyRead.multipliedBy(5), responseWrite);
        }
    }

    /** Who may read {@code GET /metrics}. */
    public enum MetricsAuth {
        /** Anyone who reaches the admin listener (fine on loopback). */
        NONE,
        /** A bearer token: the metrics token ({@code KEYGUARD_METRICS_TOKEN} or {@code data/metrics.token}) or the admin token. */
        TOKEN,
        /** {@link #TOKEN} when the admin listener is not on a loopback address, else {@link #NONE}. */
        AUTO
    }

    public static GatewayConfig defaults(Path policies, Path data) {
        return new GatewayConfig(policies, data, "127.0.0.1", 8080, "127.0.0.1", 8081, DEFAULT_MAX_BODY, System::getenv,
                Clock.systemUTC(), Counters.DEFAULT, Duration.ofMillis(300), null, null, Connections.DEFAULT, Trust.DEFAULT,
                MetricsAuth.AUTO, false, keyguard.fleet.FleetConfig.hostName(), null, null);
    }

    public GatewayConfig withListeners(String host, int port, String adminHost, int adminPort) {
        return new GatewayConfig(policies, data, host, port, adminHost, adminPort, maxBodyBytes, env, clock, counters,
                policyWatchDebounce, oidc, plugins, connections, trust, metricsAuth, auditFailOpen, node, fleet, workloadIdentity);
    }

    public GatewayConfig withMaxBodyBytes(long v) {
        return new GatewayConfig(policies, data, host, port, adminHost, adminPort, v, env, clock, counters,
                policyWatchDebounce, oidc, plugins, connections, trust, metricsAuth, auditFailOpen, node, fleet, workloadIdentity);
    }

    public GatewayConfig withEnv(Function<String, String> v) {
        return new GatewayConfig(policies, data, host, port, adminHost, adminPort, maxBodyBytes, v, clock, counters,
                policyWatchDebounce, oidc, plugins, connections, trust, metricsAuth, auditFailOpen, node, fleet, workloadIdentity);
    }

    public GatewayConfig withClock(Clock v) {
        return new GatewayConfig(policies, data, host, port, adminHost, adminPort, maxBodyBytes, env, v, counters,
                policyWatchDebounce, oidc, plugins, connections, trust, metricsAuth, auditFailOpen, node, fleet, workloadIdentity);
    }

    public GatewayConfig withCounters(Counters v) {
        return new GatewayConfig(policies, data, host, port, adminHost, adminPort, maxBodyBytes, env, clock, v,
                policyWatchDebounce, oidc, plugins, connections, trust, metricsAuth, auditFailOpen, node, fleet, workloadIdentity);
    }

    public GatewayConfig withPolicyWatch(Duration v) {
        return new GatewayConfig(policies, data, host, port, adminHost, adminPort, maxBodyBytes, env, clock, counters,
                v, oidc, plugins, connections, trust, metricsAuth, auditFailOpen, node, fleet, workloadIdentity);
    }

    public GatewayConfig withOidc(OidcConfig v) {
        return new GatewayConfig(policies, data, host, port, adminHost, adminPort, maxBodyBytes, env, clock, counters,
                policyWatchDebounce, v, plugins, connections, trust, metricsAuth, auditFailOpen, node, fleet, workloadIdentity);
    }

    public GatewayConfig withPlugins(Path v) {
        return new GatewayConfig(policies, data, host, port, adminHost, adminPort, maxBodyBytes, env, clock, counters,
                policyWatchDebounce, oidc, v, connections, trust, metricsAuth, auditFailOpen, node, fleet, workloadIdentity);
    }

    public GatewayConfig withConnections(Connections v) {
        return new GatewayConfig(policies, data, host, port, adminHost, adminPort, maxBodyBytes, env, clock, counters,
                policyWatchDebounce, oidc, plugins, v, trust, metricsAuth, auditFailOpen, node, fleet, workloadIdentity);
    }

    public GatewayConfig withTrust(Trust v) {
        return new GatewayConfig(policies, data, host, port, adminHost, adminPort, maxBodyBytes, env, clock, counters,
                policyWatchDebounce, oidc, plugins, connections, v, metricsAuth, auditFailOpen, node, fleet, workloadIdentity);
    }

    public GatewayConfig withMetricsAuth(MetricsAuth v) {
        return new GatewayConfig(policies, data, host, port, adminHost, adminPort, maxBodyBytes, env, clock, counters,
                policyWatchDebounce, oidc, plugins, connections, trust, v, auditFailOpen, node, fleet, workloadIdentity);
    }

    public GatewayConfig withAuditFailOpen(boolean v) {
        return new GatewayConfig(policies, data, host, port, adminHost, adminPort, maxBodyBytes, env, clock, counters,
                policyWatchDebounce, oidc, plugins, connections, trust, metricsAuth, v, node, fleet, workloadIdentity);
    }

    public GatewayConfig withNode(String v) {
        return new GatewayConfig(policies, data, host, port, adminHost, adminPort, maxBodyBytes, env, clock, counters,
                policyWatchDebounce, oidc, plugins, connections, trust, metricsAuth, auditFailOpen, v, fleet, workloadIdentity);
    }

    public GatewayConfig withFleet(keyguard.fleet.FleetConfig v) {
        return new GatewayConfig(policies, data, host, port, adminHost, adminPort, maxBodyBytes, env, clock, counters,
                policyWatchDebounce, oidc, plugins, connections, trust, metricsAuth, auditFailOpen, v == null ? node : v.node(), v, workloadIdentity);
    }

    public GatewayConfig withWorkloadIdentity(Path v) {
        return new GatewayConfig(policies, data, host, port, adminHost, adminPort, maxBodyBytes, env, clock, counters,
                policyWatchDebounce, oidc, plugins, connections, trust, metricsAuth, auditFailOpen, node, fleet, v);
    }

    /** Whether {@code /metrics} asks for a token under this configuration. */
    public boolean metricsNeedToken() {
        return switch (metricsAuth) {
            case NONE -> false;
            case TOKEN -> true;
            case AUTO -> !isLoopback(adminHost);
        };
    }

    public static boolean isLoopback(String host) {
        try {
            return java.net.InetAddress.getByName(host).isLoopbackAddress();
        } catch (java.net.UnknownHostException e) {
            return false;
        }
    }
}
