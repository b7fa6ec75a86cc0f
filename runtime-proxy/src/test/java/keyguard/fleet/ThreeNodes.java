package keyguard.fleet;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import keyguard.testing.GatewayProcess;
import keyguard.testing.RedisServer;
import keyguard.testing.TcpProxy;

/**
 * A fleet for tests: one real Redis and three {@code keyguard serve --redis} processes
 * (separate JVMs and data directories) sharing a server secret and an admin token. Node
 * {@code c} reaches Redis through a {@link TcpProxy}, so a test can cut it off.
 */
final class ThreeNodes implements AutoCloseable {
    static final ObjectMapper JSON = new ObjectMapper();
    static final String ADMIN_TOKEN = "kga-" + "0123456789abcdef".repeat(3);
    static final String SECRET = "a7".repeat(32);
    static final String MODELS = """
            provider sim { builtin simulator }
            provider held { builtin simulator latency 6000ms }
            model "sim-small" { provider sim price input 1 usd per 1m tokens, output 2 usd per 1m tokens max_class internal }
            model "sim-held" { provider held price input 1 usd per 1m tokens, output 2 usd per 1m tokens max_class internal }
            """;

    final Path root;
    final Path policies;
    final RedisServer redis;
    final TcpProxy proxy;
    final GatewayProcess[] nodes = new GatewayProcess[3];
    final String lease;
    final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(10)).build();

    /** Starts Redis ({@code persistent}: fsync'd append-only file) and three nodes with these team policies. */
    ThreeNodes(Path root, boolean persistent, String lease, String teamPolicies) throws Exception {
        this.root = root;
        this.lease = lease;
        this.policies = Files.createDirectories(root.resolve("policies"));
        Files.writeString(Files.createDirectories(policies.resolve("platform")).resolve("models.kgp"), MODELS);
        Files.writeString(policies.resolve("team.kgp"), teamPolicies);
        this.redis = RedisServer.start(root.resolve("redis"), persistent);
        this.proxy = new TcpProxy(redis.port);
        List<Thread> starting = new ArrayList<>();
        List<Throwable> failed = new java.util.concurrent.CopyOnWriteArrayList<>();
        for (int i = 0; i < 3; i++) {
            int n = i;
            starting.add(Thread.ofPlatform().start(() -> {
                try {
                    nodes[n] = start(n, GatewayProcess.freePort(), GatewayProcess.freePort());
                } catch (Throwable t) {
                    failed.add(t);
                }
            }));
        }
        for (Thread t : starting) t.join();
        if (!failed.isEmpty()) {
            close();
            throw new AssertionError("a node did not start", failed.getFirst());
        }
    }

    static String name(int n) { return "node-" + (char) ('a' + n); }

    /** Starts node {@code n} (again) on these ports, over its data directory. */
    GatewayProcess start(int n, int port, int adminPort) throws Exception {
        String uri = n == 2 ? "redis://127.0.0.1:" + proxy.port() : redis.uri();
        return GatewayProcess.start(Duration.ofSeconds(90), port, adminPort, Map.of("KEYGUARD_SERVER_SECRET", SECRET, "KEYGUARD_ADMIN_TOKEN", ADMIN_TOKEN),
                "--policies", policies.toString(), "--data", root.resolve("data-" + name(n)).toString(), "--redis", uri, "--node", name(n),
                "--fleet-lease", lease);
    }

    /** Kills node {@code n} with SIGKILL and starts it again on the same ports and data. */
    void restart(int n) throws Exception {
        GatewayProcess old = nodes[n];
        old.kill();
        nodes[n] = start(n, old.port, old.adminPort);
    }

    Path data(int n) { return root.resolve("data-" + name(n)); }

    HttpRequest chatRequest(int node, String key, String model, boolean stream) {
        String body = "{\"model\":\"" + model + "\",\"max_tokens\":3,\"stream\":" + stream
                + (stream ? ",\"stream_options\":{\"include_usage\":true}" : "")
                + ",\"messages\":[{\"role\":\"user\",\"content\":\"tell me about fleets\"}]}";
        return HttpRequest.newBuilder(URI.create(nodes[node].base() + "/v1/chat/completions")).timeout(Duration.ofSeconds(60))
                .header("authorization", "Bearer " + key).header("content-type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build();
    }

    HttpResponse<String> chat(int node, String key, String model, boolean stream) throws Exception {
        return http.send(chatRequest(node, key, model, stream), HttpResponse.BodyHandlers.ofString());
    }

    /** {@code count} requests at once, spread over the nodes, every other one streaming. */
    List<HttpResponse<String>> storm(String key, String model, int count) {
        List<CompletableFuture<HttpResponse<String>>> all = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            all.add(http.sendAsync(chatRequest(i % 3, key, model, (i / 3) % 2 == 0), HttpResponse.BodyHandlers.ofString()));
        }
        return all.stream().map(CompletableFuture::join).toList();
    }

    JsonNode admin(int node, String method, String path, String body) throws Exception {
        HttpResponse<String> r = adminRaw(node, method, path, body);
        if (r.statusCode() / 100 != 2) throw new AssertionError(method + " " + path + " on " + name(node) + ": " + r.statusCode() + " " + r.body());
        return JSON.readTree(r.body());
    }

    HttpResponse<String> adminRaw(int node, String method, String path, String body) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(nodes[node].adminBase() + path)).timeout(Duration.ofSeconds(30))
                .header("authorization", "Bearer " + ADMIN_TOKEN);
        b = body == null ? b.method(method, HttpRequest.BodyPublishers.noBody()) : b.method(method, HttpRequest.BodyPublishers.ofString(body));
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    /** Creates a key on node {@code node}; returns its secret. */
    String key(int node, String policy, String name) throws Exception {
        return admin(node, "POST", "/admin/keys", "{\"policy\":\"" + policy + "\",\"name\":\"" + name + "\"}").path("secret").asText();
    }

    static long count(List<HttpResponse<String>> rs, int status) {
        return rs.stream().filter(r -> r.statusCode() == status).count();
    }

    static String summary(List<HttpResponse<String>> rs) {
        Map<Integer, Long> by = new java.util.TreeMap<>();
        Map<Integer, String> sample = new java.util.TreeMap<>();
        for (var r : rs) {
            by.merge(r.statusCode(), 1L, Long::sum);
            sample.putIfAbsent(r.statusCode(), r.body().length() > 300 ? r.body().substring(0, 300) : r.body());
        }
        return by + " " + sample;
    }

    @Override
    public void close() throws Exception {
        for (GatewayProcess g : nodes) {
            if (g != null) g.close();
        }
        proxy.close();
        redis.close();
    }
}
