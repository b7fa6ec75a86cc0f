package keyguard.keys;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * The one JSON form of a key record: what the admin API shows, and, with the secret hash
 * added, what the key store keeps.
 */
public final class KeyRecordJson {
    private static final ObjectMapper JSON = new ObjectMapper();

    private KeyRecordJson() {}

    /** The public view: never the secret, never the hash. */
    public static ObjectNode view(KeyRecord k) {
        ObjectNode o = JSON.createObjectNode();
        o.put("id", k.id());
        o.put("name", k.name());
        o.put("owner", k.owner());
        o.put("policy", k.policy());
        ObjectNode labels = o.putObject("labels");
        k.labels().forEach(labels::put);
        o.put("created_at", k.createdAt().toString());
        if (k.expiresAt() != null) o.put("expires_at", k.expiresAt().toString());
        else o.putNull("expires_at");
        o.put("state", k.state().name().toLowerCase(Locale.ROOT));
        return o;
    }

    /** The stored form: the view plus the secret hash. */
    static String stored(KeyRecord k) {
        return view(k).put("secret_hash", k.secretHash()).toString();
    }

    static KeyRecord parse(String json) {
        try {
            JsonNode o = JSON.readTree(json);
            Map<String, String> labels = new LinkedHashMap<>();
            o.path("labels").properties().forEach(e -> labels.put(e.getKey(), e.getValue().asText()));
            return new KeyRecord(o.get("id").asText(), o.get("name").asText(), o.path("owner").asText(""), o.get("policy").asText(),
                    Map.copyOf(labels), Instant.parse(o.get("created_at").asText()),
                    o.hasNonNull("expires_at") ? Instant.parse(o.get("expires_at").asText()) : null,
                    KeyState.valueOf(o.get("state").asText().toUpperCase(Locale.ROOT)), o.get("secret_hash").asText());
        } catch (IOException e) {
            throw new UncheckedIOException("corrupt key record: " + e.getMessage(), e);
        }
    }
}
