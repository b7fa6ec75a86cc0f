package keyguard.wire;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import keyguard.policy.EndUsers;

/**
 * The end user a request is made for, as a policy's {@code end_users { from [...] }} trusts
 * it: OpenAI's {@code user} (or {@code safety_identifier}), {@code metadata.user_id}
 * (Anthropic's, and an OpenAI metadata entry of that name), the {@code x-keyguard-user}
 * header — the first of the policy's sources the request carries. The id is the caller's
 * string: bounded, and never a counter's name, a metric label or log text (the gateway
 * counts it in a slot it names itself).
 */
public final class EndUser {
    public static final String HEADER = "x-keyguard-user";
    /** The longest end-user id taken. */
    public static final int MAX = 256;

    private EndUser() {}

    /** A malformed end-user id; the message names where it was. */
    public static final class Invalid extends Exception {
        public final String source;

        Invalid(String source) {
            super(source, null, false, false);
            this.source = source;
        }
    }

    /** The end user, or null when the request names none in a source the policy trusts. */
    public static String of(ObjectNode body, String header, List<EndUsers.Source> sources) throws Invalid {
        for (EndUsers.Source source : sources) {
            String id = switch (source) {
                case USER -> {
                    String u = text(body == null ? null : body.get("user"), "user");
                    yield u != null ? u : text(body == null ? null : body.get("safety_identifier"), "safety_identifier");
                }
                case METADATA -> text(body == null ? null : body.path("metadata").get("user_id"), "metadata.user_id");
                case HEADER -> header == null || header.isEmpty() ? null : checked(header, HEADER);
            };
            if (id != null) return id;
        }
        return null;
    }

    private static String text(JsonNode n, String where) throws Invalid {
        if (n == null || n.isNull()) return null;
        if (!n.isTextual()) throw new Invalid(where);
        return n.asText().isEmpty() ? null : checked(n.asText(), where);
    }

    private static String checked(String id, String where) throws Invalid {
        if (id.length() > MAX) throw new Invalid(where);
        for (int i = 0; i < id.length(); i++) {
            char c = id.charAt(i);
            if (Character.isISOControl(c) || Character.getType(c) == Character.FORMAT || c == 0x2028 || c == 0x2029) throw new Invalid(where);
        }
        return id;
    }
}
