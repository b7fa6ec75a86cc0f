package keyguard.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import org.HdrHistogram.Histogram;

/**
 * How long a revocation takes to hold on every node of a fleet: creates a key and revokes
 * it through one node's admin API, {@code --count} times, and records the revoke call's
 * latency — which returns only once every live node has applied it — and the creation's
 * (acknowledged the same way). Fails if any call names a node that did not acknowledge.
 *
 * <pre>
 * java -cp bench/target/benchmarks.jar keyguard.bench.FleetRevocations \
 *      --admin http://127.0.0.1:18104 --token T --policy bench --count 500 [--warmup 50]
 * </pre>
 */
public final class FleetRevocations {
    private FleetRevocations() {}

    public static void main(String[] args) throws Exception {
        String admin = "http://127.0.0.1:8081";
        String token = "";
        String policy = "bench";
        int count = 500;
        int warmup = 50;
        for (int i = 0; i < args.length; i += 2) {
            switch (args[i]) {
                case "--admin" -> admin = args[i + 1];
                case "--token" -> token = args[i + 1];
                case "--policy" -> policy = args[i + 1];
                case "--count" -> count = Integer.parseInt(args[i + 1]);
                case "--warmup" -> warmup = Integer.parseInt(args[i + 1]);
                default -> throw new IllegalArgumentException("unknown argument " + args[i]);
            }
        }
        ObjectMapper json = new ObjectMapper();
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        Histogram revoke = new Histogram(60_000_000L, 3);
        Histogram create = new Histogram(60_000_000L, 3);
        for (int i = 0; i < warmup + count; i++) {
            long t0 = System.nanoTime();
            JsonNode created = call(http, json, admin + "/admin/keys", token, "{\"policy\":\"" + policy + "\",\"name\":\"revoke-bench\"}");
            long t1 = System.nanoTime();
            String id = created.path("id").asText();
            JsonNode revoked = call(http, json, admin + "/admin/keys/" + id + "/revoke", token, "{}");
            long t2 = System.nanoTime();
            for (JsonNode r : new JsonNode[] {created, revoked}) {
                if (!r.path("fleet").path("acknowledged").asBoolean()) throw new IllegalStateException("not acknowledged by every node: " + r);
            }
            if (i >= warmup) {
                create.recordValue((t1 - t0) / 1000);
                revoke.recordValue((t2 - t1) / 1000);
            }
        }
        print("create", create);
        print("revoke", revoke);
    }

    private static JsonNode call(HttpClient http, ObjectMapper json, String url, String token, String body) throws Exception {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10))
                .header("authorization", "Bearer " + token).POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() / 100 != 2) throw new IllegalStateException(url + ": " + r.statusCode() + " " + r.body());
        return json.readTree(r.body());
    }

    private static void print(String what, Histogram h) {
        System.out.printf("%s acknowledged by every node: n=%d p50=%.2f ms p90=%.2f ms p99=%.2f ms max=%.2f ms%n", what, h.getTotalCount(),
                h.getValueAtPercentile(50) / 1000.0, h.getValueAtPercentile(90) / 1000.0, h.getValueAtPercentile(99) / 1000.0, h.getMaxValue() / 1000.0);
        System.out.printf("RESULT %s %d %d %d %d%n", what, h.getValueAtPercentile(50), h.getValueAtPercentile(90), h.getValueAtPercentile(99), h.getMaxValue());
    }
}
