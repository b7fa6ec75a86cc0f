package keyguard.policy.ir;

import java.util.Locale;

/** Types of the condition language. LIST and RANGE only appear on the right of {@code in}. */
public enum Type {
    BOOL, INT, STRING, CLASS, WEEKDAY, MAP, LIST, RANGE;

    public String word() {
        return switch (this) {
            case CLASS -> "data class";
            case MAP -> "map";
            default -> name().toLowerCase(Locale.ROOT);
        };
    }
}
