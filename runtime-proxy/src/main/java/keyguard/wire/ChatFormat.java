package keyguard.wire;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;

/**
 * Replies in the caller's shape: a complete JSON body, or a stream of SSE events. Used by
 * providers that produce replies themselves (the simulator) or translate them.
 */
public abstract sealed class ChatFormat permits ChatFormat.OpenAi, ChatFormat.Anthropic {

    public static ChatFormat of(ApiShape shape) {
        return shape == ApiShape.ANTHROPIC ? new Anthropic() : new OpenAi();
    }

    public abstract String completion(ChatResult r);

    public abstract byte[] streamStart(String id, String model, long created, long promptTokens);

    public abstract byte[] streamDelta(String id, String model, long created, String text);

    /** The closing events; {@code includeUsage} adds OpenAI's usage chunk (Anthropic always reports usage). */
    public abstract byte[] streamEnd(ChatResult r, boolean includeUsage);

    static ObjectNode object() { return RequestParser.JSON.createObjectNode(); }

    static byte[] bytes(String s) { return s.getBytes(StandardCharsets.UTF_8); }

    public static final class OpenAi extends ChatFormat {
        @Override
        public String completion(ChatResult r) {
            ObjectNode o = object();
            o.put("id", r.id());
            o.put("object", "chat.completion");
            o.put("created", r.created());
            o.put("model", r.model());
            ObjectNode choice = o.putArray("choices").addObject();
            choice.put("index", 0);
            ObjectNode message = choice.putObject("message");
            message.put("role", "assistant");
            message.put("content", r.text());
            message.putNull("refusal");
            choice.putNull("logprobs");
            choice.put("finish_reason", r.finishReason());
            usage(o, r);
            return o.toString();
        }

        private static void usage(ObjectNode o, ChatResult r) {
            ObjectNode u = o.putObject("usage");
            u.put("prompt_tokens", r.promptTokens());
            u.put("completion_tokens", r.completionTokens());
            u.put("total_tokens", r.promptTokens() + r.completionTokens());
        }

        private static ObjectNode chunk(String id, String model, long created) {
            ObjectNode o = object();
            o.put("id", id);
            o.put("object", "chat.completion.chunk");
            o.put("created", created);
            o.put("model", model);
            return o;
        }

        private static byte[] event(ObjectNode o) {
            return bytes("data: " + o + "\n\n");
        }

        @Override
        public byte[] streamStart(String id, String model, long created, long promptTokens) {
            ObjectNode o = chunk(id, model, created);
            ObjectNode choice = o.putArray("choices").addObject();
            choice.put("index", 0);
            choice.putObject("delta").put("role", "assistant").put("content", "");
            choice.putNull("finish_reason");
            return event(o);
        }

        @Override
        public byte[] streamDelta(String id, String model, long created, String text) {
            ObjectNode o = chunk(id, model, created);
            ObjectNode choice = o.putArray("choices").addObject();
            choice.put("index", 0);
            choice.putObject("delta").put("content", text);
            choice.putNull("finish_reason");
            return event(o);
        }

        @Override
        public byte[] streamEnd(ChatResult r, boolean includeUsage) {
            ObjectNode last = chunk(r.id(), r.model(), r.created());
            ObjectNode choice = last.putArray("choices").addObject();
            choice.put("index", 0);
            choice.putObject("delta");
            choice.put("finish_reason", r.finishReason());
            StringBuilder sb = new StringBuilder("data: ").append(last).append("\n\n");
            if (includeUsage) {
                ObjectNode u = chunk(r.id(), r.model(), r.created());
                u.putArray("choices");
                usage(u, r);
                sb.append("data: ").append(u).append("\n\n");
            }
            sb.append("data: [DONE]\n\n");
            return bytes(sb.toString());
        }

        public static String embeddings(String model, float[][] vectors, long promptTokens) {
            ObjectNode o = object();
            o.put("object", "list");
            ArrayNode data = o.putArray("data");
            for (int i = 0; i < vectors.length; i++) {
                ObjectNode e = data.addObject();
                e.put("object", "embedding");
                e.put("index", i);
                ArrayNode v = e.putArray("embedding");
                for (float f : vectors[i]) v.add(f);
            }
            o.put("model", model);
            o.putObject("usage").put("prompt_tokens", promptTokens).put("total_tokens", promptTokens);
            return o.toString();
        }
    }

    public static final class Anthropic extends ChatFormat {
        private static String stopReason(String finish) {
            return finish.equals("length") ? "max_tokens" : "end_turn";
        }

        @Override
        public String completion(ChatResult r) {
            ObjectNode o = object();
            o.put("id", r.id());
            o.put("type", "message");
            o.put("role", "assistant");
            o.put("model", r.model());
            o.putArray("content").addObject().put("type", "text").put("text", r.text());
            o.put("stop_reason", stopReason(r.finishReason()));
            o.putNull("stop_sequence");
            o.putObject("usage").put("input_tokens", r.promptTokens()).put("output_tokens", r.completionTokens());
            return o.toString();
        }

        private static String event(String name, ObjectNode data) {
            return "event: " + name + "\ndata: " + data + "\n\n";
        }

        @Override
        public byte[] streamStart(String id, String model, long created, long promptTokens) {
            ObjectNode start = object();
            start.put("type", "message_start");
            ObjectNode m = start.putObject("message");
            m.put("id", id);
            m.put("type", "message");
            m.put("role", "assistant");
            m.put("model", model);
            m.putArray("content");
            m.putNull("stop_reason");
            m.putNull("stop_sequence");
            m.putObject("usage").put("input_tokens", promptTokens).put("output_tokens", 1);
            ObjectNode block = object();
            block.put("type", "content_block_start");
            block.put("index", 0);
            block.putObject("content_block").put("type", "text").put("text", "");
            return bytes(event("message_start", start) + event("content_block_start", block));
        }

        @Override
        public byte[] streamDelta(String id, String model, long created, String text) {
            ObjectNode d = object();
            d.put("type", "content_block_delta");
            d.put("index", 0);
            d.putObject("delta").put("type", "text_delta").put("text", text);
            return bytes(event("content_block_delta", d));
        }

        @Override
        public byte[] streamEnd(ChatResult r, boolean includeUsage) {
            ObjectNode stop = object();
            stop.put("type", "content_block_stop");
            stop.put("index", 0);
            ObjectNode delta = object();
            delta.put("type", "message_delta");
            delta.putObject("delta").put("stop_reason", stopReason(r.finishReason())).putNull("stop_sequence");
            delta.putObject("usage").put("output_tokens", r.completionTokens());
            ObjectNode end = object();
            end.put("type", "message_stop");
            return bytes(event("content_block_stop", stop) + event("message_delta", delta) + event("message_stop", end));
        }
    }
}
