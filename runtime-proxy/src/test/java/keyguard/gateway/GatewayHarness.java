package keyguard.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import keyguard.admin.AdminClient;

/**
 * A real gateway on loopback (ports chosen by the OS) over a temporary data directory, a
 * test policy directory routed to a {@link FakeUpstream}, and provider credentials given
 * as a map. Log records of the whole run are kept, for the secret-leak scan.
 */
public final class GatewayHarness implements AutoCloseable {
    public static final String UPSTREAM_CREDENTIAL = "sk-upstream-CREDENTIAL-7f3a9c";
    public static final String ANTHROPIC_CREDENTIAL = "sk-ant-CREDENTIAL-51be02";

    public final FakeUpstream upstream;
    /** The policy directory; the operator's part (providers, models, detectors, labels) is {@link #platform}. */
    public final Path policies;
    public final Path platform;
    public final Path data;
    public Gateway gateway;
    /** The gateway's environment (provider credentials, tokens). */
    public final Map<String, String> env = new java.util.HashMap<>(Map.of("UP_API_KEY", UPSTREAM_CREDENTIAL, "ANTH_API_KEY", ANTHROPIC_CREDENTIAL));
    /** Changes the configuration the next {@link #start} uses (timeouts, trust, metrics...). */
    public java.util.function.UnaryOperator<GatewayConfig> configure = c -> c;
    /** The gateway's clock; set it, then {@link #restart}, to move time in a test. */
    public Clock clock = Clock.systemUTC();
    /** The policy watcher's debounce; null (the default here) reloads only when asked. */
    public java.time.Duration watch;
    /** OIDC for the admin API; null (the default here) for the bootstrap token only. */
    public keyguard.admin.OidcConfig oidc;
    /** A folder of plugin jars; null (the default here) for none. */
    public Path plugins;
    public final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    public final java.util.List<String> logLines = new java.util.concurrent.CopyOnWriteArrayList<>();
    private final Handler capture = new Handler() {
        @Override public void publish(LogRecord r) { logLines.add(r.getLoggerName() + " " + (r.getMessage() == null ? "" : new java.util.logging.SimpleFormatter().formatMessage(r))); }
        @Override public void flush() { }
        @Override public void close() { }
    };

    public GatewayHarness(Path tmp) throws IOException {
        this(tmp, true);
    }

    /** With {@code start} false, the caller sets {@link #env} or {@link #configure} and calls {@link #start}. */
    public GatewayHarness(Path tmp, boolean start) throws IOException {
        upstream = new FakeUpstream();
        policies = Files.createDirectories(tmp.resolve("policies"));
        platform = Files.createDirectories(policies.resolve("platform"));
        data = tmp.resolve("data");
        Files.writeString(platform.resolve("models.kgp"), models(upstream.port()));
        Files.writeString(policies.resolve("policies.kgp"), """
                policy all {
                  tags { team: "test" }
                  models allow ["sim-small", "sim-embed", "up-ok", "up-500", "up-401", "up-429", "up-400", "up-slow", "up-cut",
                                "up-held", "up-endless", "up-flood", "up-embed", "claude", "claude-cut", "down"]
                }
                policy demo {
                  models allow ["sim-small"]
                  @id("no-blocked")
                  @reason("key `{key.name}` is blocked")
                  forbid when { key.name == "blocked" }
                }
                """);
        Logger.getLogger("").addHandler(capture);
        if (start) start();
    }

    public static String models(int port) {
        String up = "http://127.0.0.1:" + port;
        StringBuilder sb = new StringBuilder("""
                provider sim { builtin simulator }
                provider up { base_url "%s/openai" credential env("UP_API_KEY") timeout 1s }
                provider anth { kind anthropic base_url "%s/anthropic" credential env("ANTH_API_KEY") timeout 1s }
                provider nowhere { base_url "http://127.0.0.1:1/v1" credential env("UP_API_KEY") }
                model "sim-small" { provider sim price input 1 usd per 1m tokens, output 2 usd per 1m tokens max_class internal }
                model "sim-embed" { provider sim type embedding price input 1 usd per 1m tokens, output 0 usd per 1m tokens max_class internal }
                model "up-embed" { provider up type embedding upstream "embed-ok" price input 1 usd per 1m tokens, output 0 usd per 1m tokens max_class internal }
                model "claude" { provider anth upstream "ok" price input 3 usd per 1m tokens, output 15 usd per 1m tokens max_class internal }
                model "claude-cut" { provider anth upstream "cut" price input 3 usd per 1m tokens, output 15 usd per 1m tokens max_class internal }
                model "down" { provider nowhere price input 1 usd per 1m tokens, output 1 usd per 1m tokens max_class internal }
                """.formatted(up, up));
        for (String mode : new String[] {"ok", "500", "401", "429", "400", "slow", "cut", "held", "endless", "flood"}) {
            String upstreamName = mode.matches("\\d+") ? "fail-" + mode : mode;
            sb.append("model \"up-").append(mode).append("\" { provider up upstream \"").append(upstreamName)
                    .append("\" price input 1 usd per 1m tokens, output 2 usd per 1m tokens max_class internal }\n");
        }
        return sb.toString();
    }

    public void start() {
        gateway = Gateway.start(configure.apply(GatewayConfig.defaults(policies, data).withListeners("127.0.0.1", 0, "127.0.0.1", 0)
                .withMaxBodyBytes(1 << 20).withEnv(env::get).withClock(clock)
                .withCounters(new GatewayConfig.Counters(10_000, 1024, java.time.Duration.ofMinutes(30), java.time.Duration.ofSeconds(1)))
                .withPolicyWatch(watch).withOidc(oidc).withPlugins(plugins)));
    }

    public void restart() {
        gateway.close();
        start();
    }

    public String base() { return "http://127.0.0.1:" + gateway.address().getPort(); }

    public AdminClient admin() {
        return new AdminClient(URI.create("http://127.0.0.1:" + gateway.adminAddress().getPort() + "/"), gateway.adminToken());
    }

    /** Creates a key through the admin API; returns its secret. */
    public String key(String policy, String name, Map<String, String> labels) throws Exception {
        ObjectNode body = FakeUpstream.JSON.createObjectNode().put("policy", policy).put("name", name);
        ObjectNode l = body.putObject("labels");
        labels.forEach(l::put);
        AdminClient.Reply r = admin().post("admin/keys", body);
        if (r.status() != 201) throw new AssertionError("key creation failed: " + r.body());
        return r.body().path("secret").asText();
    }

    public HttpResponse<String> post(String path, String key, String body) throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base() + path)).timeout(Duration.ofSeconds(20))
                .header("content-type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body));
        if (key != null) b.header("authorization", "Bearer " + key);
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    public static JsonNode json(HttpResponse<String> r) throws IOException {
        return FakeUpstream.JSON.readTree(r.body());
    }

    @Override
    public void close() {
        Logger.getLogger("").removeHandler(capture);
        try {
            if (gateway != null) gateway.close();
        } finally {
            upstream.close();
        }
    }
}
