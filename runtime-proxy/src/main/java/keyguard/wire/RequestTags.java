package keyguard.wire;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The tags a caller attaches to a request, for its policy's {@code allow tags} and for cost
 * attribution: {@code x-keyguard-tags: project=alpha, cost-centre=4711} and, for the names
 * the policy declares, the entries of OpenAI's {@code metadata}; the header wins where both
 * name a tag.
 *
 * <p>Invariants: bounded before anything reads them: at most {@link #MAX_TAGS} tags, names of
 * letters, digits, {@code _}, {@code .} and {@code -} up to 64 characters, values of 1 to 128
 * characters without control or format characters, {@code ,} or {@code =}; a malformed header is an
 * error that says what is wrong, quoting nothing of it. Whether the policy accepts them is
 * the policy's decision ({@code tags.allow}, {@code tags.required}), not this class's.
 */
public final class RequestTags {
    public static final int MAX_TAGS = 16;
    public static final int MAX_HEADER = 4096;
    public static final int MAX_NAME = 64;
    public static final int MAX_VALUE = 128;

    private RequestTags() {}

    /**
     * The request's tags: those of the header, then the metadata entries whose names
     * {@code declared} holds (unless the header named them); IllegalArgumentException says why
     * the header is malformed.
     */
    public static Map<String, String> of(String header, Map<String, String> metadata, java.util.Set<String> declared) {
        Map<String, String> out = new LinkedHashMap<>();
        if (header != null && !header.isBlank()) {
            if (header.length() > MAX_HEADER) throw new IllegalArgumentException("the header is longer than " + MAX_HEADER + " characters");
            for (String pair : header.split(",", -1)) {
                String p = pair.strip();
                if (p.isEmpty()) throw new IllegalArgumentException("an empty entry");
                int eq = p.indexOf('=');
                if (eq <= 0 || eq == p.length() - 1) throw new IllegalArgumentException("an entry is not `name=value`");
                String name = p.substring(0, eq).strip();
                String value = p.substring(eq + 1).strip();
                if (!validName(name)) throw new IllegalArgumentException("a tag name is not letters, digits, `_`, `.`, `-` (at most " + MAX_NAME + ")");
                if (!validValue(value)) throw new IllegalArgumentException("the value of `" + name + "` is empty, longer than " + MAX_VALUE + ", or holds `=` or control characters");
                if (out.putIfAbsent(name, value) != null) throw new IllegalArgumentException("`" + name + "` is given twice");
                if (out.size() > MAX_TAGS) throw new IllegalArgumentException("more than " + MAX_TAGS + " tags");
            }
        }
        if (metadata != null && !declared.isEmpty()) {
            for (Map.Entry<String, String> m : metadata.entrySet()) {
                if (!declared.contains(m.getKey()) || out.containsKey(m.getKey())) continue;
                if (!validValue(m.getValue())) {
                    throw new IllegalArgumentException("`metadata." + m.getKey() + "`, a tag of the policy, is empty, longer than " + MAX_VALUE + ", or holds `,`, `=` or control characters");
                }
                out.put(m.getKey(), m.getValue());
                if (out.size() > MAX_TAGS) throw new IllegalArgumentException("more than " + MAX_TAGS + " tags");
            }
        }
        return out.isEmpty() ? Map.of() : java.util.Collections.unmodifiableMap(out);
    }

    static boolean validName(String name) {
        if (name.isEmpty() || name.length() > MAX_NAME) return false;
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-')) return false;
        }
        return true;
    }

    static boolean validValue(String value) {
        if (value.isEmpty() || value.length() > MAX_VALUE) return false;
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            // No control or invisible format characters (bidi overrides, line separators): values reach plain-text explanations.
            if (Character.isISOControl(c) || Character.getType(c) == Character.FORMAT || c == 0x2028 || c == 0x2029 || c == ',' || c == '=') return false;
        }
        return true;
    }
}
