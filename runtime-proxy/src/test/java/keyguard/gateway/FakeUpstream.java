package keyguard.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * A stand-in for the outside world's LLM providers: a real HTTP server on loopback that
 * speaks OpenAI's ({@code /openai/...}) and Anthropic's ({@code /anthropic/messages})
 * JSON and SSE. The upstream model name picks the behaviour:
 *
 * <ul>
 *   <li>{@code ok}: an answer echoing the last user message ({@code echo: …});</li>
 *   <li>{@code fail-500}, {@code fail-401} (its body quotes the presented key, as real
 *       providers do), {@code fail-429}, {@code fail-400}: that status;</li>
 *   <li>{@code slow}: no headers for three seconds;</li>
 *   <li>{@code cut}: one event of a stream, then the connection drops;</li>
 *   <li>{@code held}: one event, then waits for {@link #release} before the rest;</li>
 *   <li>{@code endless}: events every 20 ms until the reader goes away;</li>
 *   <li>{@code flood}: 16 KB events as fast as the reader takes them, until it goes away.</li>
 * </ul>
 * Every request is recorded with its headers and body.
 */
public final class FakeUpstream implements AutoCloseable {
    public static final ObjectMapper JSON = new ObjectMapper();

    /** {@code remotePort}: the gateway's end of the connection the request came on (one port, one connection). */
    public record Received(String path, Map<String, List<String>> headers, JsonNode body, int remotePort) {
        public String header(String name) {
            for (var e : headers.entrySet()) if (e.getKey().equalsIgnoreCase(name)) return e.getValue().get(0);
            return null;
        }
    }

    public final ConcurrentLinkedQueue<Received> received = new ConcurrentLinkedQueue<>();
    public volatile CountDownLatch release = new CountDownLatch(1);
    public volatile CountDownLatch endlessStopped = new CountDownLatch(1);
    private final HttpServer server;

    FakeUpstream() throws IOException {
        this(null);
    }

    /** @param tls an HTTPS server with this context; null for plain HTTP */
    public FakeUpstream(javax.net.ssl.SSLContext tls) throws IOException {
        InetSocketAddress loopback = new InetSocketAddress(InetAddress.getLoopbackAddress(), 0);
        if (tls == null) {
            server = HttpServer.create(loopback, 1024);
        } else {
            com.sun.net.httpserver.HttpsServer https = com.sun.net.httpserver.HttpsServer.create(loopback, 1024);
            https.setHttpsConfigurator(new com.sun.net.httpserver.HttpsConfigurator(tls));
            server = https;
        }
        server.setExecutor(Executors.newCachedThreadPool());
        server.createContext("/openai/chat/completions", ex -> handle(ex, false));
        server.createContext("/openai/embeddings", this::embeddings);
        server.createContext("/anthropic/messages", ex -> handle(ex, true));
        server.start();
    }

    public int port() { return server.getAddress().getPort(); }

    private JsonNode record(HttpExchange ex) throws IOException {
        JsonNode body = JSON.readTree(ex.getRequestBody().readAllBytes());
        received.add(new Received(ex.getRequestURI().getPath(), Map.copyOf(ex.getRequestHeaders()), body, ex.getRemoteAddress().getPort()));
        return body;
    }

    private void handle(HttpExchange ex, boolean anthropic) throws IOException {
        try (ex) {
            JsonNode body = record(ex);
            String mode = body.path("model").asText();
            String presented = anthropic ? ex.getRequestHeaders().getFirst("x-api-key") : ex.getRequestHeaders().getFirst("authorization");
            switch (mode) {
                case "fail-500" -> { send(ex, 500, "{\"error\":{\"message\":\"internal\",\"type\":\"server_error\"}}"); return; }
                case "fail-401" -> { send(ex, 401, "{\"error\":{\"message\":\"Incorrect API key provided: " + presented + "\",\"code\":\"invalid_api_key\"}}"); return; }
                case "fail-429" -> {
                    ex.getResponseHeaders().add("retry-after", "7");
                    send(ex, 429, "{\"error\":{\"message\":\"slow down\",\"type\":\"rate_limit\"}}");
                    return;
                }
                case "fail-400" -> { send(ex, 400, "{\"error\":{\"message\":\"bad temperature\",\"type\":\"invalid_request_error\",\"param\":\"temperature\"}}"); return; }
                case "slow" -> { sleep(3000); send(ex, 200, "{}"); return; }
                default -> { }
            }
            String last = "";
            for (JsonNode m : body.path("messages")) if (m.path("role").asText().equals("user")) last = m.path("content").asText();
            String text = "echo: " + last;
            boolean stream = body.path("stream").asBoolean(false);
            if (!stream) {
                send(ex, 200, anthropic ? anthropicMessage(text) : openAiCompletion(text));
                return;
            }
            ex.getResponseHeaders().add("content-type", "text/event-stream");
            List<String> events = anthropic ? anthropicEvents(text) : openAiEvents(text, body.path("stream_options").path("include_usage").asBoolean());
            if (mode.equals("cut")) {
                byte[] first = events.get(0).getBytes(StandardCharsets.UTF_8);
                ex.sendResponseHeaders(200, first.length + 1000);
                ex.getResponseBody().write(first);
                ex.getResponseBody().flush();
                return; // closing with fewer bytes than declared drops the connection
            }
            ex.sendResponseHeaders(200, 0);
            OutputStream out = ex.getResponseBody();
            if (mode.equals("flood")) {
                String big = "data: {\"id\":\"f\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\""
                        + "x".repeat(16 * 1024) + "\"},\"finish_reason\":null}]}\n\n";
                try {
                    for (int i = 0; i < 100_000; i++) {
                        out.write(big.getBytes(StandardCharsets.UTF_8));
                        out.flush();
                    }
                } catch (IOException gone) {
                    endlessStopped.countDown();
                }
                return;
            }
            if (mode.equals("endless")) {
                try {
                    for (int i = 0; i < 1500; i++) {
                        out.write(events.get(Math.min(i, 1)).getBytes(StandardCharsets.UTF_8));
                        out.flush();
                        sleep(20);
                    }
                } catch (IOException gone) {
                    endlessStopped.countDown();
                }
                return;
            }
            for (int i = 0; i < events.size(); i++) {
                out.write(events.get(i).getBytes(StandardCharsets.UTF_8));
                out.flush();
                if (i == 0 && mode.equals("held")) await(release);
            }
        }
    }

    private void embeddings(HttpExchange ex) throws IOException {
        try (ex) {
            JsonNode body = record(ex);
            if (body.path("model").asText().equals("fail-500")) {
                send(ex, 500, "{}");
                return;
            }
            send(ex, 200, "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"index\":0,\"embedding\":[0.6,0.8]}],"
                    + "\"model\":\"" + body.path("model").asText() + "\",\"usage\":{\"prompt_tokens\":3,\"total_tokens\":3}}");
        }
    }

    static String openAiCompletion(String text) {
        return "{\"id\":\"chatcmpl-up1\",\"object\":\"chat.completion\",\"created\":1,\"model\":\"upstream-model\",\"choices\":[{\"index\":0,"
                + "\"message\":{\"role\":\"assistant\",\"content\":" + quote(text) + "},\"finish_reason\":\"stop\"}],"
                + "\"usage\":{\"prompt_tokens\":11,\"completion_tokens\":5,\"total_tokens\":16}}";
    }

    static List<String> openAiEvents(String text, boolean usage) {
        String head = "{\"id\":\"chatcmpl-up2\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"upstream-model\",";
        java.util.ArrayList<String> out = new java.util.ArrayList<>();
        out.add("data: " + head + "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n");
        for (String piece : new String[] {text.substring(0, text.length() / 2), text.substring(text.length() / 2)}) {
            out.add("data: " + head + "\"choices\":[{\"index\":0,\"delta\":{\"content\":" + quote(piece) + "},\"finish_reason\":null}]}\n\n");
        }
        out.add("data: " + head + "\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n");
        if (usage) out.add("data: " + head + "\"choices\":[],\"usage\":{\"prompt_tokens\":11,\"completion_tokens\":5,\"total_tokens\":16}}\n\n");
        out.add("data: [DONE]\n\n");
        return out;
    }

    static String anthropicMessage(String text) {
        return "{\"id\":\"msg_up1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-upstream\",\"content\":[{\"type\":\"text\",\"text\":"
                + quote(text) + "}],\"stop_reason\":\"end_turn\",\"stop_sequence\":null,\"usage\":{\"input_tokens\":12,\"output_tokens\":6}}";
    }

    static List<String> anthropicEvents(String text) {
        return List.of(
                "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_up2\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-upstream\",\"content\":[],\"stop_reason\":null,\"usage\":{\"input_tokens\":12,\"output_tokens\":1}}}\n\n",
                "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
                "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":" + quote(text) + "}}\n\n",
                "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
                "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":6}}\n\n",
                "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
    }

    private static void send(HttpExchange ex, int status, String body) throws IOException {
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().add("content-type", "application/json");
        ex.sendResponseHeaders(status, b.length);
        ex.getResponseBody().write(b);
    }

    static String quote(String s) {
        try {
            return JSON.writeValueAsString(s);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void await(CountDownLatch latch) {
        try {
            latch.await(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    public Received last() {
        Received r = null;
        for (Received x : received) r = x;
        return r;
    }

    @Override
    public void close() {
        server.stop(0);
        ((java.util.concurrent.ExecutorService) server.getExecutor()).shutdownNow();
    }
}
