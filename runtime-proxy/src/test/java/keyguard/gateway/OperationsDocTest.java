package keyguard.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import keyguard.cli.Main;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * docs/operations.md, step by step, with the same CLI commands against a real gateway:
 * create, use, read spend, rotate, revoke, read the audit log, push a broken policy.
 */
class OperationsDocTest {
    record Run(int code, String out, String err) {}

    Run keyguard(GatewayHarness h, String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        List<String> all = new ArrayList<>(List.of(args));
        if (List.of("keys", "spend").contains(args[0])) {
            all.add("--admin");
            all.add("http://127.0.0.1:" + h.gateway.adminAddress().getPort());
        }
        all.add("--data");
        all.add(h.data.toString());
        int code = new CommandLine(new Main()).setOut(new PrintWriter(out)).setErr(new PrintWriter(err)).execute(all.toArray(new String[0]));
        return new Run(code, out.toString(), err.toString());
    }

    static String chat(String model) {
        return "{\"model\":\"" + model + "\",\"max_tokens\":20,\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]}";
    }

    @Test
    void theLifecycleOfOperationsMdRunsAsWritten(@TempDir Path tmp) throws Exception {
        try (GatewayHarness h = new GatewayHarness(tmp)) {
            // 1. create
            Run created = keyguard(h, "keys", "create", "--policy", "demo", "--name", "notebook", "--owner", "team-research", "--label", "env=prod");
            assertEquals(0, created.code(), created.err());
            assertTrue(created.out().startsWith("created key "), created.out());
            String secret = created.out().lines().reduce((a, b) -> b).orElseThrow();
            String id = secret.split("-")[1];
            // 2. use, and see the event
            assertEquals(200, h.post("/v1/chat/completions", secret, chat("sim-small")).statusCode());
            assertEquals(200, h.post("/v1/chat/completions", secret, chat("sim-small")).statusCode());
            for (int i = 0; i < 100 && h.gateway.audit().written() < 2; i++) Thread.sleep(10);
            Run tail = keyguard(h, "audit", "tail", "-n", "1");
            assertEquals(0, tail.code(), tail.err());
            assertTrue(tail.out().contains("\"key_name\":\"notebook\"") && tail.out().contains("\"owner\":\"team-research\""), tail.out());
            // 3. spend by team
            Run spend = keyguard(h, "spend", "--group-by", "policy,model");
            assertEquals(0, spend.code(), spend.err());
            assertTrue(spend.out().lines().anyMatch(l -> l.startsWith("demo\tsim-small\t") && l.endsWith("\t2")), spend.out());
            // 4. rotate, retried with the same request id
            Run rotated = keyguard(h, "keys", "rotate", id, "--grace", "1h", "--request-id", "rotate-1");
            Run retried = keyguard(h, "keys", "rotate", id, "--grace", "1h", "--request-id", "rotate-1");
            assertEquals(0, rotated.code(), rotated.err());
            String fresh = rotated.out().lines().reduce((a, b) -> b).orElseThrow();
            assertEquals(fresh, retried.out().lines().reduce((a, b) -> b).orElseThrow(), "the same request id, the same secret");
            assertEquals(200, h.post("/v1/chat/completions", secret, chat("sim-small")).statusCode(), "old secret, within the grace");
            assertEquals(200, h.post("/v1/chat/completions", fresh, chat("sim-small")).statusCode());
            // 5. revoke
            Run revoked = keyguard(h, "keys", "revoke", id);
            assertEquals(0, revoked.code(), revoked.err());
            assertEquals("revoked key " + id, revoked.out().strip());
            assertTrue(h.post("/v1/chat/completions", fresh, chat("sim-small")).body().contains("has been revoked"));
            // 6. a broken policy change is refused, the old revision serves
            String before = h.gateway.policies().set().revision();
            Files.writeString(h.policies.resolve("broken.kgp"), "policy broken { models allow [\"sim-smal\"] }\n");
            assertEquals(422, h.admin().post("admin/policies/reload", FakeUpstream.JSON.createObjectNode()).status());
            assertEquals(before, h.gateway.policies().set().revision());
            // 7. who did what
            Run admin = keyguard(h, "audit", "tail", "-n", "20");
            assertTrue(admin.out().contains("\"action\":\"keys.rotate\"") && admin.out().contains("\"action\":\"keys.revoke\"")
                    && admin.out().contains("\"action\":\"policies.reload\""), admin.out());
            Run list = keyguard(h, "keys", "list");
            assertTrue(list.out().contains(id) && list.out().contains("revoked"), list.out());
        }
    }
}
