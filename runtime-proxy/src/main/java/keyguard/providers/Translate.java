package keyguard.providers;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * Request translation between the two API shapes, for a caller of one shape routed to an
 * upstream of the other. Text content, system prompts, the output cap, sampling settings
 * and stop sequences carry over; tool definitions and images do not (such requests are
 * better sent to an upstream of their own shape).
 */
final class Translate {
    /** Anthropic requires an output cap; OpenAI callers may omit it. */
    static final int DEFAULT_ANTHROPIC_MAX_TOKENS = 4096;

    private Translate() {}

    static ObjectNode openAiToAnthropic(ObjectNode in, String upstreamModel) {
        ObjectNode out = Dialect.JSON.createObjectNode();
        out.put("model", upstreamModel);
        StringBuilder system = new StringBuilder();
        ArrayNode messages = out.putArray("messages");
        for (JsonNode m : in.path("messages")) {
            String role = m.path("role").asText();
            String text = text(m.get("content"));
            if (role.equals("system") || role.equals("developer")) {
                if (!system.isEmpty()) system.append("\n\n");
                system.append(text);
            } else {
                messages.addObject().put("role", role.equals("assistant") ? "assistant" : "user").put("content", text);
            }
        }
        if (!system.isEmpty()) out.put("system", system.toString());
        long max = in.path("max_completion_tokens").asLong(in.path("max_tokens").asLong(DEFAULT_ANTHROPIC_MAX_TOKENS));
        out.put("max_tokens", max);
        if (in.has("temperature")) out.set("temperature", in.get("temperature"));
        if (in.has("top_p")) out.set("top_p", in.get("top_p"));
        JsonNode stop = in.get("stop");
        if (stop != null && stop.isTextual()) out.putArray("stop_sequences").add(stop.asText());
        else if (stop != null && stop.isArray()) out.set("stop_sequences", stop);
        if (in.path("stream").asBoolean(false)) out.put("stream", true);
        return out;
    }

    /** @param outputCapField where the OpenAI-shaped upstream reads its output cap ({@code output_cap}) */
    static ObjectNode anthropicToOpenAi(ObjectNode in, String upstreamModel, String outputCapField) {
        ObjectNode out = Dialect.JSON.createObjectNode();
        out.put("model", upstreamModel);
        ArrayNode messages = out.putArray("messages");
        JsonNode system = in.get("system");
        if (system != null && !system.isNull()) messages.addObject().put("role", "system").put("content", text(system));
        for (JsonNode m : in.path("messages")) {
            messages.addObject().put("role", m.path("role").asText()).put("content", text(m.get("content")));
        }
        out.put(outputCapField, in.path("max_tokens").asLong());
        if (in.has("temperature")) out.set("temperature", in.get("temperature"));
        if (in.has("top_p")) out.set("top_p", in.get("top_p"));
        if (in.has("stop_sequences")) out.set("stop", in.get("stop_sequences"));
        if (in.path("stream").asBoolean(false)) {
            out.put("stream", true);
            out.putObject("stream_options").put("include_usage", true);
        }
        return out;
    }

    private static String text(JsonNode content) {
        if (content == null || content.isNull()) return "";
        if (content.isTextual()) return content.asText();
        StringBuilder sb = new StringBuilder();
        for (JsonNode part : content) {
            if (part.has("text")) {
                if (!sb.isEmpty()) sb.append('\n');
                sb.append(part.path("text").asText());
            }
        }
        return sb.toString();
    }
}
