package keyguard.admin;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The console's sign-in sessions. A browser that signed in holds an opaque session id in
 * a cookie ({@link #COOKIE}: {@code HttpOnly}, {@code SameSite=Strict}, {@code Secure} over
 * TLS, then named {@code __Host-kg_session} so that no other host or path can set it) and sends each state-changing call with the session's CSRF token in
 * {@link #CSRF_HEADER}; the admin API then treats it as the principal that signed in.
 *
 * <p>Invariants: an id is 256 random bits and is kept only as its SHA-256 (a heap dump
 * holds no usable id); a session ends at the earliest of {@link #IDLE} without use,
 * {@link #LIFETIME} after sign-in, and the expiry of the credential it was made from (an
 * identity-provider token); at most {@link #MAX_SESSIONS} live at once, the one used
 * least recently going first. Sessions live in this process only: a restart signs
 * everyone out.
 */
public final class Sessions {
    public static final String COOKIE = "kg_session";
    public static final String CSRF_HEADER = "x-keyguard-csrf";
    public static final Duration IDLE = Duration.ofMinutes(30);
    public static final Duration LIFETIME = Duration.ofHours(12);
    public static final int MAX_SESSIONS = 10_000;
    /** Sessions one subject holds at once; its oldest goes first, never someone else's. */
    public static final int MAX_PER_SUBJECT = 20;

    /** One signed-in browser: who, its CSRF token, and until when it may be used. */
    public static final class Session {
        final AdminPrincipal who;
        final String csrf;
        final Instant ends;
        volatile Instant lastUsed;

        Session(AdminPrincipal who, String csrf, Instant ends, Instant now) {
            this.who = who;
            this.csrf = csrf;
            this.ends = ends;
            this.lastUsed = now;
        }

        public AdminPrincipal who() { return who; }

        public String csrf() { return csrf; }

        public Instant ends() { return ends; }

        /** Whether {@code presented} is this session's CSRF token (compared in constant time). */
        public boolean csrfMatches(String presented) {
            return presented != null && MessageDigest.isEqual(presented.getBytes(StandardCharsets.UTF_8), csrf.getBytes(StandardCharsets.UTF_8));
        }
    }

    /** A new session: the id for the cookie (shown once, never stored) and the session. */
    public record Created(String id, Session session) {}

    private static final SecureRandom RANDOM = new SecureRandom();
    private final ConcurrentHashMap<String, Session> byHash = new ConcurrentHashMap<>();
    private final Clock clock;

    public Sessions(Clock clock) {
        this.clock = clock;
    }

    /** Signs {@code who} in: a new session, ending no later than the principal's credential. */
    public Created create(AdminPrincipal who) {
        Instant now = clock.instant();
        Instant ends = now.plus(LIFETIME);
        if (who.expires() != null && who.expires().isBefore(ends)) ends = who.expires();
        String id = random();
        Session s = new Session(who, random(), ends, now);
        dropOldestOf(who.subject());
        if (byHash.size() >= MAX_SESSIONS) evict(now);
        byHash.put(hash(id), s);
        return new Created(id, s);
    }

    /** The live session of a cookie's id, marked as used now; null when unknown or ended. */
    public Session find(String id) {
        if (id == null || id.isEmpty() || id.length() > 100) return null;
        String h = hash(id);
        Session s = byHash.get(h);
        if (s == null) return null;
        Instant now = clock.instant();
        if (!now.isBefore(s.ends) || !now.isBefore(s.lastUsed.plus(IDLE))) {
            byHash.remove(h, s);
            return null;
        }
        s.lastUsed = now;
        return s;
    }

    /** Signs a cookie's session out; true if there was one. */
    public boolean end(String id) {
        return id != null && id.length() <= 100 && byHash.remove(hash(id)) != null;
    }

    public int size() { return byHash.size(); }

    /** Ends every session of the person the identity provider calls {@code userName} (any case); how many ended. */
    public int endAllOf(String userName) {
        int[] n = {0};
        byHash.values().removeIf(s -> {
            boolean theirs = s.who().userName() != null && keyguard.identity.Names.same(s.who().userName(), userName);
            if (theirs) n[0]++;
            return theirs;
        });
        return n[0];
    }

    /** Makes room for one more session of {@code subject}: its least recently used go beyond the cap. */
    private void dropOldestOf(String subject) {
        java.util.List<java.util.Map.Entry<String, Session>> own = byHash.entrySet().stream()
                .filter(e -> e.getValue().who.subject().equals(subject)).sorted(java.util.Comparator.comparing(e -> e.getValue().lastUsed)).toList();
        for (int i = 0; i <= own.size() - MAX_PER_SUBJECT; i++) byHash.remove(own.get(i).getKey(), own.get(i).getValue());
    }

    /** Drops ended sessions; if none had ended, the one used least recently. */
    private void evict(Instant now) {
        byHash.entrySet().removeIf(e -> !now.isBefore(e.getValue().ends) || !now.isBefore(e.getValue().lastUsed.plus(IDLE)));
        while (byHash.size() >= MAX_SESSIONS) {
            byHash.entrySet().stream().min(java.util.Comparator.comparing(e -> e.getValue().lastUsed))
                    .ifPresent(e -> byHash.remove(e.getKey(), e.getValue()));
        }
    }

    /**
     * The {@code Set-Cookie} value carrying {@code id}: whole-listener path, never readable
     * by scripts, never sent on a request from another site, {@code Secure} when the
     * console is served over TLS; {@code Max-Age} the session's remaining lifetime.
     */
    public static String cookie(String id, long maxAgeSeconds, boolean secure) {
        return cookieName(secure) + "=" + id + "; Path=/; Max-Age=" + maxAgeSeconds + "; HttpOnly; SameSite=Strict" + (secure ? "; Secure" : "");
    }

    /** The session cookie's name: with the {@code __Host-} prefix over TLS (the browser then refuses it from any other origin). */
    public static String cookieName(boolean secure) {
        return secure ? "__Host-" + COOKIE : COOKIE;
    }

    /** The {@code Set-Cookie} value that removes the session cookie. */
    public static String expiredCookie(boolean secure) {
        return cookie("", 0, secure);
    }

    static String random() {
        byte[] b = new byte[32];
        RANDOM.nextBytes(b);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(b);
    }

    private static String hash(String id) {
        try {
            return Base64.getEncoder().encodeToString(MessageDigest.getInstance("SHA-256").digest(id.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
