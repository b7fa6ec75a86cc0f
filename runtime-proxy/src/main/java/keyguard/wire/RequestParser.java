package keyguard.wire;

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
import keyguard.policy.PricedParams;

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
    /** The mapper for bodies callers send: trailing tokens refused, nesting bounded. */
    public static final ObjectMapper JSON = new ObjectMapper()
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
                Prompt prompt = new Prompt(false);
                String lastUser = messages(body, prompt, false);
                prompt.openAiTools(body);
                // Both fields may be sent, and an upstream may read either: the larger is the cap (and both are rewritten to it).
                long completionCap = optionalCount(body, "max_completion_tokens");
                long legacyCap = optionalCount(body, "max_tokens");
                long max = Math.max(completionCap, legacyCap);
                String field = completionCap >= legacyCap && completionCap > 0 ? "max_completion_tokens" : legacyCap > 0 ? "max_tokens" : null;
                long n = optionalCount(body, "n");
                if (n > Billables.MAX_CHOICES) throw new BadRequest("`n` is at most " + Billables.MAX_CHOICES, "n");
                boolean includeUsage = false;
                JsonNode so = body.get("stream_options");
                if (so != null && !so.isNull()) {
                    if (!so.isObject()) throw new BadRequest("`stream_options` must be an object", "stream_options");
                    includeUsage = optionalBoolean((ObjectNode) so, "include_usage");
                }
                if (optionalBoolean(body, "store")) prompt.params.add(PricedParams.STORE);
                if (body.hasNonNull("web_search_options")) {
                    prompt.params.add(PricedParams.WEB_SEARCH);
                    prompt.webSearches = 1;
                }
                if (body.hasNonNull("audio")) prompt.params.add(PricedParams.AUDIO);
                for (JsonNode m : body.path("modalities")) if (m.asText().equals("audio")) prompt.params.add(PricedParams.AUDIO);
                if (body.hasNonNull("prediction")) prompt.params.add(PricedParams.PREDICTION);
                String tier = serviceTier(body, prompt);
                yield new ParsedRequest(endpoint, model, stream, includeUsage, max, List.copyOf(prompt.texts), lastUser, metadata, body,
                        prompt.billables((int) Math.max(1, n), tier, field));
            }
            case MESSAGES -> {
                Prompt prompt = new Prompt(true);
                JsonNode system = body.get("system");
                if (system != null && !system.isNull()) prompt.texts.add(prompt.content(system, "system"));
                String lastUser = messages(body, prompt, true);
                prompt.anthropicTools(body);
                long max = optionalCount(body, "max_tokens");
                if (max < 0) throw new BadRequest("`max_tokens` is required", "max_tokens");
                if (body.has("cache_control")) prompt.cacheMarked = true;
                if (body.hasNonNull("mcp_servers")) prompt.params.add(PricedParams.MCP_SERVERS);
                String tier = serviceTier(body, prompt);
                yield new ParsedRequest(endpoint, model, stream, stream, max, List.copyOf(prompt.texts), lastUser, metadata, body,
                        prompt.billables(1, tier, "max_tokens"));
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
                yield new ParsedRequest(endpoint, model, false, false, 0, List.copyOf(texts), texts.get(texts.size() - 1), metadata, body,
                        Billables.NONE);
            }
        };
    }

    /** {@code service_tier}: bounded; anything but the provider's default tier is a price-changing parameter. */
    private static String serviceTier(ObjectNode body, Prompt prompt) throws BadRequest {
        JsonNode v = body.get("service_tier");
        if (v == null || v.isNull()) return null;
        if (!v.isTextual() || v.asText().isEmpty() || v.asText().length() > Billables.MAX_TIER_CHARS) {
            throw new BadRequest("`service_tier` must be a string of at most " + Billables.MAX_TIER_CHARS + " characters", "service_tier");
        }
        String tier = v.asText();
        if (!tier.equals("default") && !tier.equals("standard_only") && !tier.equals("auto")) prompt.params.add(PricedParams.SERVICE_TIER);
        return tier;
    }

    private static String messages(ObjectNode body, Prompt prompt, boolean anthropic) throws BadRequest {
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
            String text = content == null || content.isNull() ? "" : prompt.content(content, where + ".content");
            JsonNode calls = m.get("tool_calls");
            if (calls != null && !calls.isEmpty()) {
                StringBuilder sb = new StringBuilder(text);
                for (JsonNode call : calls) {
                    sb.append('\n').append(call.path("function").path("name").asText("")).append(' ').append(call.path("function").path("arguments").asText(""));
                }
                text = sb.toString();
            }
            prompt.texts.add(text);
            if (role.asText().equals("user")) lastUser = text;
            i++;
        }
        return lastUser;
    }

    /**
     * Collects what a prompt is billed for while the parser walks it: the text of every
     * message, tool definition, tool call and tool result (counted with the model's
     * tokenizer), and the tokens of images and documents by the providers' rules.
     */
    private static final class Prompt {
        final boolean anthropic;
        final List<String> texts = new ArrayList<>();
        final java.util.Set<String> params = new java.util.TreeSet<>();
        long mediaTokens;
        int images;
        boolean cacheMarked;
        long webSearches;
        boolean webSearchCapMissing;

        Prompt(boolean anthropic) { this.anthropic = anthropic; }

        Billables billables(int choices, String tier, String maxTokensField) {
            return new Billables(choices, mediaTokens, images, cacheMarked, tier, java.util.Set.copyOf(params), webSearches,
                    webSearchCapMissing, maxTokensField);
        }

        /** The text of a content field: a string, or an array of parts; media parts are counted on the side. */
        String content(JsonNode content, String where) throws BadRequest {
            if (content.isTextual()) return content.asText();
            if (!content.isArray()) throw new BadRequest("`" + where + "` must be a string or an array of content parts", where);
            StringBuilder sb = new StringBuilder();
            for (JsonNode part : content) {
                if (!part.isObject()) throw new BadRequest("`" + where + "` parts must be objects", where);
                if (part.has("cache_control")) cacheMarked = true;
                String t = part(part, where);
                if (!t.isEmpty()) {
                    if (!sb.isEmpty()) sb.append('\n');
                    sb.append(t);
                }
            }
            return sb.toString();
        }

        private String part(JsonNode part, String where) throws BadRequest {
            String type = part.path("type").asText("");
            switch (type) {
                case "image_url" -> { // OpenAI
                    JsonNode img = part.path("image_url");
                    String url = img.isTextual() ? img.asText() : img.path("url").asText("");
                    int[] size = url.startsWith("data:") ? keyguard.tokens.MediaTokens.dimensions(url) : null;
                    images++;
                    mediaTokens += keyguard.tokens.MediaTokens.openAiImage(img.path("detail").asText("auto"),
                            size == null ? -1 : size[0], size == null ? -1 : size[1]);
                    return "";
                }
                case "image" -> { // Anthropic
                    JsonNode src = part.path("source");
                    int[] size = src.path("type").asText().equals("base64") ? keyguard.tokens.MediaTokens.dimensions(src.path("data").asText("")) : null;
                    images++;
                    mediaTokens += keyguard.tokens.MediaTokens.anthropicImage(size == null ? -1 : size[0], size == null ? -1 : size[1]);
                    return "";
                }
                case "document" -> { // Anthropic
                    JsonNode src = part.path("source");
                    switch (src.path("type").asText("")) {
                        case "text" -> { return src.path("data").asText(""); }
                        case "content" -> { return content(src.path("content"), where); }
                        case "base64" -> mediaTokens += keyguard.tokens.MediaTokens.pdf(src.path("data").asText(""));
                        default -> mediaTokens += keyguard.tokens.MediaTokens.pdf(null);
                    }
                    return "";
                }
                case "file" -> { // OpenAI
                    mediaTokens += keyguard.tokens.MediaTokens.pdf(part.path("file").path("file_data").asText(null));
                    return "";
                }
                case "input_audio" -> {
                    params.add(PricedParams.AUDIO);
                    return "";
                }
                case "tool_use", "server_tool_use" -> { // Anthropic: a call the model made, sent back as history
                    return part.path("name").asText("") + " " + part.path("input").toString();
                }
                case "tool_result" -> {
                    JsonNode c = part.get("content");
                    return c == null || c.isNull() ? "" : content(c, where);
                }
                case "thinking" -> { return part.path("thinking").asText(""); }
                case "redacted_thinking" -> { return part.path("data").asText(""); }
                default -> {
                    JsonNode t = part.get("text");
                    if (t != null && t.isTextual()) return t.asText();
                    // A block the gateway does not know (a server tool's result): its JSON is at least its size in tokens.
                    return type.isEmpty() || type.equals("text") ? "" : part.toString();
                }
            }
        }

        /** OpenAI function tools: each definition is in the prompt. */
        void openAiTools(ObjectNode body) {
            for (JsonNode tool : body.path("tools")) texts.add(tool.toString());
            JsonNode functions = body.get("functions");
            if (functions != null) for (JsonNode f : functions) texts.add(f.toString());
        }

        /**
         * Anthropic tools: custom tools are in the prompt with the tool-use system prompt;
         * Anthropic-defined client tools add their own fixed prompts; server tools are
         * price-changing parameters.
         */
        void anthropicTools(ObjectNode body) throws BadRequest {
            JsonNode tools = body.get("tools");
            if (tools == null || tools.isNull()) return;
            if (!tools.isArray()) throw new BadRequest("`tools` must be an array", "tools");
            if (!tools.isEmpty()) mediaTokens += ANTHROPIC_TOOL_SYSTEM_TOKENS;
            for (JsonNode tool : tools) {
                if (tool.has("cache_control")) cacheMarked = true;
                String type = tool.path("type").asText("custom");
                texts.add(tool.toString());
                if (type.equals("custom")) continue;
                String family = type.replaceAll("_\\d{8}$", "");
                switch (family) {
                    case "bash", "text_editor", "str_replace_editor", "str_replace_based_edit_tool", "computer", "memory" ->
                            mediaTokens += ANTHROPIC_CLIENT_TOOL_TOKENS;
                    case "web_search" -> {
                        params.add(PricedParams.WEB_SEARCH);
                        JsonNode uses = tool.get("max_uses");
                        long n;
                        if (uses != null && uses.canConvertToLong() && uses.asLong() > 0) {
                            n = Math.min(uses.asLong(), 1_000);
                        } else {
                            n = Billables.DEFAULT_WEB_SEARCH_USES;
                            webSearchCapMissing = true;
                        }
                        webSearches += n;
                        // Every search's results come back into the prompt, billed as input.
                        mediaTokens += n * WEB_SEARCH_RESULT_TOKENS;
                    }
                    case "web_fetch" -> params.add(PricedParams.WEB_FETCH);
                    case "code_execution" -> params.add(PricedParams.CODE_EXECUTION);
                    default -> params.add(PricedParams.SERVER_TOOLS);
                }
            }
        }
    }

    /** Anthropic's tool-use system prompt, added whenever tools are given (346 tokens in its tables; rounded up). */
    static final long ANTHROPIC_TOOL_SYSTEM_TOKENS = 500;
    /** Input tokens reserved for the results of one server-side web search (a page of results with their content). */
    static final long WEB_SEARCH_RESULT_TOKENS = 10_000;
    /** Anthropic-defined client tools (bash, text editor, computer use) add up to ~735 tokens each; rounded up. */
    static final long ANTHROPIC_CLIENT_TOOL_TOKENS = 1_000;

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
