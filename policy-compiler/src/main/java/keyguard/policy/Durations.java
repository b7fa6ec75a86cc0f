package keyguard.policy;

/** Window durations: {@code 30s 1m 1h 1d 1w}, canonical form = the largest unit that divides evenly. */
public final class Durations {
    private static final String[] UNITS = {"w", "d", "h", "m", "s"};
    private static final long[] SECONDS = {604_800, 86_400, 3_600, 60, 1};

    private Durations() {}

    /** Seconds of {@code 15m}, or -1 when malformed. Underscores in the digits are allowed. */
    public static long parseSeconds(String text) {
        int i = 0;
        while (i < text.length() && (Character.isDigit(text.charAt(i)) || text.charAt(i) == '_')) i++;
        if (i == 0 || i == text.length()) return -1;
        long n;
        try {
            n = Long.parseLong(text.substring(0, i).replace("_", ""));
        } catch (NumberFormatException e) {
            return -1;
        }
        String unit = text.substring(i);
        for (int u = 0; u < UNITS.length; u++) {
            if (UNITS[u].equals(unit)) {
                return n > Long.MAX_VALUE / SECONDS[u] ? -1 : n * SECONDS[u];
            }
        }
        return -1;
    }

    public static String format(long seconds) {
        for (int u = 0; u < UNITS.length; u++) {
            if (seconds % SECONDS[u] == 0) return (seconds / SECONDS[u]) + UNITS[u];
        }
        return seconds + "s";
    }
}
