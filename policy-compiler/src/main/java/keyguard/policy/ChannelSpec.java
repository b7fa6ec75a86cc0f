package keyguard.policy;

import java.util.List;
import java.util.Locale;
import keyguard.lang.source.Span;

/**
 * {@code channel NAME { kind webhook|slack|smtp ... }}: where alerts go, declared by the
 * operator. Secrets are named, never written: {@code secretEnv}, {@code urlEnv},
 * {@code usernameEnv} and {@code passwordEnv} are environment variables of the gateway
 * ({@code KEYGUARD_CHANNEL_*}), read when an alert is sent.
 *
 * @param url where a webhook or Slack message is posted (null when {@code urlEnv} names it)
 * @param urlEnv the variable holding the URL (a Slack incoming webhook's URL is itself a secret), or null
 * @param secretEnv a webhook's HMAC-SHA-256 signing secret, or null
 * @param server an e-mail channel's {@code smtp://host:port} (STARTTLS) or {@code smtps://host:port} (TLS from the start)
 * @param tlsOptional {@code tls optional}: an {@code smtp://} server that offers no STARTTLS is sent to in plain text
 *     (by default it is refused: an alert names policies, teams and spend)
 */
public record ChannelSpec(String name, Kind kind, String url, String urlEnv, String secretEnv, String server, String from,
                          List<String> to, String usernameEnv, String passwordEnv, boolean tlsOptional, Span span) {
    public enum Kind {
        WEBHOOK, SLACK, SMTP;

        public String word() { return name().toLowerCase(Locale.ROOT); }

        public static Kind parse(String word) {
            for (Kind k : values()) if (k.word().equals(word)) return k;
            return null;
        }
    }

    /** The prefix every channel secret's variable has. */
    public static final String ENV_PREFIX = "KEYGUARD_CHANNEL_";

    public ChannelSpec {
        to = to == null ? List.of() : List.copyOf(to);
    }
}
