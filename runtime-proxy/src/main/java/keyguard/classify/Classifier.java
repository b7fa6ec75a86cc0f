package keyguard.classify;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import keyguard.policy.DataClass;
import keyguard.policy.DetectorSpec;

/**
 * Classifies a request by everything it would send upstream, with the built-in detectors
 * and the policy files' own; and redacts: replaces each value above a ceiling with a typed
 * placeholder ({@code [EMAIL_1]}), the same value getting the same placeholder throughout
 * the request.
 *
 * <h2>What is scanned</h2>
 * Every string anywhere in the body, in both API shapes — messages and their parts, system
 * prompts, tool definitions (names, descriptions, JSON schemas), tool calls and results,
 * {@code response_format} schemas, {@code prediction}, {@code metadata}, Anthropic
 * {@code document} blocks with text sources, anything a future API adds — and every object
 * key and number too (a card number can be a {@code metadata} key or a JSON number in a
 * tool call). Only a short list of structural fields is skipped ({@code model},
 * {@code role}, {@code type}, {@code media_type}, {@code cache_control}). Ids
 * ({@code id}, {@code tool_call_id}, {@code tool_use_id}, and end users' {@code user},
 * {@code safety_identifier}, {@code user_id}), keys and numbers are scanned by
 * every detector but {@code high_entropy}, which would take a random id for a secret. It
 * is a deny-list of structure, not an allow-list of content, so a field nobody thought of
 * is scanned, not skipped.
 *
 * <h2>What cannot be scanned</h2>
 * Images, audio, files and documents the gateway cannot read (base64 payloads, PDFs, URLs
 * the provider fetches, file ids) are not text. They are counted by kind as
 * {@link Classification#unscannable()}; the policy decides whether such a request may pass
 * ({@code on unscannable deny|allow}). Their payloads are never run through the text
 * detectors.
 *
 * <h2>Normalisation</h2>
 * A text with non-ASCII characters is scanned in normalised form: each code point in
 * Unicode NFKC (fullwidth digits and letters, circled and superscript digits become
 * ASCII), with format characters (zero-width spaces and joiners, soft hyphens,
 * bidirectional controls) and combining marks removed, so that {@code ４１１１…} or an
 * address with zero-width spaces inside is still found. A match is mapped back to the
 * original characters, so redaction replaces the disguised value whole. What remains out
 * of reach (base64 inside text, look-alike letters from other scripts, values spelled
 * out in words, images) is listed in docs/data-classification.md.
 */
public final class Classifier {
    /** Fields whose values are enumerations or settings, never content sent to the model as text. */
    private static final Set<String> STRUCTURAL = Set.of("model", "role", "type", "media_type", "cache_control");
    /** Fields holding identifiers: scanned, but not for high entropy (random ids would all look like secrets). */
    private static final Set<String> IDS = Set.of("id", "tool_call_id", "tool_use_id", "file_id", "call_id",
            "user", "safety_identifier", "user_id"); // end users' ids: OpenAI asks for hashed ones, which look random
    /** The payload fields of a part that is not text: never read as text (base64, a URL, a file id). */
    private static final Set<String> PAYLOAD = Set.of("data", "url", "file_data", "file_id", "image_url", "input_audio", "file", "source");
    /** Part types whose payload is not text. */
    private static final Map<String, String> BINARY_PARTS = Map.of(
            "image_url", "image", "image", "image", "input_image", "image",
            "input_audio", "audio", "audio", "audio",
            "file", "file", "input_file", "file", "video", "video");

    private final CustomDetectors custom;
    private final ThreadLocal<BuiltinScanner> scanners = ThreadLocal.withInitial(BuiltinScanner::new);

    public Classifier(List<DetectorSpec> detectors) {
        this.custom = new CustomDetectors(detectors);
    }

    /** Classifies plain texts (tests, benchmarks). */
    public Classification classify(List<String> texts) {
        Classification.Builder b = new Classification.Builder();
        for (String t : texts) scan(t, b);
        return b.build();
    }

    public Classification classify(ObjectNode body) {
        Classification.Builder b = new Classification.Builder();
        visit(body, new Visitor() {
            @Override
            public String text(String text, boolean identifier) {
                scan(identifier ? words(text) : text, identifier ? noEntropy(b) : b);
                return text;
            }

            @Override
            public void unscannable(String kind) {
                b.unscannable(kind);
            }
        });
        return b.build();
    }

    /**
     * Replaces, in place, every value whose class is above {@code ceiling} with its
     * placeholder; returns what was replaced. Unscannable parts are left as they are (the
     * decision has already allowed them, or refused the request).
     */
    public Classification redact(ObjectNode body, DataClass ceiling) {
        Map<String, String> placeholders = new HashMap<>();
        Map<String, Integer> perLabel = new HashMap<>();
        Classification.Builder redacted = new Classification.Builder();
        visit(body, new Visitor() {
            @Override
            public String text(String text, boolean identifier) {
                return redact(text, identifier, ceiling, placeholders, perLabel, redacted);
            }

            @Override
            public void unscannable(String kind) { }
        });
        return redacted.build();
    }

    String redact(String text, boolean identifier, DataClass ceiling, Map<String, String> placeholders, Map<String, Integer> perLabel,
                  Sink redacted) {
        List<int[]> spans = new ArrayList<>();
        List<Detector> kinds = new ArrayList<>();
        Sink found = (d, start, end) -> {
            if (d.dataClass().compareTo(ceiling) <= 0) return;
            spans.add(new int[] {start, end});
            kinds.add(d);
        };
        scan(identifier ? words(text) : text, identifier ? noEntropy(found) : found);
        if (spans.isEmpty()) return text;
        // Built-in and custom matches may overlap: keep the earliest, then the longest.
        Integer[] order = new Integer[spans.size()];
        for (int i = 0; i < order.length; i++) order[i] = i;
        java.util.Arrays.sort(order, (a, b) -> spans.get(a)[0] != spans.get(b)[0] ? Integer.compare(spans.get(a)[0], spans.get(b)[0])
                : Integer.compare(spans.get(b)[1], spans.get(a)[1]));
        StringBuilder out = new StringBuilder(text.length());
        int at = 0;
        for (int idx : order) {
            int[] span = spans.get(idx);
            if (span[0] < at) continue;
            Detector d = kinds.get(idx);
            redacted.found(d, span[0], span[1]);
            String value = Normalized.of(text.substring(span[0], span[1])).text();
            String placeholder = placeholders.computeIfAbsent(d.label() + "\u0000" + value,
                    k -> "[" + d.label() + "_" + perLabel.merge(d.label(), 1, Integer::sum) + "]");
            out.append(text, at, span[0]).append(placeholder);
            at = span[1];
        }
        return out.append(text, at, text.length()).toString();
    }

    /** Scans {@code text} (normalised when it is not plain ASCII); spans are reported in {@code text}'s own indices. */
    private void scan(String text, Sink sink) {
        if (text.isEmpty()) return;
        Normalized n = Normalized.of(text);
        Sink mapped = n.identity() ? sink : (d, start, end) -> sink.found(d, n.originalStart(start), n.originalEnd(end));
        scanners.get().scan(n.text(), mapped);
        if (!custom.isEmpty()) custom.scan(n.text(), mapped);
    }

    /**
     * An identifier as words: {@code toolu_4111111111111111} read as {@code toolu 4111...},
     * so a value joined to a prefix by {@code _} is found (detectors match whole words). Same
     * length, so spans map back unchanged.
     */
    private static String words(String id) {
        return id.indexOf('_') < 0 ? id : id.replace('_', ' ');
    }

    private static Sink noEntropy(Sink sink) {
        return (d, start, end) -> {
            if (d != Detector.HIGH_ENTROPY) sink.found(d, start, end);
        };
    }

    /**
     * What a walk over a request reports: each text (a changed result replaces it; an
     * {@code identifier} is an id, an object key or a number), and each part it cannot read.
     */
    interface Visitor {
        String text(String text, boolean identifier);

        void unscannable(String kind);
    }

    /** Walks every string of the body that reaches the model, and reports the parts that are not text. */
    static void visit(ObjectNode body, Visitor v) {
        walk(body, v);
    }

    private static void walk(JsonNode node, Visitor v) {
        if (node instanceof ObjectNode o) {
            String kind = binaryKind(o);
            if (kind != null) v.unscannable(kind);
            Map<String, String> renamed = null;
            for (Iterator<Map.Entry<String, JsonNode>> it = o.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                String key = e.getKey();
                JsonNode value = e.getValue();
                // Structural fields hold enumerations (skipped when they do); anything nested
                // under such a name is walked, so a key called `type` hides nothing.
                if ((STRUCTURAL.contains(key) && value.isTextual()) || (kind != null && PAYLOAD.contains(key))) continue;
                String newKey = v.text(key, true);
                if (!newKey.equals(key)) {
                    if (renamed == null) renamed = new java.util.LinkedHashMap<>();
                    renamed.put(key, newKey);
                }
                if (value.isTextual() || value.isNumber()) {
                    String t = value.asText();
                    String r = v.text(t, value.isNumber() || IDS.contains(key));
                    if (!r.equals(t)) e.setValue(TextNode.valueOf(r));
                } else if (value.isContainerNode()) {
                    walk(value, v);
                }
            }
            if (renamed != null) rename(o, renamed);
        } else if (node instanceof ArrayNode a) {
            for (int i = 0; i < a.size(); i++) {
                JsonNode value = a.get(i);
                if (value.isTextual() || value.isNumber()) {
                    String t = value.asText();
                    String r = v.text(t, value.isNumber());
                    if (!r.equals(t)) a.set(i, TextNode.valueOf(r));
                } else if (value.isContainerNode()) {
                    walk(value, v);
                }
            }
        }
    }

    /** Renames fields of {@code o} in place, keeping their order (a redacted key). */
    private static void rename(ObjectNode o, Map<String, String> renamed) {
        java.util.List<Map.Entry<String, JsonNode>> fields = new ArrayList<>();
        o.fields().forEachRemaining(fields::add);
        o.removeAll();
        for (Map.Entry<String, JsonNode> f : fields) o.set(renamed.getOrDefault(f.getKey(), f.getKey()), f.getValue());
    }

    /**
     * The kind of content a part carries when it is not text the gateway can read: an
     * image, audio, a file or video part, or a document whose source is base64 (a PDF), a
     * URL or a file id. Null for text. Only a part's payload fields are skipped; its other
     * fields (a document's title and context, a file's name) are scanned.
     */
    private static String binaryKind(ObjectNode o) {
        JsonNode type = o.get("type");
        if (type == null || !type.isTextual()) return null;
        String t = type.asText();
        String kind = BINARY_PARTS.get(t);
        if (kind != null) return kind;
        if (t.equals("document")) {
            JsonNode source = o.path("source");
            String st = source.path("type").asText("");
            if (st.equals("text") || st.equals("content")) return null; // plain text or content blocks: scanned
            String media = source.path("media_type").asText("");
            return media.equals("application/pdf") || st.equals("base64") && media.isEmpty() ? "pdf"
                    : st.equals("url") ? "document_url" : st.equals("file") ? "file" : "document";
        }
        return null;
    }

    /**
     * A text as the detectors see it, with the map back to the original: the identity for
     * plain ASCII (the common case, nothing allocated), else NFKC per code point with format
     * characters and combining marks dropped.
     */
    record Normalized(String text, int[] starts, int[] ends) {
        static Normalized of(String s) {
            int n = s.length();
            int i = 0;
            while (i < n && s.charAt(i) < 0x80) i++;
            if (i == n) return new Normalized(s, null, null);
            StringBuilder out = new StringBuilder(n);
            int[] starts = new int[n + 1];
            int[] ends = new int[n + 1];
            for (int k = 0; k < i; k++) {
                out.append(s.charAt(k));
                starts[k] = k;
                ends[k] = k + 1;
            }
            while (i < n) {
                int cp = s.codePointAt(i);
                int len = Character.charCount(cp);
                String norm;
                if (cp >= 0xE0020 && cp <= 0xE007E) {
                    norm = String.valueOf((char) (cp - 0xE0000)); // tag characters: ASCII in disguise
                } else {
                    int type = Character.getType(cp);
                    norm = type == Character.FORMAT || type == Character.NON_SPACING_MARK || type == Character.ENCLOSING_MARK ? ""
                            : cp < 0x80 ? String.valueOf((char) cp)
                            : java.text.Normalizer.normalize(new String(Character.toChars(cp)), java.text.Normalizer.Form.NFKC);
                }
                for (int k = 0; k < norm.length(); k++) {
                    char c = norm.charAt(k);
                    int ct = Character.getType(c);
                    if (norm.length() > 1 && (ct == Character.FORMAT || ct == Character.NON_SPACING_MARK || ct == Character.ENCLOSING_MARK)) continue;
                    if (out.length() + 1 >= starts.length) {
                        starts = java.util.Arrays.copyOf(starts, starts.length * 2);
                        ends = java.util.Arrays.copyOf(ends, ends.length * 2);
                    }
                    starts[out.length()] = i;
                    ends[out.length()] = i + len;
                    out.append(c);
                }
                i += len;
            }
            return new Normalized(out.toString(), starts, ends);
        }

        boolean identity() { return starts == null; }

        /** The original index where normalised character {@code i} came from. */
        int originalStart(int i) { return starts == null ? i : starts[i]; }

        /**
         * The original index just after normalised characters {@code [.., end)}: the end of
         * the code point that produced the last of them, so a match that ends inside one
         * code point's expansion still covers that code point whole.
         */
        int originalEnd(int end) {
            if (starts == null) return end;
            return end == 0 ? 0 : ends[end - 1];
        }
    }

    /** For tests: what the detectors see of {@code s}. */
    static String normalise(String s) {
        return Normalized.of(s).text();
    }
}
