package keyguard.classify;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import keyguard.policy.DetectorSpec;

/**
 * The policy files' own detectors. Word lists match case-insensitively on whole words (a
 * phrase is a sequence of words): each word of the text is hashed in place and looked up
 * in an open-addressing table of first words, so a text with no listed word allocates
 * nothing. Patterns run with RE2J, in time linear in the text.
 */
final class CustomDetectors {
    private final List<Detector> patternDetectors = new ArrayList<>();
    private final List<com.google.re2j.Pattern> patterns = new ArrayList<>();
    /** Phrases by the hash of their first word; slots hold indexes into {@link #phrases}, -1 empty. */
    private final int[] table;
    private final long[] tableHashes;
    private final List<String> phrases = new ArrayList<>();
    private final List<Detector> phraseDetectors = new ArrayList<>();
    private final int[] nextSameHash;

    CustomDetectors(List<DetectorSpec> specs) {
        List<long[]> pending = new ArrayList<>();
        for (DetectorSpec spec : specs) {
            Detector d = new Detector(spec.name(), spec.name().toUpperCase(Locale.ROOT), spec.dataClass());
            if (spec.pattern() != null) {
                patternDetectors.add(d);
                patterns.add(spec.pattern());
            } else {
                for (String w : spec.words()) {
                    String phrase = w.strip();
                    if (phrase.isEmpty()) continue;
                    phrases.add(phrase);
                    phraseDetectors.add(d);
                }
            }
        }
        int size = Integer.highestOneBit(Math.max(4, phrases.size() * 4) - 1) << 1;
        table = new int[size];
        tableHashes = new long[size];
        nextSameHash = new int[phrases.size()];
        java.util.Arrays.fill(table, -1);
        java.util.Arrays.fill(nextSameHash, -1);
        for (int p = 0; p < phrases.size(); p++) {
            String phrase = phrases.get(p);
            int firstEnd = 0;
            while (firstEnd < phrase.length() && BuiltinScanner.isWordChar(phrase.charAt(firstEnd))) firstEnd++;
            long h = hash(phrase, 0, firstEnd);
            int slot = (int) (h & (size - 1));
            while (table[slot] >= 0 && tableHashes[slot] != h) slot = (slot + 1) & (size - 1);
            if (table[slot] >= 0) {
                nextSameHash[p] = table[slot];
            }
            table[slot] = p;
            tableHashes[slot] = h;
        }
    }

    boolean isEmpty() { return phrases.isEmpty() && patterns.isEmpty(); }

    void scan(String s, Sink sink) {
        if (!phrases.isEmpty()) words(s, sink);
        for (int p = 0; p < patterns.size(); p++) {
            com.google.re2j.Matcher m = patterns.get(p).matcher(s);
            while (m.find()) {
                if (m.end() > m.start()) sink.found(patternDetectors.get(p), m.start(), m.end());
            }
        }
    }

    private void words(String s, Sink sink) {
        int n = s.length();
        int i = 0;
        int mask = table.length - 1;
        while (i < n) {
            if (!BuiltinScanner.isWordChar(s.charAt(i))) {
                i++;
                continue;
            }
            int end = i;
            while (end < n && BuiltinScanner.isWordChar(s.charAt(end))) end++;
            long h = hash(s, i, end);
            int slot = (int) (h & mask);
            int matched = -1;
            while (table[slot] >= 0) {
                if (tableHashes[slot] == h) {
                    for (int p = table[slot]; p >= 0; p = nextSameHash[p]) {
                        String phrase = phrases.get(p);
                        int stop = i + phrase.length();
                        if (s.regionMatches(true, i, phrase, 0, phrase.length())
                                && (stop == n || !BuiltinScanner.isWordChar(s.charAt(stop))) && (matched < 0 || stop > matched)) {
                            sink.found(phraseDetectors.get(p), i, stop);
                            matched = stop;
                            break;
                        }
                    }
                    break;
                }
                slot = (slot + 1) & mask;
            }
            i = matched > 0 ? matched : end;
        }
    }

    /** FNV-1a over the lower-cased characters. */
    private static long hash(String s, int from, int to) {
        long h = 0xcbf29ce484222325L;
        for (int k = from; k < to; k++) {
            h ^= Character.toLowerCase(s.charAt(k));
            h *= 0x100000001b3L;
        }
        return h;
    }
}
