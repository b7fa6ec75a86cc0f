package keyguard.metrics;

import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.CounterWithCallback;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import keyguard.revision.LoadedPolicies;

/**
 * The gateway's metrics, in Prometheus text format at {@code GET /metrics} on the admin
 * port: requests by policy, model and outcome; the gateway's own (decision) time, the
 * upstream's and the whole request's;
 * tokens and spend; the policy revision and reload failures; requests in flight.
 */
public final class Metrics {
    // Every metric is built withoutExemplars(), and the histograms classicOnly(). Exemplars
    // need a tracer's span context, which the gateway has none of, yet each sampler still
    // schedules a wake-up of the client's scheduler thread after an observation (about 70 a
    // second under load). Native histograms appear only in the protobuf format, never in the
    // text format this class writes. Neither changes a line of GET /metrics.
    private final PrometheusRegistry registry = new PrometheusRegistry();
    private final PrometheusTextFormatWriter writer = PrometheusTextFormatWriter.create();

    final Counter requests = Counter.builder().name("keyguard_requests_total")
            .help("Requests by policy, requested model and outcome (ok, model_not_allowed, rate_limit, budget, upstream_error, ...)")
            .labelNames("policy", "model", "outcome").withoutExemplars().register(registry);
    final Histogram gateway = Histogram.builder().name("keyguard_gateway_seconds")
            .help("The gateway's own time per request, from the body read to forwarding").classicOnly().withoutExemplars().register(registry);
    final Histogram upstream = Histogram.builder().name("keyguard_upstream_seconds")
            .help("The upstream's part of a request: from forwarding to the end of its response").classicOnly().withoutExemplars().register(registry);
    final Histogram total = Histogram.builder().name("keyguard_request_seconds")
            .help("Whole requests, from the body read to the last byte of the response").classicOnly().withoutExemplars().register(registry);
    final Counter tokens = Counter.builder().name("keyguard_tokens_total")
            .help("Tokens used, as the provider reported them").labelNames("policy", "model", "kind").withoutExemplars().register(registry);
    final Counter spend = Counter.builder().name("keyguard_spend_usd_total")
            .help("Spend in US dollars, from the model prices").labelNames("policy", "model").withoutExemplars().register(registry);

    private final Supplier<LoadedPolicies> policies;

    public Metrics(Supplier<LoadedPolicies> policies, LongSupplier reloadFailures, LongSupplier inFlight) {
        this.policies = policies;
        GaugeWithCallback.builder().name("keyguard_policy_revision_info").help("The policy revision being served (value 1)")
                .labelNames("revision").callback(cb -> cb.call(1, policies.get().set().revision())).register(registry);
        CounterWithCallback.builder().name("keyguard_policy_reload_failures_total").help("Policy reloads refused (compile errors, failed tests)")
                .callback(cb -> cb.call(reloadFailures.getAsLong())).register(registry);
        GaugeWithCallback.builder().name("keyguard_requests_in_flight").help("Admitted requests not yet ended, streams included")
                .callback(cb -> cb.call(inFlight.getAsLong())).register(registry);
    }

    final Counter functionFailures = Counter.builder().name("keyguard_function_failures_total")
            .help("Policy function calls that failed (threw, timed out, hit a limit, returned the wrong type)")
            .labelNames("policy", "function", "kind").withoutExemplars().register(registry);

    public void functionFailed(keyguard.policy.FunctionError e) {
        functionFailures.labelValues(e.policy(), e.function(), e.kind().name().toLowerCase(java.util.Locale.ROOT)).inc();
    }

    /**
     * Counts a request. {@code model} is what the caller asked for: it becomes a label only
     * when it names a declared model, else {@code unknown}, so that no caller can add
     * label values (each kept forever) by inventing model names.
     */
    public void requested(String policy, String model, String outcome) {
        requests.labelValues(policy, modelLabel(model), outcome).inc();
    }

    private String modelLabel(String requested) {
        if (requested == null) return "";
        return policies.get().set().model(requested) != null ? requested : "unknown";
    }

    public void completed(String policy, String model, long prompt, long completion, long costMicros, long gatewayNanos, long totalNanos) {
        tokens.labelValues(policy, model, "prompt").inc(prompt);
        tokens.labelValues(policy, model, "completion").inc(completion);
        spend.labelValues(policy, model).inc(costMicros / 1e6);
        gateway.observe(gatewayNanos / 1e9);
        upstream.observe(Math.max(0, totalNanos - gatewayNanos) / 1e9);
        total.observe(totalNanos / 1e9);
    }

    /**
     * The fleet as this node sees it: live and stale nodes, each node's revision (1 per
     * node), nodes serving a revision other than this one's, and the Redis round trips and
     * latency of this node.
     */
    public void fleet(keyguard.fleet.Fleet fleet) {
        GaugeWithCallback.builder().name("keyguard_fleet_nodes").help("Nodes of the fleet by state (live: a heartbeat in the last 3 s)")
                .labelNames("state").callback(cb -> {
                    try {
                        var nodes = fleet.nodesRecent();
                        cb.call(nodes.stream().filter(keyguard.fleet.FleetNodes.Node::live).count(), "live");
                        cb.call(nodes.stream().filter(n -> !n.live()).count(), "stale");
                    } catch (keyguard.fleet.Fleet.Unreachable e) {
                        // Redis away: no value this scrape
                    }
                }).register(registry);
        GaugeWithCallback.builder().name("keyguard_fleet_node_info").help("Live nodes of the fleet with their version and policy revision (value 1)")
                .labelNames("node", "version", "revision").callback(cb -> {
                    try {
                        for (var n : fleet.nodesRecent()) if (n.live()) cb.call(1, n.name(), n.version(), n.revision());
                    } catch (keyguard.fleet.Fleet.Unreachable e) {
                        // Redis away
                    }
                }).register(registry);
        GaugeWithCallback.builder().name("keyguard_fleet_revision_mismatch").help("Live nodes serving a policy revision other than this node's")
                .callback(cb -> {
                    try {
                        String mine = policies.get().set().revision();
                        cb.call(fleet.nodesRecent().stream().filter(n -> n.live() && !n.revision().equals(mine)).count());
                    } catch (keyguard.fleet.Fleet.Unreachable e) {
                        // Redis away
                    }
                }).register(registry);
        CounterWithCallback.builder().name("keyguard_fleet_redis_round_trips_total").help("Round trips this node made to Redis")
                .callback(cb -> cb.call(fleet.roundTrips())).register(registry);
        GaugeWithCallback.builder().name("keyguard_fleet_redis_latency_seconds").help("Mean latency of this node's Redis round trips")
                .callback(cb -> cb.call(fleet.redisLatencyMicros() / 1e6)).register(registry);
        GaugeWithCallback.builder().name("keyguard_fleet_redis_up").help("Whether this node's Redis connection is up (1) or not (0)")
                .callback(cb -> cb.call(fleet.redisUp() ? 1 : 0)).register(registry);
    }

    /**
     * The shadow revision's decisions (docs/policy-changes.md): agreed, disagreed and
     * dropped (the shadow fell behind), and disagreements by policy and outcomes.
     */
    public void shadow(keyguard.replay.Shadow shadow) {
        CounterWithCallback.builder().name("keyguard_shadow_decisions_total")
                .help("Live requests decided again by the shadow revision, by result (agree, disagree, dropped: the shadow fell behind)")
                .labelNames("result").callback(cb -> {
                    cb.call(shadow.agreed(), "agree");
                    cb.call(shadow.disagreed(), "disagree");
                    cb.call(shadow.dropped(), "dropped");
                }).register(registry);
        CounterWithCallback.builder().name("keyguard_shadow_disagreements_total")
                .help("Requests the shadow revision decides otherwise, by policy and outcome (live, shadow)")
                .labelNames("policy", "from", "to").callback(cb -> shadow.forEachDisagreement((k, v) -> cb.call(v, k.get(0), k.get(1), k.get(2))))
                .register(registry);
        GaugeWithCallback.builder().name("keyguard_shadow_active").help("Whether a shadow revision is loaded (1) or not (0)")
                .callback(cb -> cb.call(shadow.active() ? 1 : 0)).register(registry);
    }

    public String scrape() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            writer.write(out, registry.scrape());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toString(java.nio.charset.StandardCharsets.UTF_8);
    }

    public String contentType() { return writer.getContentType(); }
}
