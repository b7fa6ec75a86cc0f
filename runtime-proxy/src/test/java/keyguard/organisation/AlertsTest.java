package keyguard.organisation;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpServer;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import keyguard.gateway.FakeUpstream;
import keyguard.gateway.GatewayHarness;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Spend and limit alerts through a real gateway, to a real HTTP listener and a real SMTP
 * conversation on loopback: one signed POST per threshold, also across a restart; a failing
 * receiver retried; an alert not yet sent sent after a restart; a limit refusing repeatedly;
 * Slack-shaped and e-mail channels; the CLI's test message.
 */
class AlertsTest {
    static final String SECRET = "whsec-7f1c2a";

    GatewayHarness h;
    HttpServer receiver;
    /** Requests the receiver answered 2xx: {path, body, signature, alert id}. */
    final List<String[]> received = new CopyOnWriteArrayList<>();
    final List<String[]> refused = new CopyOnWriteArrayList<>();
    /** The receiver answers 500 while this is above 0 (and counts it down). */
    final AtomicInteger failNext = new AtomicInteger();
    FakeSmtp smtp;

    @BeforeEach
    void start(@TempDir Path tmp) throws Exception {
        receiver = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        receiver.createContext("/", ex -> {
            String body = new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
            String[] got = {ex.getRequestURI().getPath(), body, ex.getRequestHeaders().getFirst("X-Keyguard-Signature"),
                    ex.getRequestHeaders().getFirst("X-Keyguard-Alert-Id")};
            int status = failNext.getAndUpdate(n -> Math.max(0, n - 1)) > 0 ? 500 : 204;
            (status == 204 ? received : refused).add(got);
            ex.sendResponseHeaders(status, -1);
            ex.close();
        });
        receiver.start();
        smtp = new FakeSmtp();
        h = new GatewayHarness(tmp, false);
        h.env.put("KEYGUARD_CHANNEL_OPS_SECRET", SECRET);
        h.env.put("KEYGUARD_CHANNEL_SLACK_URL", "http://127.0.0.1:" + receiver.getAddress().getPort() + "/slack");
        Files.writeString(h.platform.resolve("alerts.kgp"), """
                model "pricey" { provider up upstream "ok" price input 10000 usd per 1m tokens, output 10000 usd per 1m tokens max_class internal }

                channel ops {
                  kind   webhook
                  url    "http://127.0.0.1:%d/hook"
                  secret env("KEYGUARD_CHANNEL_OPS_SECRET")
                }

                channel chat {
                  kind slack
                  url  env("KEYGUARD_CHANNEL_SLACK_URL")
                }

                channel finance {
                  kind   smtp
                  server "smtp://127.0.0.1:%d"
                  from   "keyguard@example.com"
                  to     ["finance@example.com", "lead@example.com"]
                  tls    optional
                }

                channel strict {
                  kind   smtp
                  server "smtp://127.0.0.1:%d"
                  from   "keyguard@example.com"
                  to     ["finance@example.com"]
                }
                """.formatted(receiver.getAddress().getPort(), smtp.port(), smtp.port()));
        Files.writeString(h.policies.resolve("alerted.kgp"), """
                policy watched {
                  models allow ["pricey"]
                  budget 1.00 usd per day hard by key alert ops at 50%, 80%, 100%
                }

                policy limited {
                  models allow ["sim-small"]
                  limit requests 2 per 1h by key alert ops after 3
                }
                """);
        h.start();
    }

    @AfterEach
    void stop() throws Exception {
        h.close();
        receiver.stop(0);
        smtp.close();
    }

    HttpResponse<String> chat(String key, String model) throws Exception {
        return h.post("/v1/chat/completions", key, "{\"model\":\"" + model + "\",\"max_tokens\":20,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
    }

    static void waitFor(BooleanSupplier condition, Duration within, String what) throws InterruptedException {
        long deadline = System.nanoTime() + within.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) throw new AssertionError("timed out waiting for " + what);
            Thread.sleep(20);
        }
    }

    List<JsonNode> hooks() throws IOException {
        List<JsonNode> out = new ArrayList<>();
        for (String[] r : received) if (r[0].equals("/hook")) out.add(FakeUpstream.JSON.readTree(r[1]));
        return out;
    }

    static String hmac(String signed) throws Exception {
        Mac mac = Mac.getInstance("HmacSHA256");
        mac.init(new SecretKeySpec(SECRET.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
        return HexFormat.of().formatHex(mac.doFinal(signed.getBytes(StandardCharsets.UTF_8)));
    }

    @Test
    void eachBudgetThresholdIsPostedOnceSignedAlsoAcrossARestart() throws Exception {
        String key = h.key("watched", "w", Map.of());
        // Each request uses 0.16 usd: the fourth takes spend to 0.64, past 50%.
        for (int i = 0; i < 4; i++) assertEquals(200, chat(key, "pricey").statusCode());
        waitFor(() -> received.size() == 1, Duration.ofSeconds(10), "the 50% alert");
        Thread.sleep(300);
        assertEquals(1, received.size(), "once, however many requests see spend above 50%");

        h.restart(); // between a threshold and the next request
        assertEquals(200, chat(key, "pricey").statusCode()); // 0.80: 80%
        waitFor(() -> received.size() == 2, Duration.ofSeconds(10), "the 80% alert");
        HttpResponse<String> refusedByBudget = chat(key, "pricey"); // 0.80 + a reservation over 0.20: refused, the budget is spent
        assertEquals(429, refusedByBudget.statusCode(), refusedByBudget.body());
        assertEquals(429, chat(key, "pricey").statusCode());
        waitFor(() -> received.size() == 3, Duration.ofSeconds(10), "the 100% alert");
        Thread.sleep(300);
        assertEquals(3, received.size(), "50% was not sent again after the restart, 100% once for two refusals");

        List<Integer> thresholds = new ArrayList<>();
        for (String[] r : received) {
            JsonNode a = FakeUpstream.JSON.readTree(r[1]);
            thresholds.add(a.path("threshold_percent").asInt());
            assertEquals("keyguard.alert", a.path("type").asText());
            assertEquals("budget.key.day", a.path("limit").asText());
            assertEquals("watched", a.path("policy").asText());
            assertEquals(1_000_000, a.path("amount_micros").asLong());
            assertEquals(a.path("id").asText(), r[3], "the id header names the alert");
            // The signature: t=SECONDS,v1=HMAC-SHA-256(secret, "SECONDS.BODY").
            String[] parts = r[2].split(",");
            String t = parts[0].substring(2);
            assertEquals("v1=" + hmac(t + "." + r[1]), parts[1], "signed with the channel's secret");
            assertTrue(Math.abs(System.currentTimeMillis() / 1000 - Long.parseLong(t)) < 60);
        }
        assertEquals(List.of(50, 80, 100), thresholds);
        assertEquals(3, received.stream().map(r -> r[3]).distinct().count());

        // Each alert is in the audit log: fired, then sent.
        Map<String, Integer> statuses = new java.util.HashMap<>();
        for (String line : h.admin().get("admin/audit?type=alert").raw().split("\n")) {
            if (!line.isBlank()) statuses.merge(FakeUpstream.JSON.readTree(line).path("status").asText(), 1, Integer::sum);
        }
        assertEquals(Map.of("fired", 3, "sent", 3), statuses);
        assertFalse(h.admin().get("admin/audit?type=alert").raw().contains(SECRET), "never the secret");
    }

    @Test
    void aLargeRequestRefusedByAnUnspentBudgetSendsNoAlert() throws Exception {
        String key = h.key("watched", "w", Map.of());
        HttpResponse<String> large = h.post("/v1/chat/completions", key,
                "{\"model\":\"pricey\",\"max_tokens\":200,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
        assertEquals(429, large.statusCode(), "a reservation of about 2 usd does not fit 1 usd: " + large.body());
        for (int i = 0; i < 4; i++) assertEquals(200, chat(key, "pricey").statusCode()); // 0.64: 50%
        waitFor(() -> received.size() == 1, Duration.ofSeconds(10), "the 50% alert");
        assertEquals(429, h.post("/v1/chat/completions", key,
                "{\"model\":\"pricey\",\"max_tokens\":200,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}").statusCode());
        Thread.sleep(300);
        assertEquals(List.of(50), hooks().stream().map(a -> a.path("threshold_percent").asInt()).toList(),
                "a refusal at 64% is no 100%: 80% was not reached");
    }

    @Test
    void aFailingReceiverIsRetriedAndAnAlertNotYetSentIsSentAfterARestart() throws Exception {
        String key = h.key("watched", "w", Map.of());
        failNext.set(2);
        for (int i = 0; i < 4; i++) assertEquals(200, chat(key, "pricey").statusCode());
        waitFor(() -> received.size() == 1, Duration.ofSeconds(15), "the 50% alert, third attempt (after 1 s and 2 s)");
        assertEquals(2, refused.size());
        assertTrue(refused.stream().allMatch(r -> r[3].equals(received.get(0)[3])), "every attempt carries the same id");

        failNext.set(1_000); // the receiver is down
        assertEquals(200, chat(key, "pricey").statusCode()); // 80%
        waitFor(() -> refused.size() >= 3, Duration.ofSeconds(10), "a first failed attempt of the 80% alert");
        h.gateway.close(); // stopped with the alert unsent
        failNext.set(0);
        h.start();
        waitFor(() -> received.size() == 2, Duration.ofSeconds(10), "the 80% alert, sent from the outbox after the restart");
        assertEquals(80, hooks().get(1).path("threshold_percent").asInt());
        Thread.sleep(300);
        assertEquals(2, received.size());
    }

    @Test
    void aLimitRefusingRepeatedlyAlertsOncePerHour() throws Exception {
        String key = h.key("limited", "l", Map.of());
        for (int i = 0; i < 2; i++) assertEquals(200, chat(key, "sim-small").statusCode());
        for (int i = 0; i < 6; i++) assertEquals(429, chat(key, "sim-small").statusCode());
        waitFor(() -> received.size() == 1, Duration.ofSeconds(10), "the limit's alert");
        Thread.sleep(300);
        assertEquals(1, received.size(), "once in the hour, at the third refusal");
        JsonNode a = hooks().get(0);
        assertEquals("limit", a.path("kind").asText());
        assertEquals("limit.requests.key.1h", a.path("limit").asText());
        assertEquals(3, a.path("refusals").asInt());
    }

    @Test
    void slackAndEmailChannelsAndTheCliTestMessage() throws Exception {
        String admin = "http://127.0.0.1:" + h.gateway.adminAddress().getPort();
        java.io.StringWriter out = new java.io.StringWriter();
        java.io.StringWriter err = new java.io.StringWriter();
        int code = keyguard.cli.Main.run(new java.io.PrintWriter(out, true), new java.io.PrintWriter(err, true), "alerts", "test", "chat",
                "--admin", admin, "--data", h.data.toString());
        assertEquals(0, code, err.toString());
        assertTrue(out.toString().contains("sent a test message through channel chat"), out.toString());
        assertEquals("/slack", received.get(0)[0]);
        assertTrue(FakeUpstream.JSON.readTree(received.get(0)[1]).path("text").asText().startsWith("Keyguard: a test of channel chat"));

        assertEquals(200, h.admin().post("admin/alerts/test", FakeUpstream.JSON.createObjectNode().put("channel", "finance")).status());
        FakeSmtp.Mail mail = smtp.mails.get(0);
        // The fake server offers no STARTTLS: a channel that did not say `tls optional` refuses to send in plain text.
        keyguard.admin.AdminClient.Reply plain = h.admin().post("admin/alerts/test", FakeUpstream.JSON.createObjectNode().put("channel", "strict"));
        assertEquals(502, plain.status(), plain.raw());
        assertEquals(1, smtp.mails.size(), "nothing was sent in plain text");
        assertEquals("<keyguard@example.com>", mail.from());
        assertEquals(List.of("<finance@example.com>", "<lead@example.com>"), mail.to());
        assertTrue(mail.data().contains("Subject: [keyguard] a test of channel finance"), mail.data());

        failNext.set(1_000); // a channel whose receiver fails: the CLI says why and fails
        code = keyguard.cli.Main.run(new java.io.PrintWriter(out, true), new java.io.PrintWriter(err, true), "alerts", "test", "ops",
                "--admin", admin, "--data", h.data.toString());
        assertEquals(1, code);
        assertTrue(err.toString().contains("channel `ops`: the receiver answered HTTP 500"), err.toString());
        keyguard.admin.AdminClient.Reply unknown = h.admin().post("admin/alerts/test", FakeUpstream.JSON.createObjectNode().put("channel", "nope"));
        assertEquals(502, unknown.status());
        assertEquals("channel `nope`: no channel `nope` in the loaded revision", unknown.error());
    }

    /**
     * An SMTP server as far as a client sees one (RFC 5321: greeting, EHLO, MAIL FROM, RCPT TO,
     * DATA, QUIT), on loopback, keeping what it was given.
     */
    static final class FakeSmtp implements AutoCloseable {
        record Mail(String from, List<String> to, String data) {}

        final List<Mail> mails = new CopyOnWriteArrayList<>();
        private final ServerSocket socket = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        private final Thread thread = new Thread(this::serve, "fake-smtp");

        FakeSmtp() throws IOException {
            thread.setDaemon(true);
            thread.start();
        }

        int port() { return socket.getLocalPort(); }

        private void serve() {
            while (!socket.isClosed()) {
                try (Socket s = socket.accept()) {
                    s.setSoTimeout(10_000);
                    BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.US_ASCII));
                    OutputStream out = s.getOutputStream();
                    reply(out, "220 fake-smtp ESMTP");
                    String from = null;
                    List<String> to = new ArrayList<>();
                    for (String line; (line = in.readLine()) != null; ) {
                        String upper = line.toUpperCase(java.util.Locale.ROOT);
                        if (upper.startsWith("EHLO") || upper.startsWith("HELO")) reply(out, "250-fake-smtp\r\n250 8BITMIME");
                        else if (upper.startsWith("MAIL FROM:")) { from = line.substring(10).trim(); reply(out, "250 OK"); }
                        else if (upper.startsWith("RCPT TO:")) { to.add(line.substring(8).trim()); reply(out, "250 OK"); }
                        else if (upper.equals("DATA")) {
                            reply(out, "354 end with <CRLF>.<CRLF>");
                            StringBuilder data = new StringBuilder();
                            for (String d; (d = in.readLine()) != null && !d.equals("."); ) data.append(d).append('\n');
                            mails.add(new Mail(from, List.copyOf(to), data.toString()));
                            reply(out, "250 OK queued");
                        } else if (upper.equals("QUIT")) { reply(out, "221 bye"); break; }
                        else if (upper.equals("RSET") || upper.equals("NOOP")) reply(out, "250 OK");
                        else reply(out, "502 not implemented");
                    }
                } catch (IOException e) {
                    // a client gone, or the socket closed
                }
            }
        }

        private static void reply(OutputStream out, String line) throws IOException {
            out.write((line + "\r\n").getBytes(StandardCharsets.US_ASCII));
            out.flush();
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }
}
