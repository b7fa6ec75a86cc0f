package keyguard.providers;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;

/**
 * How an upstream speaks: reads its responses (whole or as SSE events) into neutral
 * terms. The same reading serves both passthrough (to learn the usage without changing a
 * byte) and translation (to re-render the reply in the caller's shape).
 */
enum Dialect {
    OPENAI, ANTHROPIC;

    static final ObjectMapper JSON = new ObjectMapper();

    /**
     * Reads one SSE event into {@code st}; returns the text it adds (possibly empty), or
     * null when it carries no text.
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
            o = JSON.readTree(data);
        } catch (IOException e) {
            return null; // not JSON: forwarded as is on passthrough, ignored on translation
        }
        if (this == OPENAI) {
            if (o.has("error")) {
                st.error = o.path("error").path("message").asText("upstream error");
                return null;
            }
            if (st.id.isEmpty()) st.id = o.path("id").asText("");
            JsonNode usage = o.get("usage");
            if (usage != null && usage.isObject()) {
                st.promptTokens = usage.path("prompt_tokens").asLong(st.promptTokens);
                st.completionTokens = usage.path("completion_tokens").asLong(st.completionTokens);
            }
            JsonNode choice = o.path("choices").path(0);
            if (choice.hasNonNull("finish_reason")) st.finish = choice.get("finish_reason").asText().equals("length") ? "length" : "stop";
            JsonNode content = choice.path("delta").get("content");
            if (content != null && content.isTextual()) {
                st.text.append(content.asText());
                return content.asText();
            }
            return null;
        }
        switch (o.path("type").asText()) {
            case "message_start" -> {
                st.id = o.path("message").path("id").asText("");
                st.promptTokens = o.path("message").path("usage").path("input_tokens").asLong(st.promptTokens);
            }
            case "content_block_delta" -> {
                JsonNode t = o.path("delta").get("text");
                if (t != null && t.isTextual()) {
                    st.text.append(t.asText());
                    return t.asText();
                }
            }
            case "message_delta" -> {
                st.completionTokens = o.path("usage").path("output_tokens").asLong(st.completionTokens);
                String stop = o.path("delta").path("stop_reason").asText("");
                if (!stop.isEmpty()) st.finish = stop.equals("max_tokens") ? "length" : "stop";
            }
            case "message_stop" -> st.done = true;
            case "error" -> st.error = o.path("error").path("message").asText("upstream error");
            default -> { }
        }
        return null;
    }

    /** Reads a whole (non-streamed) reply. */
    StreamState read(String body) throws IOException {
        JsonNode o = JSON.readTree(body);
        StreamState st = new StreamState();
        if (this == OPENAI) {
            st.id = o.path("id").asText("");
            JsonNode choice = o.path("choices").path(0);
            st.text.append(choice.path("message").path("content").asText(""));
            st.finish = choice.path("finish_reason").asText("stop").equals("length") ? "length" : "stop";
            st.promptTokens = o.path("usage").path("prompt_tokens").asLong(-1);
            st.completionTokens = o.path("usage").path("completion_tokens").asLong(-1);
        } else {
            st.id = o.path("id").asText("");
            for (JsonNode block : o.path("content")) {
                if (block.path("type").asText().equals("text")) st.text.append(block.path("text").asText(""));
            }
            st.finish = o.path("stop_reason").asText("end_turn").equals("max_tokens") ? "length" : "stop";
            st.promptTokens = o.path("usage").path("input_tokens").asLong(-1);
            st.completionTokens = o.path("usage").path("output_tokens").asLong(-1);
        }
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
