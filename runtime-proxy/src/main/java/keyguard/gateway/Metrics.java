package keyguard.gateway;

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

/**
 * The gateway's metrics, in Prometheus text format at {@code GET /metrics} on the admin
 * port: requests by policy, model and outcome; the gateway's own (decision) time, the
 * upstream's and the whole request's;
 * tokens and spend; the policy revision and reload failures; requests in flight.
 */
public final class Metrics {
    private final PrometheusRegistry registry = new PrometheusRegistry();
    private final PrometheusTextFormatWriter writer = PrometheusTextFormatWriter.create();

    final Counter requests = Counter.builder().name("keyguard_requests_total")
            .help("Requests by policy, requested model and outcome (ok, model_not_allowed, rate_limit, budget, upstream_error, ...)")
            .labelNames("policy", "model", "outcome").register(registry);
    final Histogram gateway = Histogram.builder().name("keyguard_gateway_seconds")
            .help("The gateway's own time per request, from the body read to forwarding").register(registry);
    final Histogram upstream = Histogram.builder().name("keyguard_upstream_seconds")
            .help("The upstream's part of a request: from forwarding to the end of its response").register(registry);
    final Histogram total = Histogram.builder().name("keyguard_request_seconds")
            .help("Whole requests, from the body read to the last byte of the response").register(registry);
    final Counter tokens = Counter.builder().name("keyguard_tokens_total")
            .help("Tokens used, as the provider reported them").labelNames("policy", "model", "kind").register(registry);
    final Counter spend = Counter.builder().name("keyguard_spend_usd_total")
            .help("Spend in US dollars, from the model prices").labelNames("policy", "model").register(registry);

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
            .labelNames("policy", "function", "kind").register(registry);

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
