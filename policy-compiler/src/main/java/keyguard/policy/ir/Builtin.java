package keyguard.policy.ir;

import java.util.List;

/** Built-in functions. {@code matches} takes its pattern as a string literal, compiled once. */
public enum Builtin {
    STARTS_WITH("startsWith", Type.BOOL, Type.STRING, Type.STRING),
    ENDS_WITH("endsWith", Type.BOOL, Type.STRING, Type.STRING),
    CONTAINS("contains", Type.BOOL, Type.STRING, Type.STRING),
    MATCHES("matches", Type.BOOL, Type.STRING, Type.STRING),
    LOWER("lower", Type.STRING, Type.STRING),
    UPPER("upper", Type.STRING, Type.STRING);

    private final String word;
    private final Type result;
    private final List<Type> params;

    Builtin(String word, Type result, Type... params) {
        this.word = word;
        this.result = result;
        this.params = List.of(params);
    }

    public String word() { return word; }

    public Type result() { return result; }

    public List<Type> params() { return params; }

    public static Builtin byWord(String word) {
        for (Builtin b : values()) if (b.word.equals(word)) return b;
        return null;
    }
}
