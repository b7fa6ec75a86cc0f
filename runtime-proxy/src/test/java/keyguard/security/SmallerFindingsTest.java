package keyguard.security;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpServer;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import keyguard.admin.AdminClient;
import keyguard.admin.OidcConfig;
import keyguard.cli.Main;
import keyguard.gateway.FakeUpstream;
import keyguard.gateway.GatewayHarness;
import keyguard.keys.KeySecrets;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Finding 11, the smaller ones: the audit endpoint read the whole log and took any
 * `limit`; overflowing durations answered 500; a failing OIDC discovery was retried on every
 * admin request; several commands did not take `--help`. (The surefire fork timeout, the
 * default test timeout and the kill -9 test's deadlines are in the build itself.)
 */
class SmallerFindingsTest {
    @TempDir Path tmp;
    GatewayHarness h;

    @AfterEach
    void stop() {
        if (h != null) h.close();
    }

    HttpResponse<String> adminGet(String path) throws Exception {
        return h.http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + h.gateway.adminAddress().getPort() + path))
                .header("authorization", "Bearer " + h.gateway.adminToken()).build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void theAuditLogIsReadInBoundedPagesThatFollowACursor() throws Exception {
        h = new GatewayHarness(tmp);
        String key = h.key("demo", "paged", Map.of());
        for (int i = 0; i < 25; i++) {
            h.post("/v1/chat/completions", key, "{\"model\":\"sim-small\",\"max_tokens\":2,\"messages\":[{\"role\":\"user\",\"content\":\"hi " + i + "\"}]}");
        }
        assertEquals(400, adminGet("/admin/audit?limit=10001").statusCode(), "a page holds at most 10,000 events");
        assertEquals(400, adminGet("/admin/audit?cursor=not-a-cursor").statusCode());
        HttpResponse<String> tail = adminGet("/admin/audit?limit=5");
        assertEquals(5, tail.body().lines().count(), "without a start: the last events");
        java.util.Set<String> seen = new java.util.HashSet<>();
        String query = "since=2000-01-01&limit=10";
        int pages = 0;
        while (pages++ < 20) {
            HttpResponse<String> page = adminGet("/admin/audit?" + query);
            assertEquals(200, page.statusCode(), page.body());
            var lines = page.body().lines().toList();
            if (lines.isEmpty()) break;
            assertTrue(lines.size() <= 10);
            lines.stream().filter(l -> l.contains("\"decision_id\"")).forEach(seen::add);
            query = "limit=10&cursor=" + page.headers().firstValue("x-keyguard-next-cursor").orElseThrow();
        }
        assertEquals(25, seen.size(), "every decision exactly once across the pages");
    }

    @Test
    void overflowingDurationsAreBadRequestsNotServerErrors() throws Exception {
        h = new GatewayHarness(tmp);
        AdminClient admin = h.admin();
        for (String v : new String[] {"99999999999999999w", "9223372036854775807s", "2000000000d"}) {
            ObjectNode body = FakeUpstream.JSON.createObjectNode().put("policy", "demo").put("name", "long").put("expires_in", v);
            assertEquals(400, admin.post("admin/keys", body).status(), "expires_in " + v);
        }
        ObjectNode far = FakeUpstream.JSON.createObjectNode().put("policy", "demo").put("name", "far").put("expires_at", "+999999999-12-31T23:59:59Z");
        assertEquals(400, admin.post("admin/keys", far).status());
        String key = h.key("demo", "rot", Map.of());
        for (String v : new String[] {"99999999999999999w", "9223372036854775807s", "400d"}) {
            ObjectNode body = FakeUpstream.JSON.createObjectNode().put("grace", v);
            assertEquals(400, admin.post("admin/keys/" + KeySecrets.idOf(key) + "/rotate", body).status(), "grace " + v);
        }
        Files.writeString(h.platform.resolve("slow.kgp"), "provider slow { builtin simulator latency 999999999999m }\n");
        AdminClient.Reply reload = admin.post("admin/policies/reload", FakeUpstream.JSON.createObjectNode());
        assertEquals(422, reload.status(), reload.body().toString());
        assertTrue(reload.raw().contains("KG0603"), reload.raw());
    }

    @Test
    void aFailingIdentityProviderIsAskedAgainOnlyAfterABackoff() throws Exception {
        AtomicInteger discoveries = new AtomicInteger();
        HttpServer idp = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 16);
        idp.createContext("/", ex -> {
            discoveries.incrementAndGet();
            ex.sendResponseHeaders(500, -1);
            ex.close();
        });
        idp.start();
        try {
            h = new GatewayHarness(tmp, false);
            h.oidc = new OidcConfig("http://127.0.0.1:" + idp.getAddress().getPort() + "/realm", "keyguard", null, "groups",
                    Set.of("admins"), Set.of(), Map.of());
            h.start();
            AdminClient jwt = new AdminClient(URI.create("http://127.0.0.1:" + h.gateway.adminAddress().getPort() + "/"), "aaa.bbb.ccc");
            for (int i = 0; i < 20; i++) assertEquals(503, jwt.get("admin/keys").status());
            assertEquals(1, discoveries.get(), "20 requests within the backoff ask the identity provider once");
            assertEquals(200, h.admin().get("admin/keys").status(), "the bootstrap token does not wait for it");
        } finally {
            idp.stop(0);
        }
    }

    @Test
    void everyCommandAnswersHelp() {
        for (String[] cmd : new String[][] {{"--help"}, {"serve", "--help"}, {"keys", "--help"}, {"keys", "create", "--help"},
                {"keys", "revoke", "--help"}, {"keys", "rotate", "--help"}, {"keys", "list", "--help"}, {"audit", "--help"},
                {"audit", "tail", "--help"}, {"audit", "export", "--help"}, {"spend", "--help"}, {"check", "--help"},
                {"test", "--help"}, {"fmt", "--help"}, {"explain", "--help"}}) {
            StringWriter out = new StringWriter();
            StringWriter err = new StringWriter();
            int code = Main.run(new PrintWriter(out), new PrintWriter(err), cmd);
            assertEquals(0, code, String.join(" ", cmd) + ": " + err);
            assertTrue(out.toString().startsWith("Usage: keyguard"), String.join(" ", cmd) + ": " + out);
        }
    }
}
