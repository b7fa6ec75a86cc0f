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
        if (!k.team().isEmpty()) o.put("team", k.team());
        if (k.delegated() != null) {
            ObjectNode d = o.putObject("delegated").put("parent", k.delegated().parent()).put("root", k.delegated().root())
                    .put("depth", k.delegated().depth());
            var models = d.putArray("models");
            k.delegated().models().forEach(models::add);
            KeyRecord.CarveOut c = k.carveOut();
            if (c != null) {
                ObjectNode co = d.putObject("carve_out").put("holder", c.holder()).put("micros", c.micros())
                        .put("usd", keyguard.policy.Money.format(c.micros())).put("reserved_at", c.reservedAt().toString())
                        .put("ends", c.ends().toString()).put("until", c.until().toString());
                c.budgets().forEach(co.putArray("budgets")::add);
            }
        }
        ObjectNode labels = o.putObject("labels");
        k.labels().forEach(labels::put);
        o.put("created_at", k.createdAt().toString());
        if (k.expiresAt() != null) o.put("expires_at", k.expiresAt().toString());
        else o.putNull("expires_at");
        o.put("state", k.state().name().toLowerCase(Locale.ROOT));
        o.put("labels_set_by", k.labelsByAdmin() ? "admin" : "team");
        if (k.rotation() != null) {
            ObjectNode r = o.putObject("rotation").put("rotated_at", k.rotation().rotatedAt().toString());
            var previous = k.rotation().previous();
            if (!previous.isEmpty()) r.put("previous_valid_until", previous.getLast().validUntil().toString());
            r.put("previous_secrets", previous.size());
        }
        return o;
    }

    /** The stored form: the view plus the secret hashes and the rotations' request ids. */
    public static String stored(KeyRecord k) {
        ObjectNode o = view(k).put("secret_hash", k.secretHash());
        if (k.rotation() != null) {
            ObjectNode r = (ObjectNode) o.get("rotation");
            r.put("request_id", k.rotation().requestId()).put("generation", k.rotation().generation());
            var prev = r.putArray("previous");
            for (KeyRecord.PreviousSecret p : k.rotation().previous()) {
                prev.addObject().put("hash", p.hash()).put("replaced_at", p.replacedAt().toString()).put("valid_until", p.validUntil().toString());
            }
            var earlier = r.putArray("earlier_requests");
            k.rotation().earlierRequests().forEach(earlier::add);
        }
        return o.toString();
    }

    public static KeyRecord parse(String json) {
        try {
            JsonNode o = JSON.readTree(json);
            Map<String, String> labels = new LinkedHashMap<>();
            o.path("labels").properties().forEach(e -> labels.put(e.getKey(), e.getValue().asText()));
            return new KeyRecord(o.get("id").asText(), o.get("name").asText(), o.path("owner").asText(""), o.get("policy").asText(),
                    Map.copyOf(labels), Instant.parse(o.get("created_at").asText()),
                    o.hasNonNull("expires_at") ? Instant.parse(o.get("expires_at").asText()) : null,
                    KeyState.valueOf(o.get("state").asText().toUpperCase(Locale.ROOT)), o.get("secret_hash").asText(),
                    o.hasNonNull("rotation") ? rotation(o.get("rotation")) : null,
                    !o.path("labels_set_by").asText("admin").equals("team"), // records of 0.1 predate the field
                    o.path("team").asText(""), delegated(o.get("delegated")));
        } catch (IOException e) {
            throw new UncheckedIOException("corrupt key record: " + e.getMessage(), e);
        }
    }

    private static KeyRecord.Delegated delegated(JsonNode d) {
        if (d == null || !d.isObject()) return null;
        java.util.List<String> models = new java.util.ArrayList<>();
        d.path("models").forEach(m -> models.add(m.asText()));
        JsonNode c = d.get("carve_out");
        java.util.List<String> budgets = new java.util.ArrayList<>();
        if (c != null) c.path("budgets").forEach(x -> budgets.add(x.asText()));
        KeyRecord.CarveOut carve = c == null || !c.isObject() ? null
                : new KeyRecord.CarveOut(c.path("holder").asText(), c.path("micros").asLong(), Instant.parse(c.path("reserved_at").asText()),
                        Instant.parse(c.path("ends").asText()), Instant.parse(c.path("until").asText()), budgets);
        return new KeyRecord.Delegated(d.path("parent").asText(), d.path("root").asText(), d.path("depth").asInt(), models, carve);
    }

    /** Reads a rotation, also in the form of version 0.1 (one previous secret, no generation). */
    private static KeyRecord.Rotation rotation(JsonNode r) {
        java.util.List<KeyRecord.PreviousSecret> previous = new java.util.ArrayList<>();
        if (r.has("previous")) {
            for (JsonNode p : r.get("previous")) {
                previous.add(new KeyRecord.PreviousSecret(p.get("hash").asText(), Instant.parse(p.get("replaced_at").asText()),
                        Instant.parse(p.get("valid_until").asText())));
            }
        } else if (r.hasNonNull("previous_hash")) {
            previous.add(new KeyRecord.PreviousSecret(r.get("previous_hash").asText(), Instant.parse(r.get("rotated_at").asText()),
                    Instant.parse(r.get("previous_valid_until").asText())));
        }
        java.util.List<String> earlier = new java.util.ArrayList<>();
        r.path("earlier_requests").forEach(e -> earlier.add(e.asText()));
        return new KeyRecord.Rotation(previous, r.path("request_id").asText(""), Instant.parse(r.get("rotated_at").asText()),
                r.path("generation").asLong(0), earlier);
    }
}
