package keyguard.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The gateway's upstream client: connections kept alive and reused, and HTTPS to a
 * provider with a certificate from the operator's trust file ({@code KEYGUARD_UPSTREAM_CA}),
 * against real loopback servers.
 */
class UpstreamConnectionsTest {
    private static final String CHAT = "{\"model\":\"up-ok\",\"messages\":[{\"role\":\"user\",\"content\":\"hello there\"}]}";
    private static final String STREAM = "{\"model\":\"up-ok\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hello there\"}]}";

    @Test
    void sequentialCallsReuseOneUpstreamConnection(@TempDir Path tmp) throws Exception {
        try (GatewayHarness h = new GatewayHarness(tmp)) {
            String key = h.key("all", "reuse", Map.of());
            for (int i = 0; i < 6; i++) {
                HttpResponse<String> r = h.post("/v1/chat/completions", key, i % 2 == 0 ? CHAT : STREAM);
                assertEquals(200, r.statusCode(), r.body());
                assertTrue(r.body().contains(i % 2 == 0 ? "echo: hello there" : "data: [DONE]"), r.body());
            }
            List<Integer> ports = h.upstream.received.stream().map(FakeUpstream.Received::remotePort).distinct().toList();
            assertEquals(1, ports.size(), "six calls one after the other, whole and streamed, on one kept-alive connection: " + ports);
        }
    }

    @Test
    void httpsUpstreamTrustedThroughTheOperatorsCaFileServesWholeAndStreamedReplies(@TempDir Path tmp) throws Exception {
        Path pem = certificate(tmp, "trusted", "ip:127.0.0.1,dns:localhost");
        try (FakeUpstream https = new FakeUpstream(serverContext(tmp, "trusted")); GatewayHarness h = new GatewayHarness(tmp, false)) {
            startRoutedTo(h, https, pem);
            String key = h.key("all", "tls", Map.of());
            HttpResponse<String> whole = h.post("/v1/chat/completions", key, CHAT);
            assertEquals(200, whole.statusCode(), whole.body());
            assertEquals("echo: hello there", GatewayHarness.json(whole).path("choices").path(0).path("message").path("content").asText());
            HttpResponse<String> streamed = h.post("/v1/chat/completions", key, STREAM);
            assertEquals(200, streamed.statusCode(), streamed.body());
            assertTrue(streamed.body().contains("data: [DONE]"), streamed.body());
            assertEquals(2, https.received.size());
            assertEquals("Bearer " + GatewayHarness.UPSTREAM_CREDENTIAL, https.received.peek().header("authorization"));
        }
    }

    @Test
    void anUpstreamCertificateNobodyTrustedIsUnreachableAndNeverSeesTheCredential(@TempDir Path tmp) throws Exception {
        certificate(tmp, "stranger", "ip:127.0.0.1,dns:localhost");
        try (FakeUpstream https = new FakeUpstream(serverContext(tmp, "stranger")); GatewayHarness h = new GatewayHarness(tmp, false)) {
            startRoutedTo(h, https, null);
            HttpResponse<String> r = h.post("/v1/chat/completions", h.key("all", "tls", Map.of()), CHAT);
            assertEquals(502, r.statusCode(), r.body());
            assertTrue(r.body().contains("is unreachable"), r.body());
            assertTrue(https.received.isEmpty(), "no request went over a connection to an untrusted server");
        }
    }

    @Test
    void aTrustedCertificateForAnotherNameIsRefused(@TempDir Path tmp) throws Exception {
        Path pem = certificate(tmp, "elsewhere", "dns:models.example.internal");
        try (FakeUpstream https = new FakeUpstream(serverContext(tmp, "elsewhere")); GatewayHarness h = new GatewayHarness(tmp, false)) {
            startRoutedTo(h, https, pem);
            HttpResponse<String> r = h.post("/v1/chat/completions", h.key("all", "tls", Map.of()), CHAT);
            assertEquals(502, r.statusCode(), r.body());
            assertTrue(https.received.isEmpty(), "the host name is verified against the certificate");
        }
    }

    @Test
    void anUpstreamNamedByHostIsCalledAtItsAddressWithTheNameCheckedAgainstItsCertificate(@TempDir Path tmp) throws Exception {
        // The certificate names the host only, not its address: the gateway connects to the address it
        // resolved off the IO thread, and TLS must still present and verify the name.
        Path pem = certificate(tmp, "byname", "dns:localhost");
        try (FakeUpstream https = new FakeUpstream(serverContext(tmp, "byname")); GatewayHarness h = new GatewayHarness(tmp, false)) {
            Files.writeString(h.platform.resolve("models.kgp"), GatewayHarness.models(h.upstream.port())
                    .replace("\"http://127.0.0.1:" + h.upstream.port() + "/openai\"", "\"https://localhost:" + https.port() + "/openai\""));
            h.env.put("KEYGUARD_UPSTREAM_CA", pem.toString());
            h.start();
            String key = h.key("all", "byname", Map.of());
            for (String body : List.of(CHAT, STREAM)) assertEquals(200, h.post("/v1/chat/completions", key, body).statusCode());
            assertEquals("localhost:" + https.port(), https.received.peek().header("host"), "the Host header names the host, not the address");
        }
        Path other = certificate(tmp, "othername", "dns:models.example.internal");
        try (FakeUpstream https = new FakeUpstream(serverContext(tmp, "othername")); GatewayHarness h = new GatewayHarness(tmp.resolve("b"), false)) {
            Files.writeString(h.platform.resolve("models.kgp"), GatewayHarness.models(h.upstream.port())
                    .replace("\"http://127.0.0.1:" + h.upstream.port() + "/openai\"", "\"https://localhost:" + https.port() + "/openai\""));
            h.env.put("KEYGUARD_UPSTREAM_CA", other.toString());
            h.start();
            assertEquals(502, h.post("/v1/chat/completions", h.key("all", "byname", Map.of()), CHAT).statusCode());
            assertTrue(https.received.isEmpty(), "a certificate for another name is refused, address or not");
        }
    }

    @Test
    void anHttpsUpstreamThatNeverFinishesTheHandshakeIsUnreachableAndNotBilledAsATimeout(@TempDir Path tmp) throws Exception {
        try (java.net.ServerSocket silent = new java.net.ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress());
             GatewayHarness h = new GatewayHarness(tmp, false)) {
            Thread.ofVirtual().start(() -> { // accepts, and never says a word
                java.util.List<java.net.Socket> held = new java.util.ArrayList<>();
                try {
                    while (true) held.add(silent.accept());
                } catch (java.io.IOException closed) {
                    held.forEach(s -> { try { s.close(); } catch (java.io.IOException ignored) { } });
                }
            });
            Files.writeString(h.platform.resolve("models.kgp"), GatewayHarness.models(h.upstream.port())
                    .replace("\"http://127.0.0.1:" + h.upstream.port() + "/openai\"", "\"https://127.0.0.1:" + silent.getLocalPort() + "/openai\""));
            h.start();
            HttpResponse<String> r = h.post("/v1/chat/completions", h.key("all", "stall", Map.of()), CHAT);
            assertEquals(502, r.statusCode(), "the request never left the gateway: not a 504 the caller is charged for; " + r.body());
            assertTrue(r.body().contains("is unreachable"), r.body());
        }
    }

    @Test
    void aCredentialEndingInANewlineIsSentWithoutIt(@TempDir Path tmp) throws Exception {
        try (GatewayHarness h = new GatewayHarness(tmp, false)) {
            h.env.put("UP_API_KEY", GatewayHarness.UPSTREAM_CREDENTIAL + "\n"); // a secret mounted from a file
            h.start();
            String key = h.key("all", "newline", Map.of());
            for (int i = 0; i < 2; i++) assertEquals(200, h.post("/v1/chat/completions", key, CHAT).statusCode());
            assertEquals(2, h.upstream.received.size(), "two requests, not a header block split into more");
            assertEquals("Bearer " + GatewayHarness.UPSTREAM_CREDENTIAL, h.upstream.received.peek().header("authorization"));
        }
    }

    /** Starts the harness with its `up` provider on {@code https} instead of its plain fake, trusting {@code ca} (null: the JDK's anchors only). */
    private static void startRoutedTo(GatewayHarness h, FakeUpstream https, Path ca) throws Exception {
        Files.writeString(h.platform.resolve("models.kgp"), GatewayHarness.models(h.upstream.port())
                .replace("\"http://127.0.0.1:" + h.upstream.port() + "/openai\"", "\"https://127.0.0.1:" + https.port() + "/openai\""));
        if (ca != null) h.env.put("KEYGUARD_UPSTREAM_CA", ca.toString());
        h.start();
    }

    /** A self-signed certificate made by the JDK's keytool; returns its PEM. */
    private static Path certificate(Path dir, String name, String san) throws Exception {
        Path store = dir.resolve(name + ".p12");
        Path pem = dir.resolve(name + ".pem");
        run(keytool(), "-genkeypair", "-alias", name, "-keyalg", "EC", "-groupname", "secp256r1", "-dname", "CN=" + name,
                "-ext", "SAN=" + san, "-validity", "2", "-keystore", store.toString(), "-storetype", "PKCS12",
                "-storepass", "changeit", "-keypass", "changeit");
        run(keytool(), "-exportcert", "-rfc", "-alias", name, "-keystore", store.toString(), "-storepass", "changeit", "-file", pem.toString());
        return pem;
    }

    private static SSLContext serverContext(Path dir, String name) throws Exception {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(dir.resolve(name + ".p12"))) {
            ks.load(in, "changeit".toCharArray());
        }
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(ks, "changeit".toCharArray());
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(kmf.getKeyManagers(), null, null);
        return ctx;
    }

    private static String keytool() {
        return Path.of(System.getProperty("java.home"), "bin", "keytool").toString();
    }

    private static void run(String... command) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "keytool did not finish");
        assertEquals(0, p.exitValue(), out);
    }
}
