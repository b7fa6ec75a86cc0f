package keyguard.replay;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import keyguard.audit.AuditLog;
import keyguard.gateway.GatewayHarness;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What a decision event records of the caller's request: what the policy reads, not what the caller happened to send. */
class AuditInputTest {
    static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void anEventKeepsOnlyTheMetadataItsPolicyReads(@TempDir Path tmp) throws Exception {
        try (GatewayHarness h = new GatewayHarness(tmp, false)) {
            Files.writeString(h.policies.resolve("team.kgp"), """
                    policy team {
                      models allow ["sim-small"]
                      @id("no-beta") forbid when { request.metadata["project"] == "beta" }
                    }
                    """);
            h.start();
            String key = h.key("team", "svc", Map.of());
            String body = "{\"model\":\"sim-small\",\"max_tokens\":8,\"metadata\":{\"project\":\"alpha\",\"note\":\"ticket-48151623 for the night shift\"},"
                    + "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
            assertEquals(200, h.post("/v1/chat/completions", key, body).statusCode());
            assertEquals(403, h.post("/v1/chat/completions", key, body.replace("alpha", "beta")).statusCode());
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (h.gateway.audit().written() < 2 && System.nanoTime() < deadline) Thread.sleep(10);
            List<String> lines = new ArrayList<>();
            try (var q = AuditLog.openForReading(h.data.resolve("audit"))) {
                AuditLog.read(q, null, null, l -> {
                    if (l.contains("\"type\":\"decision\"")) lines.add(l);
                });
            }
            assertEquals(2, lines.size());
            for (String line : lines) {
                assertFalse(line.contains("ticket-48151623"), "a metadata value no rule reads is not kept: " + line);
                JsonNode metadata = JSON.readTree(line).get("input").get("metadata");
                assertEquals(1, metadata.size(), line);
            }
            assertEquals("alpha", JSON.readTree(lines.get(0)).get("input").get("metadata").get("project").asText());
            assertEquals("beta", JSON.readTree(lines.get(1)).get("input").get("metadata").get("project").asText());
        }
    }
}
