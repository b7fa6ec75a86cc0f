package keyguard.budget;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executors;
import keyguard.tokens.MediaTokens;
import keyguard.tokens.TokenCounter;

/**
 * A provider that bills: a real HTTP server on loopback speaking OpenAI's chat completions
 * and Anthropic's messages (JSON and SSE), which keeps its own ledger of what it would bill
 * for every request it serves — whether or not it reports that usage, and whether or not the
 * caller is still there to read it.
 *
 * <p>Its rules, as the providers publish them: the prompt is every message (3 tokens each
 * and 3 for the reply, OpenAI's accounting), every tool definition, images by the providers'
 * formulas (for their real size), and Anthropic's tool-use system prompt (346 tokens).
 * Output: every choice is generated up to the output cap the request carries; without one,
 * {@link #UNBOUNDED_OUTPUT} tokens each, as a provider's own (much higher) default would.
 * The upstream model name picks the reply's variant (see {@link #openAi} and {@link #anthropic}).
 */
final class BillingUpstream implements AutoCloseable {
    static final ObjectMapper JSON = new ObjectMapper();
    static final int UNBOUNDED_OUTPUT = 16_000;
    static final TokenCounter TOKENS = TokenCounter.CL100K;

    /** What the provider bills one request for, in billing terms (the tier's name, or null for the standard tier). */
    record Bill(String mode, long input, long cacheWrite, long cacheWrite1h, long cacheRead, long output, long reasoning, long images,
                long webSearches, String tier, JsonNode request) {}

    final ConcurrentLinkedQueue<Bill> bills = new ConcurrentLinkedQueue<>();
    private final HttpServer server;

    BillingUpstream() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 1024);
        server.setExecutor(Executors.newCachedThreadPool());
        server.createContext("/openai/chat/completions", ex -> serve(ex, false));
        server.createContext("/anthropic/messages", ex -> serve(ex, true));
        server.start();
    }

    int port() { return server.getAddress().getPort(); }

    /** Exactly {@code n} tokens of text in cl100k ("x x x ..."). */
    static String text(long n) {
        if (n <= 0) return "";
        StringBuilder sb = new StringBuilder("x");
        for (long i = 1; i < n; i++) sb.append(" x");
        return sb.toString();
    }

    /** The prompt as the provider counts it. */
    static long prompt(JsonNode body, boolean anthropic) {
        long n = 3;
        long images = 0;
        List<JsonNode> messages = new ArrayList<>();
        body.path("messages").forEach(messages::add);
        if (anthropic && body.has("system")) n += 3 + TOKENS.count(textOf(body.get("system")));
        for (JsonNode m : messages) {
            n += 3 + TOKENS.count(textOf(m.path("content")));
            for (JsonNode call : m.path("tool_calls")) {
                n += TOKENS.count(call.path("function").path("name").asText() + " " + call.path("function").path("arguments").asText());
            }
            for (JsonNode part : m.path("content")) n += imageTokens(part, anthropic);
        }
        for (JsonNode tool : body.path("tools")) n += TOKENS.count(tool.toString());
        if (anthropic && body.path("tools").size() > 0) n += 346;
        return n + images;
    }

    static long images(JsonNode body) {
        long n = 0;
        for (JsonNode m : body.path("messages")) {
            for (JsonNode part : m.path("content")) {
                String type = part.path("type").asText();
                if (type.equals("image_url") || type.equals("image")) n++;
            }
        }
        return n;
    }

    private static long imageTokens(JsonNode part, boolean anthropic) {
        String type = part.path("type").asText();
        if (!type.equals("image_url") && !type.equals("image")) return 0;
        String data = anthropic ? part.path("source").path("data").asText() : part.path("image_url").path("url").asText();
        byte[] png = Base64.getDecoder().decode(data.substring(data.indexOf(',') + 1));
        int w = (png[16] & 0xff) << 24 | (png[17] & 0xff) << 16 | (png[18] & 0xff) << 8 | (png[19] & 0xff);
        int h = (png[20] & 0xff) << 24 | (png[21] & 0xff) << 16 | (png[22] & 0xff) << 8 | (png[23] & 0xff);
        return anthropic ? MediaTokens.anthropicImage(w, h) : MediaTokens.openAiImage(part.path("image_url").path("detail").asText("auto"), w, h);
    }

    private static String textOf(JsonNode content) {
        if (content.isTextual()) return content.asText();
        StringBuilder sb = new StringBuilder();
        for (JsonNode part : content) {
            String t = part.path("text").asText("");
            if (part.path("type").asText().equals("tool_result")) t = textOf(part.path("content"));
            if (!t.isEmpty()) {
                if (!sb.isEmpty()) sb.append('\n');
                sb.append(t);
            }
        }
        return sb.toString();
    }

    private void serve(HttpExchange ex, boolean anthropic) throws IOException {
        try (ex) {
            JsonNode body = JSON.readTree(ex.getRequestBody().readAllBytes());
            if (anthropic) anthropic(ex, body);
            else openAi(ex, body);
        } catch (IOException gone) {
            // the gateway went away mid-reply: the bill stands
        }
    }

    /**
     * OpenAI variants: {@code standard}; {@code cached-reasoning} (half the prompt read from
     * cache, half of each choice's output reasoning); {@code tools-only} (a tool call and no
     * text); {@code no-usage} (no usage, whole or streamed, two parts per choice);
     * {@code cut} (a stream that drops after 30 tokens); {@code empty-usage} (a usage object
     * without counts, as some compatible servers send); {@code late} and {@code hang} (headers after 1.5 s,
     * the whole generation billed whoever is there to read it); {@code trickle} (a stream of
     * one token every 20 ms, billed in full whoever is there to read it).
     */
    private void openAi(HttpExchange ex, JsonNode body) throws IOException {
        String mode = body.path("model").asText();
        long prompt = prompt(body, false);
        long cap = body.hasNonNull("max_completion_tokens") ? body.get("max_completion_tokens").asLong()
                : body.hasNonNull("max_tokens") ? body.get("max_tokens").asLong() : UNBOUNDED_OUTPUT;
        int n = body.path("n").asInt(1);
        boolean stream = body.path("stream").asBoolean(false);
        String tier = body.path("service_tier").asText("default");
        if (tier.equals("auto")) tier = "default";
        long cached = mode.equals("cached-reasoning") ? prompt / 2 : 0;
        long reasoningEach = mode.equals("cached-reasoning") ? cap / 2 : 0;
        List<String> texts = new ArrayList<>();
        List<String[]> tools = new ArrayList<>();
        long output = 0;
        for (int i = 0; i < n; i++) {
            switch (mode) {
                case "tools-only" -> {
                    String[] call = {"lookup_weather", "{\"city\":\"Paris\",\"unit\":\"celsius\"}"};
                    tools.add(call);
                    texts.add(null);
                    output += TOKENS.count(call[0]) + TOKENS.count(call[1]);
                }
                case "no-usage" -> {
                    String t = text(Math.min(cap, 40));
                    texts.add(t);
                    output += TOKENS.count(t);
                    if (i == 0) {
                        String[] call = {"search_docs", "{\"query\":\"budget integrity\"}"};
                        tools.add(call);
                        output += TOKENS.count(call[0]) + TOKENS.count(call[1]);
                    } else {
                        tools.add(null);
                    }
                }
                case "cut" -> {
                    String t = text(Math.min(cap, 30));
                    texts.add(t);
                    output += TOKENS.count(t);
                }
                default -> {
                    String t = text(cap - reasoningEach);
                    texts.add(t);
                    output += cap - reasoningEach;
                }
            }
            if (!mode.equals("tools-only") && !mode.equals("no-usage")) tools.add(null);
        }
        long reasoning = reasoningEach * n;
        bills.add(new Bill(mode, prompt - cached, 0, 0, cached, output, reasoning, images(body), body.has("web_search_options") ? 1 : 0,
                tier.equals("default") ? null : tier, body));
        if (mode.equals("late") || mode.equals("hang")) sleep(1500);
        ObjectNode usage = JSON.createObjectNode().put("prompt_tokens", prompt).put("completion_tokens", output + reasoning)
                .put("total_tokens", prompt + output + reasoning);
        usage.putObject("prompt_tokens_details").put("cached_tokens", cached);
        usage.putObject("completion_tokens_details").put("reasoning_tokens", reasoning);
        boolean reportUsage = !mode.equals("no-usage");
        if (mode.equals("empty-usage")) usage.removeAll();
        if (!stream) {
            ObjectNode o = JSON.createObjectNode().put("id", "chatcmpl-bill").put("object", "chat.completion").put("created", 1)
                    .put("model", mode).put("service_tier", tier);
            ArrayNode choices = o.putArray("choices");
            for (int i = 0; i < n; i++) {
                ObjectNode c = choices.addObject().put("index", i).put("finish_reason", texts.get(i) == null ? "tool_calls" : "length");
                ObjectNode m = c.putObject("message").put("role", "assistant");
                if (texts.get(i) == null) m.putNull("content");
                else m.put("content", texts.get(i));
                if (tools.get(i) != null) {
                    ObjectNode call = m.putArray("tool_calls").addObject().put("id", "call_" + i).put("type", "function");
                    call.putObject("function").put("name", tools.get(i)[0]).put("arguments", tools.get(i)[1]);
                }
            }
            if (reportUsage) o.set("usage", usage);
            send(ex, 200, o.toString());
            return;
        }
        ex.getResponseHeaders().add("content-type", "text/event-stream");
        if (mode.equals("cut")) {
            String chunk = "data: " + chunk(tier, 0, JSON.createObjectNode().put("content", texts.get(0)), null) + "\n\n";
            byte[] b = chunk.getBytes(StandardCharsets.UTF_8);
            ex.sendResponseHeaders(200, b.length + 1000);
            ex.getResponseBody().write(b);
            ex.getResponseBody().flush();
            return; // fewer bytes than declared: the connection drops
        }
        ex.sendResponseHeaders(200, 0);
        OutputStream out = ex.getResponseBody();
        if (mode.equals("trickle")) {
            String t = texts.get(0);
            for (int k = 0; k < t.length(); k += 2) {
                event(out, chunk(tier, 0, JSON.createObjectNode().put("content", t.substring(k, Math.min(t.length(), k + 2))), null));
                sleep(20);
            }
        }
        for (int i = 0; i < n && !mode.equals("trickle"); i++) {
            String t = texts.get(i);
            if (t != null) {
                int half = t.length() / 2;
                while (half > 0 && t.charAt(half) != ' ') half--;
                event(out, chunk(tier, i, JSON.createObjectNode().put("role", "assistant").put("content", t.substring(0, half)), null));
                event(out, chunk(tier, i, JSON.createObjectNode().put("content", t.substring(half)), null));
            }
            if (tools.get(i) != null) {
                String[] call = tools.get(i);
                int half = call[1].length() / 2;
                for (int k = 0; k < 2; k++) {
                    ObjectNode delta = JSON.createObjectNode();
                    ObjectNode c = delta.putArray("tool_calls").addObject().put("index", 0);
                    if (k == 0) c.put("id", "call_" + i).put("type", "function");
                    ObjectNode f = c.putObject("function");
                    if (k == 0) f.put("name", call[0]);
                    f.put("arguments", k == 0 ? call[1].substring(0, half) : call[1].substring(half));
                    event(out, chunk(tier, i, delta, null));
                }
            }
            event(out, chunk(tier, i, JSON.createObjectNode(), t == null ? "tool_calls" : "length"));
        }
        if (reportUsage && body.path("stream_options").path("include_usage").asBoolean(false)) {
            ObjectNode o = JSON.createObjectNode().put("id", "chatcmpl-bill").put("object", "chat.completion.chunk").put("created", 1)
                    .put("model", mode).put("service_tier", tier);
            o.putArray("choices");
            o.set("usage", usage);
            event(out, o.toString());
        }
        out.write("data: [DONE]\n\n".getBytes(StandardCharsets.UTF_8));
    }

    private static String chunk(String tier, int index, ObjectNode delta, String finish) {
        ObjectNode o = JSON.createObjectNode().put("id", "chatcmpl-bill").put("object", "chat.completion.chunk").put("created", 1)
                .put("model", "m").put("service_tier", tier);
        ObjectNode c = o.putArray("choices").addObject().put("index", index);
        c.set("delta", delta);
        if (finish == null) c.putNull("finish_reason");
        else c.put("finish_reason", finish);
        o.putNull("usage");
        return o.toString();
    }

    /**
     * Anthropic variants: {@code cache} (half the prompt written to the cache, a quarter read
     * from it); {@code web-search} (two searches, at most {@code max_uses}); {@code tools-only};
     * {@code no-usage} (whole: no usage; streamed: input in {@code message_start}, no usage in
     * {@code message_delta}); {@code priority} (served, and billed, in the priority tier).
     */
    private void anthropic(HttpExchange ex, JsonNode body) throws IOException {
        String mode = body.path("model").asText();
        long prompt = prompt(body, true);
        long cap = body.path("max_tokens").asLong();
        boolean stream = body.path("stream").asBoolean(false);
        long write = mode.equals("cache") ? prompt / 2 : 0;
        long read = mode.equals("cache") ? prompt / 4 : 0;
        long input = prompt - write - read;
        boolean hour = body.toString().contains("\"ttl\":\"1h\"");
        long searches = 0;
        if (mode.equals("web-search")) {
            for (JsonNode tool : body.path("tools")) {
                if (tool.path("type").asText().startsWith("web_search")) searches = Math.min(2, tool.path("max_uses").asLong(Long.MAX_VALUE));
            }
        }
        String text = mode.equals("tools-only") ? null : text(mode.equals("no-usage") ? Math.min(cap, 40) : cap);
        String[] tool = mode.equals("tools-only") || mode.equals("no-usage") ? new String[] {"get_stock", "{\"ticker\":\"KG\"}"} : null;
        long output = (text == null ? 0 : TOKENS.count(text)) + (tool == null ? 0 : TOKENS.count(tool[0]) + TOKENS.count(tool[1]));
        String tier = mode.equals("priority") ? "priority" : null;
        bills.add(new Bill(mode, input, hour ? 0 : write, hour ? write : 0, read, output, 0, images(body), searches, tier, body));
        ObjectNode usage = JSON.createObjectNode().put("input_tokens", input).put("cache_creation_input_tokens", write)
                .put("cache_read_input_tokens", read).put("output_tokens", output).put("service_tier", tier == null ? "standard" : tier);
        usage.putObject("cache_creation").put("ephemeral_5m_input_tokens", hour ? 0 : write).put("ephemeral_1h_input_tokens", hour ? write : 0);
        if (searches > 0) usage.putObject("server_tool_use").put("web_search_requests", searches);
        if (!stream) {
            ObjectNode o = JSON.createObjectNode().put("id", "msg_bill").put("type", "message").put("role", "assistant").put("model", mode);
            ArrayNode content = o.putArray("content");
            if (text != null) content.addObject().put("type", "text").put("text", text);
            if (tool != null) content.addObject().put("type", "tool_use").put("id", "toolu_1").put("name", tool[0]).set("input", JSON.readTree(tool[1]));
            o.put("stop_reason", tool != null ? "tool_use" : "max_tokens").putNull("stop_sequence");
            if (!mode.equals("no-usage")) o.set("usage", usage);
            send(ex, 200, o.toString());
            return;
        }
        ex.getResponseHeaders().add("content-type", "text/event-stream");
        ex.sendResponseHeaders(200, 0);
        OutputStream out = ex.getResponseBody();
        ObjectNode start = JSON.createObjectNode().put("type", "message_start");
        ObjectNode message = start.putObject("message").put("id", "msg_bill").put("type", "message").put("role", "assistant").put("model", mode);
        message.putArray("content");
        message.putObject("usage").put("input_tokens", input).put("cache_creation_input_tokens", write).put("cache_read_input_tokens", read)
                .put("output_tokens", 1);
        sse(out, "message_start", start.toString());
        int index = 0;
        if (text != null) {
            sse(out, "content_block_start", "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}");
            int half = text.length() / 2;
            while (half > 0 && text.charAt(half) != ' ') half--;
            for (String piece : new String[] {text.substring(0, half), text.substring(half)}) {
                ObjectNode d = JSON.createObjectNode().put("type", "content_block_delta").put("index", 0);
                d.putObject("delta").put("type", "text_delta").put("text", piece);
                sse(out, "content_block_delta", d.toString());
            }
            sse(out, "content_block_stop", "{\"type\":\"content_block_stop\",\"index\":0}");
            index++;
        }
        if (tool != null) {
            ObjectNode s = JSON.createObjectNode().put("type", "content_block_start").put("index", index);
            s.putObject("content_block").put("type", "tool_use").put("id", "toolu_1").put("name", tool[0]).putObject("input");
            sse(out, "content_block_start", s.toString());
            ObjectNode d = JSON.createObjectNode().put("type", "content_block_delta").put("index", index);
            d.putObject("delta").put("type", "input_json_delta").put("partial_json", tool[1]);
            sse(out, "content_block_delta", d.toString());
            sse(out, "content_block_stop", "{\"type\":\"content_block_stop\",\"index\":" + index + "}");
        }
        ObjectNode delta = JSON.createObjectNode().put("type", "message_delta");
        delta.putObject("delta").put("stop_reason", tool != null ? "tool_use" : "max_tokens").putNull("stop_sequence");
        if (!mode.equals("no-usage")) delta.set("usage", usage);
        sse(out, "message_delta", delta.toString());
        sse(out, "message_stop", "{\"type\":\"message_stop\"}");
    }

    private static void event(OutputStream out, String data) throws IOException {
        out.write(("data: " + data + "\n\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    private static void sse(OutputStream out, String event, String data) throws IOException {
        out.write(("event: " + event + "\ndata: " + data + "\n\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    private static void send(HttpExchange ex, int status, String body) throws IOException {
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().add("content-type", "application/json");
        ex.sendResponseHeaders(status, b.length);
        ex.getResponseBody().write(b);
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        server.stop(0);
        ((java.util.concurrent.ExecutorService) server.getExecutor()).shutdownNow();
    }
}
