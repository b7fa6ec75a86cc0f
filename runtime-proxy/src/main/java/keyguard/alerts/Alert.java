package keyguard.alerts;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.HexFormat;
import keyguard.counters.Crossing;
import keyguard.policy.Money;

/**
 * One alert as it is sent and kept: what crossed which threshold, where it goes. Its
 * {@code id} is the same for the same threshold, period and counter wherever it is computed,
 * so a receiver can drop a repeat (a retry whose first answer was lost).
 *
 * @param kind {@code budget} (a threshold of a budget's amount), {@code limit} (refusals in an hour) or {@code test}
 * @param percent the threshold reached, 0 unless a budget's
 * @param refusals the refusals in the hour, 0 unless a limit's
 */
public record Alert(String id, String kind, String channel, String limit, String origin, int percent, long refusals, long used,
                    long amount, long periodStart, long periodEnd, String keyId, String policy, String team, String org, long at) {

    static final ObjectMapper JSON = new ObjectMapper();

    static Alert of(Crossing c) {
        boolean budget = c.percent() > 0;
        String id = hash(c.counter() + "|" + c.periodStart() + "|" + (budget ? c.percent() + "%" : "after " + c.spec().after()) + "|"
                + c.spec().channel() + "|" + c.origin());
        // A key's own counter names its key; a shared one (policy, team, unit) is not about the key whose request crossed it.
        keyguard.policy.Scope scope = c.spec().counter().scope();
        boolean keys = scope == keyguard.policy.Scope.KEY || scope == keyguard.policy.Scope.USER;
        return new Alert(id, budget ? "budget" : "limit", c.spec().channel(), c.spec().limitId(), c.origin(), c.percent(), c.refusals(),
                c.used(), c.amount(), c.periodStart(), c.periodEnd(), keys ? c.keyId() : null, c.policy(), c.team(), c.org(), c.at());
    }

    /** A test message for {@code keyguard alerts test CHANNEL}: nothing crossed anything. */
    static Alert test(String channel, long now) {
        return new Alert(hash("test|" + channel + "|" + now + "|" + System.nanoTime()), "test", channel, "", "", 0, 0, 0, 0, now, now,
                null, null, null, null, now);
    }

    private static String hash(String s) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)), 0, 12);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** What it is about, in a line: the subject of an e-mail, the start of a Slack message. */
    public String subject() {
        return switch (kind) {
            case "budget" -> limit + " of " + origin + " reached " + percent + "%";
            case "limit" -> limit + " of " + origin + " refused " + refusals + " requests this hour";
            default -> "a test of channel " + channel;
        };
    }

    /** The whole message as text. */
    public String text() {
        StringBuilder sb = new StringBuilder("Keyguard: ").append(subject());
        if (kind.equals("budget")) {
            sb.append(": ").append(Money.format(used)).append(" of ").append(Money.format(amount)).append(" usd spent in the period from ")
                    .append(Instant.ofEpochMilli(periodStart)).append(" to ").append(Instant.ofEpochMilli(periodEnd)).append('.');
        } else if (kind.equals("limit")) {
            sb.append(" (the hour from ").append(Instant.ofEpochMilli(periodStart)).append(").");
        } else {
            sb.append(". If you read this, alerts reach you.");
        }
        if (policy != null) sb.append(" Policy ").append(policy);
        if (team != null) sb.append(", team ").append(team);
        if (org != null) sb.append(", org unit ").append(org);
        if (keyId != null) sb.append(", key ").append(keyId);
        if (policy != null) sb.append('.');
        return sb.append(" Alert ").append(id).append('.').toString();
    }

    /** The JSON a webhook receives and the outbox keeps. */
    public ObjectNode json() {
        ObjectNode o = JSON.createObjectNode().put("type", "keyguard.alert").put("id", id).put("kind", kind).put("channel", channel);
        if (!kind.equals("test")) {
            o.put("limit", limit).put("origin", origin);
            if (kind.equals("budget")) {
                o.put("threshold_percent", percent).put("used_micros", used).put("amount_micros", amount)
                        .put("used_usd", Money.format(used)).put("amount_usd", Money.format(amount));
            } else {
                o.put("refusals", refusals);
            }
            o.put("period_start", Instant.ofEpochMilli(periodStart).toString()).put("period_end", Instant.ofEpochMilli(periodEnd).toString());
            o.put("policy", policy);
            if (team != null) o.put("team", team);
            if (org != null) o.put("org", org);
            if (keyId != null) o.put("key_id", keyId);
        }
        return o.put("time", Instant.ofEpochMilli(at).toString()).put("text", text());
    }

    static Alert parse(JsonNode o) {
        return new Alert(o.path("id").asText(), o.path("kind").asText(), o.path("channel").asText(), o.path("limit").asText(""),
                o.path("origin").asText(""), o.path("threshold_percent").asInt(0), o.path("refusals").asLong(0), o.path("used_micros").asLong(0),
                o.path("amount_micros").asLong(0), millis(o.path("period_start").asText(null)), millis(o.path("period_end").asText(null)),
                o.path("key_id").asText(null), o.path("policy").asText(null), o.path("team").asText(null), o.path("org").asText(null),
                millis(o.path("time").asText(null)));
    }

    private static long millis(String instant) {
        return instant == null ? 0 : Instant.parse(instant).toEpochMilli();
    }
}
