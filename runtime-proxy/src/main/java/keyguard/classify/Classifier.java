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
import java.util.function.UnaryOperator;
import keyguard.policy.DataClass;
import keyguard.policy.DetectorSpec;

/**
 * Classifies a request by everything it would send upstream — every message's content
 * (strings and text parts), tool-call arguments, tool results, the system prompt and
 * embedding inputs; any string in those, except structural fields such as {@code role},
 * {@code type} and ids — with the built-in detectors and the policy files' own. And
 * redacts: replaces each value above a ceiling with a typed placeholder ({@code [EMAIL_1]}),
 * the same value getting the same placeholder throughout the request; values the ceiling
 * allows are forwarded as they are.
 */
public final class Classifier {
    private static final Set<String> TEXT_ROOTS = Set.of("messages", "system", "input");
    private static final Set<String> STRUCTURAL = Set.of("role", "type", "id", "tool_call_id", "tool_use_id", "media_type",
            "image_url", "source", "cache_control");

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
        visit(body, text -> {
            scan(text, b);
            return text;
        });
        return b.build();
    }

    /**
     * Replaces, in place, every value whose class is above {@code ceiling} with its
     * placeholder; returns what was replaced.
     */
    public Classification redact(ObjectNode body, DataClass ceiling) {
        Map<String, String> placeholders = new HashMap<>();
        Map<String, Integer> perLabel = new HashMap<>();
        Classification.Builder redacted = new Classification.Builder();
        visit(body, text -> redact(text, ceiling, placeholders, perLabel, redacted));
        return redacted.build();
    }

    String redact(String text, DataClass ceiling, Map<String, String> placeholders, Map<String, Integer> perLabel, Sink redacted) {
        List<int[]> spans = new ArrayList<>();
        List<Detector> kinds = new ArrayList<>();
        scan(text, (d, start, end) -> {
            if (d.dataClass().compareTo(ceiling) <= 0) return;
            spans.add(new int[] {start, end});
            kinds.add(d);
        });
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
            String value = text.substring(span[0], span[1]);
            String placeholder = placeholders.computeIfAbsent(d.label() + "\u0000" + value,
                    k -> "[" + d.label() + "_" + perLabel.merge(d.label(), 1, Integer::sum) + "]");
            out.append(text, at, span[0]).append(placeholder);
            at = span[1];
        }
        return out.append(text, at, text.length()).toString();
    }

    private void scan(String text, Sink sink) {
        if (text.isEmpty()) return;
        scanners.get().scan(text, sink);
        if (!custom.isEmpty()) custom.scan(text, sink);
    }

    /** Calls {@code f} on every text the request sends upstream; a changed result replaces the text. */
    static void visit(ObjectNode body, UnaryOperator<String> f) {
        for (String root : TEXT_ROOTS) {
            JsonNode node = body.get(root);
            if (node == null) continue;
            if (node.isTextual()) {
                String t = node.asText();
                String r = f.apply(t);
                if (!r.equals(t)) body.put(root, r);
            } else {
                walk(node, f);
            }
        }
    }

    private static void walk(JsonNode node, UnaryOperator<String> f) {
        if (node instanceof ObjectNode o) {
            for (Iterator<Map.Entry<String, JsonNode>> it = o.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                if (STRUCTURAL.contains(e.getKey())) continue;
                JsonNode v = e.getValue();
                if (v.isTextual()) {
                    String t = v.asText();
                    String r = f.apply(t);
                    if (!r.equals(t)) e.setValue(TextNode.valueOf(r));
                } else if (v.isContainerNode()) {
                    walk(v, f);
                }
            }
        } else if (node instanceof ArrayNode a) {
            for (int i = 0; i < a.size(); i++) {
                JsonNode v = a.get(i);
                if (v.isTextual()) {
                    String t = v.asText();
                    String r = f.apply(t);
                    if (!r.equals(t)) a.set(i, TextNode.valueOf(r));
                } else if (v.isContainerNode()) {
                    walk(v, f);
                }
            }
        }
    }
}
