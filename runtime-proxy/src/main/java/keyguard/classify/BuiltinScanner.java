package keyguard.classify;

/**
 * The built-in detectors as one hand-written pass over the text: every position is looked
 * at a bounded number of times (look-aheads are capped: 64 characters for an e-mail's
 * local part, 255 for its domain, 40 for a number, 16 KB for a private key block and the
 * search for its end is never repeated), so a scan is linear in the text whatever it
 * contains. Nothing is allocated unless something is found. One instance per thread.
 *
 * <p>Each detector errs on the side of precision, with checksums where the format has one
 * (Luhn for cards, mod-97 for IBANs); docs/data-classification.md lists what each misses.
 */
public final class BuiltinScanner {
    private static final int MAX_LOCAL = 64;
    private static final int MAX_DOMAIN = 255;
    private static final int MAX_NUMBER = 40;
    private static final int MAX_KEY_BLOCK = 16 * 1024;
    /** Shannon entropy, in bits per character, above which a long token looks like a secret. */
    static final double ENTROPY_BITS = 4.0;
    static final int ENTROPY_MIN_LENGTH = 24;

    private final int[] histogram = new int[128];
    private String endSearchText;
    private int nextEnd;

    public void scan(String s, Sink sink) {
        int n = s.length();
        endSearchText = null;
        int nextAt = s.indexOf('@');
        int i = 0;
        while (i < n) {
            char c = s.charAt(i);
            if (c == '-' && s.startsWith("-----BEGIN ", i)) {
                int end = privateKeyBlock(s, i);
                if (end > 0) {
                    sink.found(Detector.PRIVATE_KEY, i, end);
                    i = end;
                    continue;
                }
                i += 5;
                continue;
            }
            if (!isAlnum(c) && c != '+' && c != '(' || i > 0 && isWordChar(s.charAt(i - 1))) {
                i++;
                continue;
            }
            // An e-mail needs an `@` within reach: find the next one once, not per word.
            if (nextAt >= 0 && nextAt < i) nextAt = s.indexOf('@', i);
            int end = nextAt >= 0 && nextAt - i <= MAX_LOCAL ? email(s, i) : -1;
            if (end > 0) {
                sink.found(Detector.EMAIL, i, end);
                i = end;
                continue;
            }
            int run = runEnd(s, i);
            if (isHex(c) && run < n && s.charAt(run) == ':') {
                end = ipv6(s, i);
                if (end > 0) {
                    sink.found(Detector.IP_ADDRESS, i, end);
                    i = end;
                    continue;
                }
            }
            if (isDigit(c) || c == '+' || c == '(') {
                long found = number(s, i);
                if (found != 0) {
                    Detector d = NUMBER_KINDS[(int) (found >>> 32)];
                    end = (int) found;
                    if (d != null) {
                        sink.found(d, i, end);
                        i = end;
                        continue;
                    }
                    // Not sensitive: skip the whole number, so that its tail (the `2.3.4.5` of
                    // `1.2.3.4.5`) is not read as a number of its own.
                    i = Math.max(i + 1, end);
                    continue;
                }
                if (!isAlnum(c)) {
                    i++;
                    continue;
                }
            }
            end = token(s, i, run, sink);
            i = end > 0 ? end : Math.max(run, i + 1);
        }
    }

    // ---------------------------------------------------------------- e-mail

    /** An e-mail address starting at {@code i}: end index, or -1. */
    private static int email(String s, int i) {
        int n = s.length();
        int k = i;
        while (k < n && k - i < MAX_LOCAL && isLocalChar(s.charAt(k))) k++;
        if (k == i || k >= n || s.charAt(k) != '@' || s.charAt(k - 1) == '.') return -1;
        int d = k + 1;
        int lastDot = -1;
        int labelStart = d;
        int j = d;
        while (j < n && j - d < MAX_DOMAIN) {
            char c = s.charAt(j);
            if (isAlnum(c) || c == '-') {
                j++;
            } else if (c == '.' && j > labelStart && j + 1 < n && isAlnum(s.charAt(j + 1))) {
                lastDot = j;
                labelStart = j + 1;
                j++;
            } else {
                break;
            }
        }
        if (lastDot < 0 || j - lastDot - 1 < 2) return -1;
        for (int t = lastDot + 1; t < j; t++) if (!isLetter(s.charAt(t))) return -1; // the TLD is letters
        if (s.charAt(j - 1) == '-') return -1;
        return j;
    }

    // ---------------------------------------------------------------- numbers

    private static final Detector[] NUMBER_KINDS = {null, Detector.IP_ADDRESS, Detector.US_SSN, Detector.CARD_NUMBER, Detector.PHONE};

    /**
     * A number-like span at {@code i} (digits with single separators): {@code kind << 32 | end},
     * kind 0 when it is nothing sensitive, or 0 when there is no number here.
     */
    private static long number(String s, int i) {
        int n = s.length();
        int k = i;
        int digits = 0;
        int groups = 0;
        boolean plus = s.charAt(i) == '+';
        if (plus) k++;
        boolean paren = false;
        if (k < n && s.charAt(k) == '(') {
            paren = true;
            k++;
        }
        char sep = 0;
        boolean mixedSeparators = false;
        int g0 = 0, g1 = 0, g2 = 0, g3 = 0, g4 = 0;
        int groupStart = k;
        while (k < n && k - i < MAX_NUMBER) {
            char c = s.charAt(k);
            if (isDigit(c)) {
                digits++;
                k++;
                continue;
            }
            int len = k - groupStart;
            if (len == 0) break;
            boolean closeParen = paren && c == ')' && groups == 0;
            boolean separator = c == ' ' || c == '-' || c == '.' || c == '/' || closeParen;
            if (!separator) break;
            int next = k + 1;
            if (closeParen && next < n && (s.charAt(next) == ' ' || s.charAt(next) == '-')) next++;
            if (next >= n || !isDigit(s.charAt(next))) break;
            switch (groups) {
                case 0 -> g0 = len;
                case 1 -> g1 = len;
                case 2 -> g2 = len;
                case 3 -> g3 = len;
                default -> g4 = len;
            }
            groups++;
            char kind = closeParen ? ')' : c;
            if (!closeParen) {
                if (sep == 0) sep = kind;
                else if (sep != kind) mixedSeparators = true;
            }
            k = next;
            groupStart = k;
        }
        int last = k - groupStart;
        if (digits == 0) return 0;
        switch (groups) {
            case 0 -> g0 = last;
            case 1 -> g1 = last;
            case 2 -> g2 = last;
            case 3 -> g3 = last;
            default -> g4 = last;
        }
        groups++;
        int end = k;
        if (end < n && (isLetter(s.charAt(end)) || s.charAt(end) == '_')) return (long) 0 << 32 | end; // part of a word
        boolean followedByDotDigit = end + 1 < n && s.charAt(end) == '.' && isDigit(s.charAt(end + 1));
        if (!plus && !paren && sep == '.' && !mixedSeparators && groups == 4 && !followedByDotDigit
                && octet(s, i, g0) && octet(s, i + g0 + 1, g1) && octet(s, i + g0 + g1 + 2, g2) && octet(s, i + g0 + g1 + g2 + 3, g3)) {
            return (long) 1 << 32 | end;
        }
        if (!plus && !paren && sep == '-' && !mixedSeparators && groups == 3 && g0 == 3 && g1 == 2 && g2 == 4 && ssn(s, i)) {
            return (long) 2 << 32 | end;
        }
        if (!plus && !paren && !mixedSeparators && (sep == 0 || sep == ' ' || sep == '-') && digits >= 13 && digits <= 19
                && luhn(s, i, end)) {
            return (long) 3 << 32 | end;
        }
        if (plus && digits >= 8 && digits <= 15 && sep != '.' && sep != '/') return (long) 4 << 32 | end;
        if (!plus && sep != '/' && groups >= 3 && (digits == 10 || digits == 11 && (s.charAt(paren ? i + 1 : i) == '1'
                || s.charAt(paren ? i + 1 : i) == '0')) && (groups > 1) && !(sep == '.' && groups == 4)) {
            return (long) 4 << 32 | end;
        }
        if (!plus && paren && digits == 10 && g0 == 3) return (long) 4 << 32 | end;
        return (long) 0 << 32 | end;
    }

    private static boolean octet(String s, int at, int len) {
        if (len < 1 || len > 3) return false;
        if (len > 1 && s.charAt(at) == '0') return false;
        int v = 0;
        for (int t = 0; t < len; t++) v = v * 10 + (s.charAt(at + t) - '0');
        return v <= 255;
    }

    /** US SSN rules: area not 000, 666 or 9xx; group not 00; serial not 0000. */
    private static boolean ssn(String s, int i) {
        int area = num(s, i, 3);
        int group = num(s, i + 4, 2);
        int serial = num(s, i + 7, 4);
        return area != 0 && area != 666 && area < 900 && group != 0 && serial != 0;
    }

    private static int num(String s, int at, int len) {
        int v = 0;
        for (int t = 0; t < len; t++) v = v * 10 + (s.charAt(at + t) - '0');
        return v;
    }

    static boolean luhn(String s, int from, int to) {
        int sum = 0;
        boolean dbl = false;
        int digits = 0;
        for (int k = to - 1; k >= from; k--) {
            char c = s.charAt(k);
            if (!isDigit(c)) continue;
            int d = c - '0';
            if (dbl) {
                d *= 2;
                if (d > 9) d -= 9;
            }
            sum += d;
            dbl = !dbl;
            digits++;
        }
        return digits > 0 && sum % 10 == 0;
    }

    // ---------------------------------------------------------------- IPv6

    /** An IPv6 address at {@code i} (full, compressed with {@code ::}, or with an IPv4 tail): end, or -1. */
    private static int ipv6(String s, int i) {
        int n = s.length();
        int k = i;
        int groups = 0;
        boolean compressed = false;
        int colons = 0;
        while (k < n && k - i < 45) {
            int h = k;
            while (h < n && h - k < 5 && isHex(s.charAt(h))) h++;
            int len = h - k;
            if (len > 4) return -1;
            if (len > 0) {
                if (h < n && s.charAt(h) == '.') break; // an IPv4 tail is not supported; stop here
                groups++;
                k = h;
            }
            if (k + 1 < n && s.charAt(k) == ':' && s.charAt(k + 1) == ':') {
                if (compressed) return -1;
                compressed = true;
                colons += 2;
                k += 2;
                continue;
            }
            if (k < n && s.charAt(k) == ':' && len > 0 && k + 1 < n && isHex(s.charAt(k + 1))) {
                colons++;
                k++;
                continue;
            }
            break;
        }
        if (k < n && (isWordChar(s.charAt(k)) || s.charAt(k) == ':')) return -1;
        if (colons < 2) return -1;
        if (compressed ? groups > 7 : groups != 8) return -1;
        return k;
    }

    // ---------------------------------------------------------------- tokens: keys, JWTs, IBANs, entropy

    /** The word run at {@code i} ({@code run} is its end): a secret or an IBAN found there, its end, or -1. */
    private int token(String s, int i, int run, Sink sink) {
        int len = run - i;
        if (len >= 20) {
            if (len == 20 && awsPrefix(s, i) && allUpperOrDigit(s, i + 4, run)) {
                sink.found(Detector.AWS_ACCESS_KEY, i, run);
                return run;
            }
            if (len == 40 && s.startsWith("gh", i) && s.charAt(i + 3) == '_' && "pousr".indexOf(s.charAt(i + 2)) >= 0
                    && allAlnum(s, i + 4, run)) {
                sink.found(Detector.GITHUB_TOKEN, i, run);
                return run;
            }
            if (len >= 40 && s.startsWith("github_pat_", i)) {
                sink.found(Detector.GITHUB_TOKEN, i, run);
                return run;
            }
            if (len == 59 && s.startsWith("kg-", i) && s.charAt(i + 15) == '-' && keyguardId(s, i + 3) && allAlnum(s, i + 16, run)) {
                sink.found(Detector.KEYGUARD_KEY, i, run);
                return run;
            }
            if (len >= 27 && s.startsWith("sk-ant-", i)) {
                sink.found(Detector.ANTHROPIC_KEY, i, run);
                return run;
            }
            if (len >= 23 && s.startsWith("sk-", i)) {
                sink.found(Detector.OPENAI_KEY, i, run);
                return run;
            }
        }
        if (len >= 10 && s.startsWith("eyJ", i)) {
            int end = jwt(s, i, run);
            if (end > 0) {
                sink.found(Detector.JWT, i, end);
                return end;
            }
        }
        if (len >= 4 && isUpper(s.charAt(i)) && isUpper(s.charAt(i + 1)) && isDigit(s.charAt(i + 2)) && isDigit(s.charAt(i + 3))) {
            int end = iban(s, i, run);
            if (end > 0) {
                sink.found(Detector.IBAN, i, end);
                return end;
            }
        }
        if (len >= ENTROPY_MIN_LENGTH) {
            int end = secretRunEnd(s, i);
            if (highEntropy(s, i, end)) {
                sink.found(Detector.HIGH_ENTROPY, i, end);
                return end;
            }
        }
        return -1;
    }

    private static boolean awsPrefix(String s, int i) {
        return s.startsWith("AKIA", i) || s.startsWith("ASIA", i) || s.startsWith("AGPA", i) || s.startsWith("AIDA", i)
                || s.startsWith("AROA", i) || s.startsWith("ANPA", i) || s.startsWith("ANVA", i) || s.startsWith("AIPA", i);
    }

    private static boolean keyguardId(String s, int at) {
        for (int k = at; k < at + 12; k++) {
            char c = s.charAt(k);
            if (!(c >= 'a' && c <= 'z' || c >= '2' && c <= '7')) return false;
        }
        return true;
    }

    /** {@code header.payload.signature}, base64url, the header starting {@code eyJ}: end, or -1. */
    private static int jwt(String s, int i, int run) {
        int n = s.length();
        int k = run;
        int dots = 0;
        while (k < n && s.charAt(k) == '.' && dots < 2) {
            int seg = k + 1;
            int e = seg;
            while (e < n && (isAlnum(s.charAt(e)) || s.charAt(e) == '-' || s.charAt(e) == '_')) e++;
            if (e - seg < (dots == 0 ? 2 : 8)) return -1;
            dots++;
            k = e;
        }
        return dots == 2 && run - i >= 10 ? k : -1;
    }

    /** An IBAN, compact or in groups of four separated by single spaces, passing mod-97: end, or -1. */
    private static int iban(String s, int i, int run) {
        int n = s.length();
        int end;
        int chars;
        if (run - i >= 15 && run - i <= 34) {
            end = run;
            chars = run - i;
        } else if (run - i == 4) {
            int k = run;
            chars = 4;
            while (k + 1 < n && s.charAt(k) == ' ' && chars < 34) {
                int g = k + 1;
                int e = g;
                while (e < n && e - g < 5 && isUpperOrDigit(s.charAt(e))) e++;
                int len = e - g;
                if (len == 0 || len > 4 || e < n && isWordChar(s.charAt(e))) break;
                chars += len;
                k = e;
                if (len < 4) break;
            }
            end = k;
            if (chars < 15) return -1;
        } else {
            return -1;
        }
        // mod-97 over the rearranged number (country and check digits moved to the end), letters as 10..35
        int rem = 0;
        int count = 0;
        for (int pass = 0; pass < 2; pass++) {
            int from = pass == 0 ? i + 4 : i;
            int to = pass == 0 ? end : i + 4;
            for (int k = from; k < to; k++) {
                char c = s.charAt(k);
                if (c == ' ') continue;
                int v;
                if (isDigit(c)) v = c - '0';
                else if (isUpper(c)) v = c - 'A' + 10;
                else return -1;
                rem = v >= 10 ? (rem * 100 + v) % 97 : (rem * 10 + v) % 97;
                count++;
            }
        }
        return count == chars && rem == 1 ? end : -1;
    }

    /** A token for the entropy check extends over base64 characters too. */
    private static int secretRunEnd(String s, int i) {
        int k = i;
        int n = s.length();
        while (k < n && (isWordChar(s.charAt(k)) || s.charAt(k) == '-' || s.charAt(k) == '+' || s.charAt(k) == '/' || s.charAt(k) == '=')) k++;
        return k;
    }

    private boolean highEntropy(String s, int from, int to) {
        int len = to - from;
        if (len < ENTROPY_MIN_LENGTH) return false;
        boolean lower = false;
        boolean upper = false;
        boolean digit = false;
        int[] h = histogram;
        for (int k = from; k < to; k++) {
            char c = s.charAt(k);
            lower |= c >= 'a' && c <= 'z';
            upper |= c >= 'A' && c <= 'Z';
            digit |= c >= '0' && c <= '9';
            h[c & 127]++;
        }
        double bits = 0;
        for (int k = from; k < to; k++) {
            int count = h[s.charAt(k) & 127];
            if (count == 0) continue;
            double p = (double) count / len;
            bits -= p * Math.log(p);
            h[s.charAt(k) & 127] = 0;
        }
        bits /= Math.log(2);
        return digit && (lower || upper) && (lower && upper || len >= 32) && bits >= ENTROPY_BITS;
    }

    // ---------------------------------------------------------------- private key blocks

    /** {@code -----BEGIN ... PRIVATE KEY-----} through its {@code -----END ...-----} line (or its header line): end, or -1. */
    private int privateKeyBlock(String s, int i) {
        int n = s.length();
        int headerEnd = -1;
        for (int k = i + 11; k < n && k < i + 80; k++) {
            char c = s.charAt(k);
            if (c == '\n') break;
            if (c == '-' && s.startsWith("PRIVATE KEY-----", k - 12)) {
                headerEnd = k + 4;
                break;
            }
        }
        if (headerEnd < 0 || !s.startsWith("PRIVATE KEY-----", headerEnd - 16)) return -1;
        int end = findEnd(s, headerEnd);
        if (end < 0 || end - i > MAX_KEY_BLOCK) return headerEnd;
        int close = s.indexOf("-----", end + 9);
        if (close < 0 || close - end > 80) return headerEnd;
        return close + 5;
    }

    /**
     * The next {@code -----END } at or after {@code from}. Calls come with increasing
     * {@code from} during one scan, and a search starts where the last one found its match,
     * so the text is searched once in total however many blocks begin and never end.
     */
    private int findEnd(String s, int from) {
        if (endSearchText != s) {
            endSearchText = s;
            nextEnd = -2;
        }
        if (nextEnd == -1 || nextEnd >= from) return nextEnd;
        nextEnd = s.indexOf("-----END ", from);
        return nextEnd;
    }

    // ---------------------------------------------------------------- characters

    static boolean isDigit(char c) { return c >= '0' && c <= '9'; }

    static boolean isUpper(char c) { return c >= 'A' && c <= 'Z'; }

    static boolean isLetter(char c) { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'; }

    static boolean isAlnum(char c) { return isDigit(c) || isLetter(c); }

    static boolean isUpperOrDigit(char c) { return isDigit(c) || isUpper(c); }

    static boolean isHex(char c) { return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'; }

    /** Word characters: a token does not start right after one. */
    static boolean isWordChar(char c) { return isAlnum(c) || c == '_'; }

    private static boolean isLocalChar(char c) { return isAlnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-'; }

    /** The end of the run of {@code [A-Za-z0-9_-]} starting at {@code i}. */
    private static int runEnd(String s, int i) {
        int k = i;
        int n = s.length();
        while (k < n && (isWordChar(s.charAt(k)) || s.charAt(k) == '-')) k++;
        return k;
    }

    private static boolean allAlnum(String s, int from, int to) {
        for (int k = from; k < to; k++) if (!isAlnum(s.charAt(k))) return false;
        return true;
    }

    private static boolean allUpperOrDigit(String s, int from, int to) {
        for (int k = from; k < to; k++) if (!isUpperOrDigit(s.charAt(k))) return false;
        return true;
    }
}
