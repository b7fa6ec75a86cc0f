package keyguard.gateway;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import keyguard.audit.AuditLog;
import net.openhft.chronicle.queue.ChronicleQueue;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A gateway in its own JVM, killed with SIGKILL in the middle of a load: every response a
 * caller received complete has its audit event, because a response completes only after
 * its event is appended to the memory-mapped queue.
 */
class AuditKill9Test {
    @Test
    void aKill9DuringLoadLosesNoEventOfACompletedResponse(@TempDir Path tmp) throws Exception {
        Path policies = Files.createDirectories(tmp.resolve("policies"));
        Files.writeString(Files.createDirectories(policies.resolve("platform")).resolve("models.kgp"), """
                provider sim { builtin simulator }
                model "sim-small" { provider sim price input 1 usd per 1m tokens, output 2 usd per 1m tokens max_class internal }
                """);
        Files.writeString(policies.resolve("p.kgp"), """
                policy load { models allow ["sim-small"] }
                """);
        Path data = tmp.resolve("data");
        keyguard.testing.GatewayProcess gw = keyguard.testing.GatewayProcess.start(Duration.ofSeconds(60),
                "--policies", policies.toString(), "--data", data.toString());
        int port = gw.port;
        int adminPort = gw.adminPort;

        HttpClient http = HttpClient.newHttpClient();
        String token = Files.readString(data.resolve("admin.token")).strip();
        String created = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + adminPort + "/admin/keys"))
                .header("authorization", "Bearer " + token).POST(HttpRequest.BodyPublishers.ofString("{\"policy\":\"load\",\"name\":\"k\"}")).build(),
                HttpResponse.BodyHandlers.ofString()).body();
        String key = FakeUpstream.JSON.readTree(created).path("secret").asText();

        ConcurrentLinkedQueue<String> completed = new ConcurrentLinkedQueue<>();
        AtomicBoolean running = new AtomicBoolean(true);
        List<Thread> clients = new ArrayList<>();
        for (int c = 0; c < 8; c++) {
            int client = c;
            clients.add(Thread.ofPlatform().start(() -> {
                int i = 0;
                while (running.get()) {
                    String model = i++ % 5 == 4 ? "sim-large" : "sim-small"; // some refused (unknown model)
                    try {
                        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/v1/chat/completions"))
                                .timeout(Duration.ofSeconds(5)).header("authorization", "Bearer " + key)
                                .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"" + model + "\",\"max_tokens\":5,\"stream\":" + (client % 2 == 0)
                                        + ",\"messages\":[{\"role\":\"user\",\"content\":\"hi " + i + "\"}]}")).build(),
                                HttpResponse.BodyHandlers.ofString());
                        r.headers().firstValue("x-keyguard-decision-id").ifPresent(completed::add);
                    } catch (Exception e) {
                        // the gateway died under this request: it never completed
                    }
                }
            }));
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (completed.size() < 300 && System.nanoTime() < deadline) Thread.sleep(10);
        gw.kill(); // SIGKILL mid-load
        running.set(false);
        for (Thread t : clients) t.join();

        Set<String> logged = new HashSet<>();
        try (ChronicleQueue q = AuditLog.openForReading(data.resolve("audit"))) {
            AuditLog.read(q, null, null, l -> {
                int at = l.indexOf("\"decision_id\":\"");
                if (at >= 0) logged.add(l.substring(at + 15, l.indexOf('"', at + 15)));
            });
        }
        List<String> missing = completed.stream().filter(id -> !logged.contains(id)).toList();
        assertTrue(completed.size() >= 300);
        assertTrue(missing.isEmpty(), missing.size() + " of " + completed.size() + " completed responses have no audit event: " + missing);
    }
}
