package keyguard.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;
import keyguard.admin.AdminClient;
import org.eclipse.jgit.api.Git;
import org.eclipse.jgit.revwalk.RevCommit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Git-versioned policies, hot-reloaded all or nothing while requests keep flowing. */
class PolicyReloadTest {
    static final String CHAT = "{\"model\":\"sim-small\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";

    GatewayHarness h;
    Git git;

    @BeforeEach
    void start(@TempDir Path tmp) throws Exception {
        h = new GatewayHarness(tmp);
        git = Git.init().setDirectory(h.policies.toFile()).setInitialBranch("main").call();
        commit("the first policies");
        h.watch = Duration.ofMillis(150);
        h.restart();
    }

    @AfterEach
    void stop() {
        git.close();
        h.close();
    }

    RevCommit commit(String message) throws Exception {
        git.add().addFilepattern(".").call();
        git.add().addFilepattern(".").setUpdate(true).call();
        return git.commit().setMessage(message).setAuthor("Test", "test@example.org").setCommitter("Test", "test@example.org").call();
    }

    JsonNode status() throws Exception {
        return h.admin().get("admin/policies").body();
    }

    JsonNode await(Predicate<JsonNode> condition, String what) throws Exception {
        JsonNode s = status();
        for (int i = 0; i < 200 && !condition.test(s); i++) {
            Thread.sleep(25);
            s = status();
        }
        assertTrue(condition.test(s), what + ": " + s);
        return s;
    }

    @Test
    void theRevisionIsTheCommitAndAChangeIsPickedUpDirtyThenCommitted() throws Exception {
        String first = git.log().call().iterator().next().getName().substring(0, 12);
        assertEquals(first, status().path("revision").asText());
        Files.writeString(h.policies.resolve("extra.kgp"), "policy extra { models allow [\"sim-small\"] }\n");
        JsonNode dirty = await(s -> s.path("policies").toString().contains("extra"), "the new policy is loaded");
        assertTrue(dirty.path("revision").asText().startsWith(first + "-dirty-"), dirty.toString());
        String second = commit("add extra").getName().substring(0, 12);
        await(s -> s.path("revision").asText().equals(second), "the commit becomes the revision");
        String key = h.key("extra", "e", Map.of());
        HttpResponseCheck.ok(h.post("/v1/chat/completions", key, CHAT));
    }

    @Test
    void aBrokenCommitKeepsTheOldRevisionServingWhileRequestsContinue() throws Exception {
        String key = h.key("demo", "d", Map.of());
        String good = status().path("revision").asText();
        AtomicBoolean running = new AtomicBoolean(true);
        AtomicInteger ok = new AtomicInteger();
        AtomicInteger notOk = new AtomicInteger();
        Thread load = Thread.ofPlatform().start(() -> {
            while (running.get()) {
                try {
                    if (h.post("/v1/chat/completions", key, CHAT).statusCode() == 200) ok.incrementAndGet();
                    else notOk.incrementAndGet();
                } catch (Exception e) {
                    notOk.incrementAndGet();
                }
            }
        });
        Files.writeString(h.policies.resolve("policies.kgp"), Files.readString(h.policies.resolve("policies.kgp"))
                + "\npolicy broken { models allow [\"sim-smal\"] }\n");
        commit("a typo");
        JsonNode s = await(x -> x.path("reload_failures").asLong() >= 1, "the broken commit is refused");
        assertEquals(good, s.path("revision").asText(), "the old revision keeps serving");
        assertTrue(s.path("last_error").path("report").asText().contains("KG0103"), s.toString());
        Thread.sleep(200);
        running.set(false);
        load.join();
        assertTrue(ok.get() > 0);
        assertEquals(0, notOk.get(), "no request failed while the broken commit was refused");

        AdminClient.Reply forced = h.admin().post("admin/policies/reload", FakeUpstream.JSON.createObjectNode());
        assertEquals(422, forced.status(), "a forced reload of a broken tree says it failed");
        assertEquals(good, forced.body().path("revision").asText());
    }

    @Test
    void aFailingInlineTestIsRefusedLikeACompileError() throws Exception {
        String good = status().path("revision").asText();
        Files.writeString(h.policies.resolve("tested.kgp"), """
                policy tested { models allow ["sim-small"] }
                tests tested {
                  test "claims sim-small is denied" {
                    request { model: "sim-small" }
                    expect  deny
                  }
                }
                """);
        JsonNode s = await(x -> x.path("reload_failures").asLong() >= 1, "the failing test is refused");
        assertEquals(good, s.path("revision").asText());
        assertTrue(s.path("last_error").path("report").asText().contains("claims sim-small is denied"), s.toString());
        Files.writeString(h.policies.resolve("tested.kgp"), "policy tested { models allow [\"sim-small\"] }\n");
        JsonNode fixed = await(x -> x.path("policies").toString().contains("tested"), "the fix loads");
        assertTrue(fixed.path("last_error").isNull(), fixed.toString());
    }

    /** Small helper so failures show the body. */
    static final class HttpResponseCheck {
        static void ok(java.net.http.HttpResponse<String> r) {
            assertEquals(200, r.statusCode(), r.body());
        }
    }
}
