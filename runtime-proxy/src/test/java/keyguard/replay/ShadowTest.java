package keyguard.replay;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;
import keyguard.admin.AdminClient;
import keyguard.audit.AuditLog;
import keyguard.gateway.GatewayHarness;
import org.eclipse.jgit.api.Git;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A shadow revision decides live traffic beside the serving one, changes no answer, and counts where it would differ. */
class ShadowTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final String SERVING = """
            policy team {
              models allow ["sim-small", "up-ok"]
              limit requests 1000 per 1m by key
            }
            """;

    @TempDir
    Path tmp;
    GatewayHarness h;
    String key;

    @BeforeEach
    void start() throws Exception {
        h = new GatewayHarness(tmp, false);
        Files.writeString(h.policies.resolve("team.kgp"), SERVING);
        h.start();
        key = h.key("team", "svc", Map.of());
    }

    @AfterEach
    void stop() {
        h.close();
    }

    static String chat(String model) {
        return "{\"model\":\"" + model + "\",\"max_tokens\":8,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    }

    static void await(BooleanSupplier done, String what) throws InterruptedException {
        long deadline = System.nanoTime() + 20_000_000_000L;
        while (!done.getAsBoolean()) {
            if (System.nanoTime() > deadline) throw new AssertionError("timed out waiting for " + what);
            Thread.sleep(20);
        }
    }

    ObjectNode directory(Path p) {
        return JSON.createObjectNode().put("directory", p.toString());
    }

    @Test
    void aShadowThatDeniesAModelLeavesLiveAnswersAloneAndCountsEachRequestForIt() throws Exception {
        Path candidate = tmp.resolve("candidate");
        Files.createDirectories(candidate.resolve("platform"));
        Files.copy(h.platform.resolve("models.kgp"), candidate.resolve("platform/models.kgp"));
        Files.writeString(candidate.resolve("team.kgp"), SERVING.replace("\"sim-small\", \"up-ok\"", "\"sim-small\""));
        AdminClient admin = h.admin();

        AdminClient.Reply started = admin.post("admin/shadow", directory(candidate));
        assertEquals(201, started.status(), started.raw());
        assertTrue(started.body().get("active").asBoolean());

        Shadow shadow = h.gateway.shadow();
        int small = 10;
        int removed = 6;
        for (int i = 0; i < small + removed; i++) {
            var r = h.post("/v1/chat/completions", key, chat(i % 3 == 0 && i / 3 < removed ? "up-ok" : "sim-small"));
            assertEquals(200, r.statusCode(), "the serving revision answers, whatever the shadow thinks: " + r.body());
        }
        await(() -> shadow.agreed() + shadow.disagreed() == small + removed, "the shadow to decide every request");
        assertEquals(removed, shadow.disagreed());
        assertEquals(small, shadow.agreed());
        assertEquals(0, shadow.dropped());

        String metrics = h.http.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create("http://127.0.0.1:" + h.gateway.adminAddress().getPort()
                + "/metrics")).build(), java.net.http.HttpResponse.BodyHandlers.ofString()).body();
        assertTrue(metrics.contains("keyguard_shadow_decisions_total{result=\"disagree\"} " + removed + ".0"), metrics);
        assertTrue(metrics.contains("keyguard_shadow_disagreements_total{from=\"allow\",policy=\"team\",to=\"deny\"} " + removed + ".0"), metrics);
        assertTrue(metrics.contains("keyguard_shadow_active 1.0"), metrics);

        AdminClient.Reply status = admin.get("admin/shadow");
        assertEquals(removed, status.body().get("report").get("changed").asInt(), status.raw());
        assertEquals("allow → deny (models.allow)", status.body().get("report").get("changes").get(0).get("change").asText());

        List<JsonNode> events = new ArrayList<>();
        try (var q = AuditLog.openForReading(h.data.resolve("audit"))) {
            AuditLog.read(q, null, null, l -> {
                try {
                    JsonNode e = JSON.readTree(l);
                    if (e.get("type").asText().equals("shadow")) events.add(e);
                } catch (java.io.IOException ex) {
                    throw new java.io.UncheckedIOException(ex);
                }
            });
        }
        assertEquals(removed, events.size());
        for (JsonNode e : events) {
            assertEquals("allow", e.get("live").get("outcome").asText());
            assertEquals("deny", e.get("shadow").get("outcome").asText());
            assertEquals(started.body().get("revision").asText(), e.get("shadow_revision").asText());
        }

        AdminClient.Reply stopped = admin.delete("admin/shadow");
        assertEquals(200, stopped.status(), stopped.raw());
        assertFalse(stopped.body().get("active").asBoolean());
        h.post("/v1/chat/completions", key, chat("up-ok"));
        Thread.sleep(200); // nothing is waited for here: a stopped shadow must not count what follows
        assertEquals(small + removed, shadow.agreed() + shadow.disagreed());
        assertEquals(404, admin.delete("admin/shadow").status());
    }

    @Test
    void aShadowEndsOnceTheGatewayServesItsRevision() throws Exception {
        try (Git git = Git.init().setDirectory(h.policies.toFile()).setInitialBranch("main").call()) {
            git.add().addFilepattern(".").call();
            git.commit().setMessage("serving").setAuthor("t", "t@example.com").setCommitter("t", "t@example.com").setSign(false).call();
            git.checkout().setCreateBranch(true).setName("narrower").call();
            Files.writeString(h.policies.resolve("team.kgp"), SERVING.replace("1000 per 1m", "1 per 1m"));
            git.commit().setAll(true).setMessage("narrower").setAuthor("t", "t@example.com").setCommitter("t", "t@example.com").setSign(false).call();
            git.checkout().setName("main").call();
            AdminClient admin = h.admin();
            assertEquals(200, admin.post("admin/policies/reload", JSON.createObjectNode()).status());

            AdminClient.Reply started = admin.post("admin/shadow", JSON.createObjectNode().put("revision", "narrower"));
            assertEquals(201, started.status(), started.raw());
            Shadow shadow = h.gateway.shadow();
            for (int i = 0; i < 3; i++) assertEquals(200, h.post("/v1/chat/completions", key, chat("sim-small")).statusCode());
            await(() -> shadow.agreed() + shadow.disagreed() == 3, "three shadow decisions");
            assertEquals(2, shadow.disagreed(), "the second and third request are over one per minute");

            git.merge().include(git.getRepository().resolve("narrower")).call(); // a fast-forward: main is the shadow's commit
            AdminClient.Reply reloaded = admin.post("admin/policies/reload", JSON.createObjectNode());
            assertEquals(started.body().get("revision").asText(), reloaded.body().get("revision").asText(), reloaded.raw());
            h.post("/v1/chat/completions", key, chat("sim-small"));
            await(() -> !shadow.active(), "the promoted shadow to end");
            assertFalse(admin.get("admin/shadow").body().get("active").asBoolean());
        }
    }

    @Test
    void aCandidateThatDoesNotLoadIsRefusedWithItsDiagnostics() throws Exception {
        AdminClient admin = h.admin();
        assertEquals(400, admin.post("admin/shadow", JSON.createObjectNode()).status());
        assertEquals(400, admin.post("admin/shadow", JSON.createObjectNode().put("revision", "x").put("directory", "/tmp")).status());
        assertEquals(400, admin.post("admin/shadow", directory(tmp.resolve("nowhere"))).status());
        assertEquals(400, admin.post("admin/shadow", JSON.createObjectNode().put("revision", "main")).status(), "the policies are not in git");
        assertEquals(409, admin.post("admin/shadow", directory(h.policies)).status(), "the serving revision itself");
        Path broken = tmp.resolve("broken");
        Files.createDirectories(broken);
        Files.writeString(broken.resolve("team.kgp"), "policy team { models allow [\"nope\"] }\n");
        AdminClient.Reply r = admin.post("admin/shadow", directory(broken));
        assertEquals(422, r.status(), r.raw());
        assertTrue(r.error().contains("nope"), r.raw());
        assertFalse(h.gateway.shadow().active());
    }
}
