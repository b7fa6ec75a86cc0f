package keyguard.providers;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Set;

/**
 * How an upstream speaks: reads its responses (whole or as SSE events) into neutral
 * terms. The same reading serves both passthrough (to learn the usage without changing a
 * byte) and translation (to re-render the reply in the caller's shape).
 *
 * <p>Usage is read in billing terms: OpenAI's {@code prompt_tokens} less
 * {@code prompt_tokens_details.cached_tokens} is uncached input, its
 * {@code completion_tokens} less {@code completion_tokens_details.reasoning_tokens} is
 * visible output; Anthropic's {@code input_tokens}, {@code cache_creation_input_tokens},
 * {@code cache_read_input_tokens}, {@code output_tokens} and
 * {@code server_tool_use.web_search_requests} are taken as they are. Every choice, tool
 * call and reasoning text is collected, so that a reply without usage can be counted.
 */
enum Dialect {
    OPENAI, ANTHROPIC;

    static final ObjectMapper JSON = new ObjectMapper();

    /**
     * Reads one SSE event into {@code st}; returns the text it adds to the first choice
     * (possibly empty), or null when it carries none.
     */
    String observe(String event, StreamState st) {
        String data = SseSplitter.data(event);
        if (data.isEmpty()) return null;
        if (this == OPENAI && data.strip().equals("[DONE]")) {
            st.done = true;
            return null;
        }
        JsonNode o;
        try {
            o = readKept(data, this == OPENAI ? OPENAI_FIELDS : ANTHROPIC_FIELDS);
        } catch (IOException e) {
            return null; // not JSON: forwarded as is on passthrough, ignored on translation
        }
        if (this == OPENAI) {
            if (o.has("error")) {
                st.error = o.path("error").path("message").asText("upstream error");
                return null;
            }
            if (st.id.isEmpty()) st.id = o.path("id").asText("");
            openAiUsage(o, st);
            String first = null;
            for (JsonNode choice : o.path("choices")) {
                int index = choice.path("index").asInt(0);
                JsonNode delta = choice.path("delta");
                JsonNode content = delta.get("content");
                if (content != null && content.isTextual()) {
                    st.generated(contentPart(index), content.asText());
                    if (index == 0) {
                        st.text.append(content.asText());
                        first = content.asText();
                    }
                }
                generatedExtras(delta, index, st);
                if (index == 0 && choice.hasNonNull("finish_reason")) {
                    st.finish = choice.get("finish_reason").asText().equals("length") ? "length" : "stop";
                }
            }
            return first;
        }
        switch (o.path("type").asText()) {
            case "message_start" -> {
                st.id = o.path("message").path("id").asText("");
                anthropicUsage(o.path("message").path("usage"), st, false);
            }
            case "content_block_start" -> {
                JsonNode block = o.path("content_block");
                String part = "b" + o.path("index").asInt(0);
                st.generated(part + ".name", block.path("name").asText(""));
                st.generated(part, block.path("text").asText(""));
                st.generated(part, block.path("thinking").asText(""));
            }
            case "content_block_delta" -> {
                JsonNode delta = o.path("delta");
                String part = "b" + o.path("index").asInt(0);
                st.generated(part, delta.path("partial_json").asText(""));
                st.generated(part, delta.path("thinking").asText(""));
                JsonNode t = delta.get("text");
                if (t != null && t.isTextual()) {
                    st.generated(part, t.asText());
                    st.text.append(t.asText());
                    return t.asText();
                }
            }
            case "message_delta" -> {
                anthropicUsage(o.path("usage"), st, true);
                String stop = o.path("delta").path("stop_reason").asText("");
                if (!stop.isEmpty()) st.finish = stop.equals("max_tokens") ? "length" : "stop";
            }
            case "message_stop" -> st.done = true;
            case "error" -> st.error = o.path("error").path("message").asText("upstream error");
            default -> { }
        }
        return null;
    }

    /** The top-level fields of an event that {@link #observe} reads; every other one is skipped unread. */
    private static final Set<String> OPENAI_FIELDS = Set.of("error", "id", "service_tier", "usage", "choices");
    private static final Set<String> ANTHROPIC_FIELDS = Set.of("type", "message", "content_block", "index", "delta",
            "usage", "error");

    /**
     * {@code json} as the tree {@link #observe} and {@link #read} read, holding only the
     * top-level {@code fields} they read: a relayed stream's every chunk and every whole
     * reply pass here, and the fields not read (an OpenAI chunk's {@code object},
     * {@code created}, {@code model}, {@code system_fingerprint}, ...) are skipped by the
     * parser without becoming strings and nodes ({@link #readFields}). Text after the value
     * is ignored, as {@code readTree} ignores it; a value that is not an object is read whole.
     */
    private static JsonNode readKept(String json, Set<String> fields) throws IOException {
        JsonNode o;
        try (JsonParser p = JSON.getFactory().createParser(json)) {
            o = readFields(p, fields);
        }
        return o != null ? o : JSON.readTree(json);
    }

    /**
     * The JSON object {@code p} starts with, holding only the top-level {@code fields}: the
     * others are passed over token by token, never made strings or nodes. Each kept field is
     * the tree {@code readTree} would make (a duplicate key: the last wins); malformed JSON
     * anywhere, and a string past the parser's length limit even in a field passed over,
     * fail as they would. Null when the value is not an object.
     */
    private static JsonNode readFields(JsonParser p, Set<String> fields) throws IOException {
        JsonToken t = p.nextToken();
        if (t != JsonToken.START_OBJECT) return null;
        ObjectNode o = JSON.createObjectNode();
        while ((t = p.nextToken()) == JsonToken.FIELD_NAME) {
            String name = p.currentName();
            p.nextToken();
            if (fields.contains(name)) o.set(name, JSON.readTree(p));
            else skip(p);
        }
        if (t != JsonToken.END_OBJECT) throw new IOException("unterminated JSON object");
        return o;
    }

    /** Passes over the value {@code p} is at; a string's length is taken, which applies the parser's limit as reading it would. */
    private static void skip(JsonParser p) throws IOException {
        int depth = 0;
        for (JsonToken t = p.currentToken(); t != null; t = p.nextToken()) {
            if (t == JsonToken.START_OBJECT || t == JsonToken.START_ARRAY) depth++;
            else if (t == JsonToken.END_OBJECT || t == JsonToken.END_ARRAY) depth--;
            else if (t == JsonToken.VALUE_STRING) p.getTextLength();
            if (depth == 0) return;
        }
        throw new IOException("unterminated JSON value");
    }

    /** Part names of the first choices, made once: an event's every delta is appended under one. */
    private static final String[] CONTENT_PARTS = {"c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7"};

    private static String contentPart(int index) {
        return index >= 0 && index < CONTENT_PARTS.length ? CONTENT_PARTS[index] : "c" + index;
    }

    /** Refusals, reasoning text (vLLM, DeepSeek) and tool calls of one OpenAI choice or delta. */
    private static void generatedExtras(JsonNode message, int choice, StreamState st) {
        // A part's name is made only for what is there: most deltas hold content alone.
        generated(st, "f", choice, "", message.path("refusal").asText(""));
        generated(st, "r", choice, "", message.path("reasoning_content").asText(""));
        generated(st, "r", choice, "", message.path("reasoning").asText(""));
        int position = 0;
        for (JsonNode call : message.path("tool_calls")) {
            String part = "t" + choice + "." + call.path("index").asInt(position++);
            st.generated(part + ".name", call.path("function").path("name").asText(""));
            st.generated(part, call.path("function").path("arguments").asText(""));
        }
        JsonNode fn = message.path("function_call");
        if (fn.isMissingNode()) return;
        generated(st, "fn", choice, ".name", fn.path("name").asText(""));
        generated(st, "fn", choice, "", fn.path("arguments").asText(""));
    }

    private static void generated(StreamState st, String kind, int choice, String suffix, String piece) {
        if (!piece.isEmpty()) st.generated(kind + choice + suffix, piece);
    }

    private static void openAiUsage(JsonNode o, StreamState st) {
        if (o.hasNonNull("service_tier")) st.serviceTier = bounded(o.get("service_tier").asText());
        JsonNode usage = o.get("usage");
        // A usage object without the counts (some compatible servers send `{}`) is no report: the reply is counted.
        if (usage == null || !usage.isObject() || !usage.path("completion_tokens").canConvertToLong()) return;
        long prompt = usage.path("prompt_tokens").asLong(0);
        long cached = Math.min(prompt, usage.path("prompt_tokens_details").path("cached_tokens").asLong(0));
        long completion = usage.path("completion_tokens").asLong(0);
        long reasoning = Math.min(completion, usage.path("completion_tokens_details").path("reasoning_tokens").asLong(0));
        st.input = prompt - cached;
        st.cacheRead = cached;
        st.output = completion - reasoning;
        st.reasoning = reasoning;
        st.usageFinal = true;
    }

    /** Anthropic usage; {@code message_delta}'s counts are cumulative and final. */
    private static void anthropicUsage(JsonNode usage, StreamState st, boolean last) {
        if (!usage.isObject()) return;
        if (usage.has("input_tokens")) st.input = usage.path("input_tokens").asLong(0);
        if (usage.has("cache_creation_input_tokens")) {
            // `cache_creation` splits the writes by lifetime; a one-hour write costs more than a five-minute one.
            long all = usage.path("cache_creation_input_tokens").asLong(0);
            long hour = Math.min(all, usage.path("cache_creation").path("ephemeral_1h_input_tokens").asLong(0));
            st.cacheWrite = all - hour;
            st.cacheWrite1h = hour;
        }
        if (usage.has("cache_read_input_tokens")) st.cacheRead = usage.path("cache_read_input_tokens").asLong(0);
        if (usage.has("output_tokens")) st.output = usage.path("output_tokens").asLong(0);
        JsonNode searches = usage.path("server_tool_use").path("web_search_requests");
        if (searches.canConvertToLong()) st.webSearches = searches.asLong();
        if (usage.hasNonNull("service_tier")) st.serviceTier = bounded(usage.get("service_tier").asText());
        if (last && usage.path("output_tokens").canConvertToLong()) st.usageFinal = true;
    }

    private static String bounded(String tier) {
        return tier.length() > 32 ? tier.substring(0, 32) : tier;
    }

    /** The top-level fields of a whole reply that {@link #read} reads. */
    private static final Set<String> OPENAI_REPLY_FIELDS = Set.of("id", "choices", "usage", "service_tier");
    private static final Set<String> ANTHROPIC_REPLY_FIELDS = Set.of("id", "content", "stop_reason", "usage");

    /**
     * Reads a whole (non-streamed) reply, decoded as UTF-8 with replacements (as a reply was
     * always read: bytes the decoder replaces are counted as replaced), with the fields it
     * does not read passed over ({@link #readFields}).
     */
    StreamState read(byte[] body) throws IOException {
        return read(new String(body, StandardCharsets.UTF_8));
    }

    private StreamState read(String json) throws IOException {
        JsonNode o = readKept(json, this == OPENAI ? OPENAI_REPLY_FIELDS : ANTHROPIC_REPLY_FIELDS);
        StreamState st = new StreamState();
        if (this == OPENAI) {
            st.id = o.path("id").asText("");
            for (JsonNode choice : o.path("choices")) {
                JsonNode message = choice.path("message");
                int index = choice.path("index").asInt(0);
                st.generated("c" + index, message.path("content").asText(""));
                generatedExtras(message, index, st);
                if (choice.path("index").asInt(0) == 0) {
                    st.text.append(message.path("content").asText(""));
                    st.finish = choice.path("finish_reason").asText("stop").equals("length") ? "length" : "stop";
                }
            }
            openAiUsage(o, st);
        } else {
            st.id = o.path("id").asText("");
            int index = 0;
            for (JsonNode block : o.path("content")) {
                String part = "b" + index++;
                switch (block.path("type").asText()) {
                    case "text" -> {
                        st.text.append(block.path("text").asText(""));
                        st.generated(part, block.path("text").asText(""));
                    }
                    case "thinking" -> st.generated(part, block.path("thinking").asText(""));
                    case "tool_use", "server_tool_use" -> {
                        st.generated(part + ".name", block.path("name").asText(""));
                        st.generated(part, block.path("input").toString());
                    }
                    default -> { }
                }
            }
            st.finish = o.path("stop_reason").asText("end_turn").equals("max_tokens") ? "length" : "stop";
            anthropicUsage(o.path("usage"), st, true);
        }
        st.done = true;
        return st;
    }

    /** The top-level fields of a whole reply that {@link #readUsage} reads first. */
    private static final Set<String> OPENAI_USAGE_FIELDS = Set.of("usage", "service_tier");
    private static final Set<String> ANTHROPIC_USAGE_FIELDS = Set.of("usage");

    /**
     * What a relayed whole reply is billed from, as {@link #read} reads it: the usage alone
     * when the provider reported its final counts (the choices, which only a reply without
     * them needs, are passed over by the parser and never made a tree), else the whole
     * {@link #read}. Its text, id and finish reason are read only in that second case: a
     * relayed reply does not need them.
     */
    StreamState readUsage(byte[] body) throws IOException {
        String json = new String(body, StandardCharsets.UTF_8);
        JsonNode o = readKept(json, this == OPENAI ? OPENAI_USAGE_FIELDS : ANTHROPIC_USAGE_FIELDS);
        StreamState st = new StreamState();
        if (this == OPENAI) openAiUsage(o, st);
        else anthropicUsage(o.path("usage"), st, true);
        if (!st.usageFinal) return read(json);
        st.done = true;
        return st;
    }

    /** True for OpenAI's final usage-only chunk ({@code "choices": []} with a usage object). */
    static boolean isUsageOnlyChunk(String event) {
        String data = SseSplitter.data(event);
        if (!data.contains("\"usage\"")) return false;
        try {
            JsonNode o = JSON.readTree(data);
            return o.path("usage").isObject() && o.path("choices").isArray() && o.path("choices").isEmpty();
        } catch (IOException e) {
            return false;
        }
    }
}
