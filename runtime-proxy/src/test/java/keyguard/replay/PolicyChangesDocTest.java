package keyguard.replay;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.stream.Stream;
import keyguard.admin.AdminClient;
import keyguard.cli.Main;
import keyguard.counters.Fixtures;
import keyguard.gateway.Gateway;
import keyguard.gateway.GatewayConfig;
import org.eclipse.jgit.api.Git;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * docs/policy-changes.md, step by step, on a gateway that ran the README's tour (the
 * example policies, the `demo` key, the tour's streamed request): check and test a branch
 * that tightens a limit, replay the recorded traffic against it (the report in the page is
 * this run's, with ids elided; {@code -Dbless=true} rewrites it), shadow it, promote it
 * with a merge and a reload, and roll it back.
 */
class PolicyChangesDocTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final String TOUR = "{\"model\":\"sim-small\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    static final String START = "<!-- replay-report:start -->\n";
    static final String END = "<!-- replay-report:end -->";

    static Path root() {
        Path p = Path.of("").toAbsolutePath();
        while (!Files.isDirectory(p.resolve("docs"))) p = p.getParent();
        return p;
    }

    static void copy(Path from, Path to) throws IOException {
        try (Stream<Path> walk = Files.walk(from)) {
            for (Path p : walk.toList()) {
                Path target = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) Files.createDirectories(target);
                else Files.copy(p, target);
            }
        }
    }

    static String[] keyguard(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Main.run(new PrintWriter(out), new PrintWriter(err), args);
        return new String[] {Integer.toString(code), out.toString(), err.toString()};
    }

    static int chat(HttpClient http, Gateway g, String key) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + g.address().getPort() + "/v1/chat/completions"))
                .header("authorization", "Bearer " + key).POST(HttpRequest.BodyPublishers.ofString(TOUR)).build(),
                HttpResponse.BodyHandlers.ofString()).statusCode();
    }

    static void await(java.util.function.BooleanSupplier done, String what) throws InterruptedException {
        long deadline = System.nanoTime() + 20_000_000_000L;
        while (!done.getAsBoolean()) {
            if (System.nanoTime() > deadline) throw new AssertionError("timed out waiting for " + what);
            Thread.sleep(20);
        }
    }

    /** The report as the page shows it: decision ids, revisions, key ids and instants elided. */
    static String elide(String report) {
        return report.replaceAll("dec_[0-9a-f]+", "dec_…").replaceAll("\\b[a-z2-7]{12} \\(me\\)", "<key> (me)")
                .replaceAll("\\b[0-9a-f]{12}\\b", "<revision>")
                .replaceAll("\\d{4}-\\d\\d-\\d\\dT[0-9:.]+Z", "<time>");
    }

    @Test
    void theWorkflowOfPolicyChangesMdRunsAsWritten(@TempDir Path tmp) throws Exception {
        Path repo = tmp.resolve("repo");
        Path policies = repo.resolve("policies");
        copy(root().resolve("policies"), policies);
        Path data = tmp.resolve("data");
        Fixtures.MovableClock clock = new Fixtures.MovableClock(Instant.now()); // one minute holds the whole run
        try (Git git = Git.init().setDirectory(repo.toFile()).setInitialBranch("main").call();
             Gateway g = Gateway.start(GatewayConfig.defaults(policies, data).withListeners("127.0.0.1", 0, "127.0.0.1", 0).withClock(clock))) {
            git.add().addFilepattern(".").call();
            commit(git, "the example policies");
            String admin = "http://127.0.0.1:" + g.adminAddress().getPort();
            assertEquals(200, new AdminClient(URI.create(admin + "/"), g.adminToken()).post("admin/policies/reload", JSON.createObjectNode()).status());
            String serving = g.policies().set().revision();

            // The README's tour: a key for the demo policy, and its request, twelve times.
            String[] created = keyguard("keys", "create", "--policy", "demo", "--name", "me", "--admin", admin, "--data", data.toString());
            assertEquals("0", created[0], created[2]);
            String key = created[1].lines().reduce((a, b) -> b).orElseThrow();
            HttpClient http = HttpClient.newHttpClient();
            for (int i = 0; i < 12; i++) assertEquals(200, chat(http, g, key));

            // 1. A branch that tightens the demo policy's request limit.
            git.checkout().setCreateBranch(true).setName("tighten-demo").call();
            Path demo = policies.resolve("demo.kgp");
            Files.writeString(demo, Files.readString(demo).replace("limit requests 60 per 1m by key", "limit requests 10 per 1m by key"));
            commit(git, "demo: at most 10 requests a minute per key");
            // 2. check and test, on the branch
            String[] check = keyguard("check", policies.toString());
            assertEquals("0", check[0], check[2]);
            assertEquals("0", keyguard("test", policies.toString())[0]);
            git.checkout().setName("main").call();

            // 3. replay the recorded traffic against the branch, as CI would
            await(() -> g.audit().written() >= 12, "the tour's events");
            String[] replay = keyguard("replay", "--audit", data.toString(), "--policies", "tighten-demo", "--policy-dir", policies.toString(),
                    "--format", "markdown", "--fail-on", "throttled > 0");
            assertEquals("1", replay[0], replay[2]);
            assertTrue(replay[2].contains("--fail-on `throttled > 0` holds"), replay[2]);
            assertTrue(replay[1].strip().endsWith("replayed 12 decisions: 2 changed (2 allow → throttle)"), replay[1]);
            page(elide(replay[1]));

            // 4. shadow it on live traffic
            AdminClient client = new AdminClient(URI.create(admin + "/"), g.adminToken());
            AdminClient.Reply shadow = client.post("admin/shadow", JSON.createObjectNode().put("revision", "tighten-demo"));
            assertEquals(201, shadow.status(), shadow.raw());
            for (int i = 0; i < 3; i++) assertEquals(200, chat(http, g, key), "the serving revision still answers");
            await(() -> g.shadow().agreed() + g.shadow().disagreed() == 3, "the shadow's decisions");
            assertEquals(3, g.shadow().disagreed());
            assertEquals(3, client.get("admin/shadow").body().path("report").path("changed").asInt());

            // 5. promote: merge, reload; the shadow ends by itself
            git.merge().include(git.getRepository().resolve("tighten-demo")).call();
            AdminClient.Reply reloaded = client.post("admin/policies/reload", JSON.createObjectNode());
            assertEquals(shadow.body().get("revision").asText(), reloaded.body().get("revision").asText());
            assertEquals(429, chat(http, g, key), "now the limit serves");
            await(() -> !g.shadow().active(), "the promoted shadow to end");

            // 6. roll back: revert the merge commit and reload
            git.revert().include(git.getRepository().resolve("HEAD")).call();
            AdminClient.Reply back = client.post("admin/policies/reload", JSON.createObjectNode());
            assertEquals(200, back.status(), back.raw());
            assertFalse(back.body().get("revision").asText().equals(reloaded.body().get("revision").asText()));
            assertTrue(Files.readString(demo).contains("limit requests 60 per 1m"));
            assertEquals(200, chat(http, g, key), "the old limit serves again");
            assertFalse(serving.isEmpty());
        }
    }

    static void commit(Git git, String message) throws Exception {
        git.commit().setAll(true).setMessage(message).setAuthor("t", "t@example.com").setCommitter("t", "t@example.com").setSign(false).call();
    }

    /** The sample report in docs/policy-changes.md is this run's. */
    static void page(String report) throws IOException {
        Path page = root().resolve("docs/policy-changes.md");
        String text = Files.readString(page);
        int a = text.indexOf(START);
        int b = text.indexOf(END);
        assertTrue(a >= 0 && b > a, "docs/policy-changes.md lacks the replay-report markers");
        String block = "```markdown\n" + report.strip() + "\n```\n";
        String expected = text.substring(0, a + START.length()) + block + text.substring(b);
        if (Boolean.getBoolean("bless")) Files.writeString(page, expected);
        assertEquals(expected, Files.readString(page), page + " (re-bless with -Dbless=true if intended)");
    }
}
