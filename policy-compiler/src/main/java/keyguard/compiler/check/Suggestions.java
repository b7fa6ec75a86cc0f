package keyguard.compiler.check;

import java.util.Collection;

/** "Did you mean" for unknown names: the closest candidate within a small edit distance. */
final class Suggestions {
    private Suggestions() {}

    static String closest(String word, Collection<String> candidates) {
        String best = null;
        int bestDistance = Integer.MAX_VALUE;
        for (String c : new java.util.TreeSet<>(candidates)) {
            int d = distance(word.toLowerCase(), c.toLowerCase());
            if (d < bestDistance) {
                best = c;
                bestDistance = d;
            }
        }
        int allowed = Math.max(1, Math.min(3, word.length() / 3));
        return best != null && bestDistance <= allowed ? best : null;
    }

    /** {@code did you mean `x`?}, or a fallback listing when nothing is close. */
    static String didYouMean(String word, Collection<String> candidates, String fallback) {
        String c = closest(word, candidates);
        return c != null ? "did you mean `" + c + "`?" : fallback;
    }

    private static int distance(String a, String b) {
        if (Math.abs(a.length() - b.length()) > 8) return Integer.MAX_VALUE;
        int[] prev = new int[b.length() + 1];
        int[] cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) prev[j] = j;
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
                cur[j] = Math.min(Math.min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + cost);
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.length()];
    }

    static String list(Collection<String> words) {
        StringBuilder sb = new StringBuilder();
        for (String w : new java.util.TreeSet<>(words)) {
            if (!sb.isEmpty()) sb.append(", ");
            sb.append('`').append(w).append('`');
        }
        return sb.toString();
    }
}
