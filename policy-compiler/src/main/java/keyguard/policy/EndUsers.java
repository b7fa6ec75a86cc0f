package keyguard.policy;

import java.util.List;
import java.util.Locale;

/**
 * {@code end_users { from [...]  max N  overflow shared|refuse }}: whom a policy's
 * {@code by user} limits and budgets count. The end user a request is made for is read from
 * the first of {@code sources} the request carries; at most {@code max} distinct end users
 * get counters of their own per key (an end user idle on all of them gives its place up);
 * one more shares the key's overflow counters ({@code overflowShared}) or is refused.
 */
public record EndUsers(List<Source> sources, int max, boolean overflowShared) {
    /** Where a request names its end user. */
    public enum Source {
        /** OpenAI's {@code user} (or {@code safety_identifier}) field. */
        USER,
        /** {@code metadata.user_id}: Anthropic's, and OpenAI's metadata entry of that name. */
        METADATA,
        /** The {@code x-keyguard-user} header. */
        HEADER;

        public String word() { return name().toLowerCase(Locale.ROOT); }

        public static Source parse(String word) {
            for (Source s : values()) if (s.word().equals(word)) return s;
            return null;
        }
    }

    /**
     * The most distinct end users one key may track: each place holds a row per {@code by user}
     * counter in the counter store (whose size is the operator's {@code --max-counters}), and a
     * team's policy must not be able to fill it.
     */
    public static final int MAX_USERS = 100_000;

    /** Without {@code end_users}: every source, the body's first and the header last; 1,000 users per key; the rest share. */
    public static final EndUsers DEFAULT = new EndUsers(List.of(Source.USER, Source.METADATA, Source.HEADER), 1_000, true);

    public EndUsers {
        sources = List.copyOf(sources);
        if (sources.isEmpty() || max < 1 || max > MAX_USERS) throw new IllegalArgumentException("end_users needs a source and 1.." + MAX_USERS + " users");
    }
}
