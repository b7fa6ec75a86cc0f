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
        if (k.rotation() != null) {
            o.putObject("rotation").put("rotated_at", k.rotation().rotatedAt().toString())
                    .put("previous_valid_until", k.rotation().previousValidUntil().toString());
        }
        return o;
    }

    /** The stored form: the view plus the secret hashes and the rotation's request id. */
    static String stored(KeyRecord k) {
        ObjectNode o = view(k).put("secret_hash", k.secretHash());
        if (k.rotation() != null) {
            ((ObjectNode) o.get("rotation")).put("previous_hash", k.rotation().previousHash())
                    .put("request_id", k.rotation().requestId());
        }
        return o.toString();
    }

    static KeyRecord parse(String json) {
        try {
            JsonNode o = JSON.readTree(json);
            Map<String, String> labels = new LinkedHashMap<>();
            o.path("labels").properties().forEach(e -> labels.put(e.getKey(), e.getValue().asText()));
            return new KeyRecord(o.get("id").asText(), o.get("name").asText(), o.path("owner").asText(""), o.get("policy").asText(),
                    Map.copyOf(labels), Instant.parse(o.get("created_at").asText()),
                    o.hasNonNull("expires_at") ? Instant.parse(o.get("expires_at").asText()) : null,
                    KeyState.valueOf(o.get("state").asText().toUpperCase(Locale.ROOT)), o.get("secret_hash").asText(),
                    o.hasNonNull("rotation") ? new KeyRecord.Rotation(o.get("rotation").get("previous_hash").asText(),
                            Instant.parse(o.get("rotation").get("previous_valid_until").asText()),
                            o.get("rotation").path("request_id").asText(""), Instant.parse(o.get("rotation").get("rotated_at").asText())) : null);
        } catch (IOException e) {
            throw new UncheckedIOException("corrupt key record: " + e.getMessage(), e);
        }
    }
}
