package keyguard.gateway;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Secrets never leak: after a run through successes, refusals, upstream failures (one
 * upstream echoes the credential it was sent, as real providers do) and streams, no
 * response, log line or file in the data directory contains a provider credential or a
 * virtual key's secret — except the one create response that hands the secret out.
 */
class SecretLeakTest {

    @Test
    void noResponseLogLineOrDataFileContainsACredentialOrAKeySecret(@TempDir Path tmp) throws Exception {
        List<String> secrets = new ArrayList<>();
        List<String> seen = new ArrayList<>();
        Path data;
        try (GatewayHarness h = new GatewayHarness(tmp)) {
            data = h.data;
            String all = h.key("all", "scan-all", Map.of("env", "prod"));
            String demo = h.key("demo", "scan-demo", Map.of());
            String blocked = h.key("demo", "blocked", Map.of());
            secrets.addAll(List.of(all, demo, blocked));
            String[] models = {"sim-small", "up-ok", "up-401", "up-500", "up-429", "up-400", "up-cut", "claude", "claude-cut", "down", "nope", "up-slow"};
            for (String model : models) {
                for (boolean stream : new boolean[] {false, true}) {
                    String body = "{\"model\":\"" + model + "\",\"stream\":" + stream + ",\"messages\":[{\"role\":\"user\",\"content\":\"what is the weather\"}]}";
                    for (String k : List.of(all, demo, blocked, "kg-aaaaaaaaaaaa-" + "b".repeat(43), all.substring(0, 20))) {
                        record(seen, h.post("/v1/chat/completions", k, body));
                    }
                    String anthropic = "{\"model\":\"" + model + "\",\"max_tokens\":16,\"stream\":" + stream + ",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
                    record(seen, h.http.send(HttpRequest.newBuilder(URI.create(h.base() + "/v1/messages")).header("x-api-key", all)
                            .POST(HttpRequest.BodyPublishers.ofString(anthropic)).build(), HttpResponse.BodyHandlers.ofString()));
                }
            }
            record(seen, h.http.send(HttpRequest.newBuilder(URI.create(h.base() + "/v1/models")).header("authorization", "Bearer " + all).GET().build(),
                    HttpResponse.BodyHandlers.ofString()));
            seen.add(h.admin().get("admin/keys").body().toString());
            seen.add(h.admin().get("admin/policies").body().toString());
            seen.addAll(h.logLines);
            assertTrue(h.logLines.stream().anyMatch(l -> l.contains("keyguard.access")), "the access log was captured");
        }
        try (Stream<Path> files = Files.walk(data)) {
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                seen.add(f + ": " + new String(Files.readAllBytes(f), StandardCharsets.ISO_8859_1));
            }
        }
        List<String> forbidden = new ArrayList<>(secrets);
        forbidden.add(GatewayHarness.UPSTREAM_CREDENTIAL);
        forbidden.add(GatewayHarness.ANTHROPIC_CREDENTIAL);
        forbidden.add("CREDENTIAL");
        for (String text : seen) {
            for (String secret : forbidden) {
                assertFalse(text.contains(secret), "leaked `" + secret.substring(0, 8) + "…` in: " + text.substring(0, Math.min(300, text.length())));
            }
        }
        assertTrue(seen.size() > 200, "the scan must have covered the run, saw " + seen.size());
    }

    private static void record(List<String> seen, HttpResponse<String> r) {
        seen.add(r.statusCode() + " " + r.headers().map() + " " + r.body());
    }
}
