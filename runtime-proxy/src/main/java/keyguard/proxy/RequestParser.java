package keyguard.proxy;

import com.fasterxml.jackson.core.JsonParseException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.exc.StreamConstraintsException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.CharConversionException;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Validates a request body for its endpoint. Everything wrong is a {@link BadRequest} with
 * a message that names the field, never a 500: malformed JSON, invalid UTF-8, nesting
 * deeper than 64, missing or mistyped fields.
 */
public final class RequestParser {
    public static final int MAX_NESTING = 64;
    /** The longest model name a caller may send; no provider's is longer than a few dozen. */
    public static final int MAX_MODEL_BYTES = 256;
    /** OpenAI's own bounds on {@code metadata}: 16 pairs, keys of 64 characters, values of 512. */
    public static final int MAX_METADATA_PAIRS = 16;
    public static final int MAX_METADATA_KEY = 64;
    public static final int MAX_METADATA_VALUE = 512;
    static final ObjectMapper JSON = new ObjectMapper()
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    static {
        JSON.getFactory().setStreamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(MAX_NESTING).build());
    }

    private RequestParser() {}

    public static ParsedRequest parse(Endpoint endpoint, byte[] bytes) throws BadRequest {
        JsonNode root;
        try {
            root = JSON.readTree(bytes);
        } catch (StreamConstraintsException e) {
            throw new BadRequest("request body is nested deeper than " + MAX_NESTING + " levels", null);
        } catch (CharConversionException e) {
            throw new BadRequest("request body is not valid UTF-8", null);
        } catch (JsonParseException e) {
            String m = e.getOriginalMessage();
            if (m != null && m.contains("UTF-8")) throw new BadRequest("request body is not valid UTF-8", null);
            throw new BadRequest("request body is not valid JSON: " + shorten(m) + " at byte " + e.getLocation().getByteOffset(), null);
        } catch (IOException e) {
            throw new BadRequest("request body is not valid JSON: " + shorten(e.getMessage()), null);
        }
        if (root == null || !root.isObject()) throw new BadRequest("request body must be a JSON object", null);
        return parse(endpoint, (ObjectNode) root);
    }

    /** Validates an already-read body, with the bounds on what a caller may send. */
    public static ParsedRequest parse(Endpoint endpoint, ObjectNode body) throws BadRequest {
        return parse(endpoint, body, true);
    }

    /**
     * Reads a body the gateway has redacted: the same shape, without the caller's length
     * bounds (a placeholder may be longer than the value it replaced).
     */
    public static ParsedRequest parseRedacted(Endpoint endpoint, ObjectNode body) throws BadRequest {
        return parse(endpoint, body, false);
    }

    private static ParsedRequest parse(Endpoint endpoint, ObjectNode body, boolean bounded) throws BadRequest {
        String model = requiredString(body, "model");
        if (bounded && (model.length() > MAX_MODEL_BYTES || model.getBytes(java.nio.charset.StandardCharsets.UTF_8).length > MAX_MODEL_BYTES)) {
            throw new BadRequest("`model` is longer than " + MAX_MODEL_BYTES + " bytes", "model");
        }
        boolean stream = optionalBoolean(body, "stream");
        Map<String, String> metadata = metadata(body, bounded);
        return switch (endpoint) {
            case CHAT_COMPLETIONS -> {
                List<String> texts = new ArrayList<>();
                String lastUser = messages(body, texts, false);
                long max = optionalCount(body, "max_completion_tokens");
                if (max < 0) max = optionalCount(body, "max_tokens");
                boolean includeUsage = false;
                JsonNode so = body.get("stream_options");
                if (so != null && !so.isNull()) {
                    if (!so.isObject()) throw new BadRequest("`stream_options` must be an object", "stream_options");
                    includeUsage = optionalBoolean((ObjectNode) so, "include_usage");
                }
                yield new ParsedRequest(endpoint, model, stream, includeUsage, max, List.copyOf(texts), lastUser, metadata, body);
            }
            case MESSAGES -> {
                List<String> texts = new ArrayList<>();
                JsonNode system = body.get("system");
                if (system != null && !system.isNull()) texts.add(text(system, "system"));
                String lastUser = messages(body, texts, true);
                long max = optionalCount(body, "max_tokens");
                if (max < 0) throw new BadRequest("`max_tokens` is required", "max_tokens");
                yield new ParsedRequest(endpoint, model, stream, stream, max, List.copyOf(texts), lastUser, metadata, body);
            }
            case EMBEDDINGS -> {
                JsonNode input = body.get("input");
                List<String> texts = new ArrayList<>();
                if (input == null || input.isNull()) throw new BadRequest("`input` is required", "input");
                if (input.isTextual()) {
                    texts.add(input.asText());
                } else if (input.isArray() && !input.isEmpty()) {
                    for (JsonNode item : input) {
                        if (!item.isTextual()) throw new BadRequest("`input` must be a string or an array of strings", "input");
                        texts.add(item.asText());
                    }
                } else {
                    throw new BadRequest("`input` must be a string or a non-empty array of strings", "input");
                }
                if (stream) throw new BadRequest("embeddings do not stream", "stream");
                yield new ParsedRequest(endpoint, model, false, false, 0, List.copyOf(texts), texts.get(texts.size() - 1), metadata, body);
            }
        };
    }

    private static String messages(ObjectNode body, List<String> texts, boolean anthropic) throws BadRequest {
        JsonNode messages = body.get("messages");
        if (messages == null || messages.isNull()) throw new BadRequest("`messages` is required", "messages");
        if (!messages.isArray() || messages.isEmpty()) throw new BadRequest("`messages` must be a non-empty array", "messages");
        String lastUser = "";
        int i = 0;
        for (JsonNode m : messages) {
            String where = "messages[" + i + "]";
            if (!m.isObject()) throw new BadRequest("`" + where + "` must be an object", where);
            JsonNode role = m.get("role");
            if (role == null || !role.isTextual()) throw new BadRequest("`" + where + ".role` must be a string", where + ".role");
            if (anthropic && !(role.asText().equals("user") || role.asText().equals("assistant"))) {
                throw new BadRequest("`" + where + ".role` must be `user` or `assistant`", where + ".role");
            }
            JsonNode content = m.get("content");
            String text = content == null || content.isNull() ? "" : text(content, where + ".content");
            for (JsonNode call : m.path("tool_calls")) {
                text += "\n" + call.path("function").path("name").asText("") + " " + call.path("function").path("arguments").asText("");
            }
            texts.add(text);
            if (role.asText().equals("user")) lastUser = text;
            i++;
        }
        return lastUser;
    }

    /** The text of a content field: a string, or an array of parts whose `text` parts are joined. */
    static String text(JsonNode content, String where) throws BadRequest {
        if (content.isTextual()) return content.asText();
        if (!content.isArray()) throw new BadRequest("`" + where + "` must be a string or an array of content parts", where);
        StringBuilder sb = new StringBuilder();
        for (JsonNode part : content) {
            if (!part.isObject()) throw new BadRequest("`" + where + "` parts must be objects", where);
            JsonNode t = part.get("text");
            if (t != null && t.isTextual()) {
                if (!sb.isEmpty()) sb.append('\n');
                sb.append(t.asText());
            }
        }
        return sb.toString();
    }

    private static String requiredString(ObjectNode body, String field) throws BadRequest {
        JsonNode v = body.get(field);
        if (v == null || v.isNull()) throw new BadRequest("`" + field + "` is required", field);
        if (!v.isTextual() || v.asText().isEmpty()) throw new BadRequest("`" + field + "` must be a non-empty string", field);
        return v.asText();
    }

    private static boolean optionalBoolean(ObjectNode body, String field) throws BadRequest {
        JsonNode v = body.get(field);
        if (v == null || v.isNull()) return false;
        if (!v.isBoolean()) throw new BadRequest("`" + field + "` must be true or false", field);
        return v.asBoolean();
    }

    private static long optionalCount(ObjectNode body, String field) throws BadRequest {
        JsonNode v = body.get(field);
        if (v == null || v.isNull()) return -1;
        if (!v.canConvertToLong() || !v.isIntegralNumber() || v.asLong() < 1) {
            throw new BadRequest("`" + field + "` must be a positive integer", field);
        }
        return v.asLong();
    }

    private static Map<String, String> metadata(ObjectNode body, boolean bounded) throws BadRequest {
        JsonNode m = body.get("metadata");
        if (m == null || m.isNull()) return Map.of();
        if (!m.isObject()) throw new BadRequest("`metadata` must be an object of strings", "metadata");
        if (bounded && m.size() > MAX_METADATA_PAIRS) throw new BadRequest("`metadata` has at most " + MAX_METADATA_PAIRS + " keys", "metadata");
        Map<String, String> out = new LinkedHashMap<>();
        for (var e : m.properties()) {
            String key = keyguard.audit.UntrustedText.quote(e.getKey(), MAX_METADATA_KEY);
            if (bounded && e.getKey().length() > MAX_METADATA_KEY) {
                throw new BadRequest("`metadata` keys are at most " + MAX_METADATA_KEY + " characters", "metadata");
            }
            if (!e.getValue().isValueNode()) throw new BadRequest("`metadata." + key + "` must be a string", "metadata");
            String v = e.getValue().asText();
            if (bounded && v.length() > MAX_METADATA_VALUE) {
                throw new BadRequest("`metadata." + key + "` is longer than " + MAX_METADATA_VALUE + " characters", "metadata");
            }
            out.put(e.getKey(), v);
        }
        return out;
    }

    private static String shorten(String s) {
        if (s == null) return "";
        int nl = s.indexOf('\n');
        String first = nl >= 0 ? s.substring(0, nl) : s;
        return first.length() > 160 ? first.substring(0, 157) + "..." : first;
    }
}
