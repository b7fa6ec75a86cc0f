package keyguard.admin;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.undertow.server.HttpServerExchange;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What every admin handler reads a request with: the JSON body (at most 1 MiB, an object),
 * bounded string fields without control characters, query parameters, and the 403 of a
 * caller who may not. Failures are {@link BadAdminRequest}s with messages safe to show.
 */
final class AdminRequests {
    /** The longest name, owner or other short string field, unless a field says otherwise. */
    static final int MAX_NAME = 128;
    private static final ObjectMapper JSON = new ObjectMapper();

    private AdminRequests() {}

    static void require(boolean allowed, AdminPrincipal who, String what) throws BadAdminRequest {
        if (!allowed) throw new BadAdminRequest(403, "`" + who.subject() + "` may not " + what);
    }

    static Map<String, String> query(HttpServerExchange exchange) {
        Map<String, String> q = new LinkedHashMap<>();
        exchange.getQueryParameters().forEach((k, v) -> q.put(k, v.getFirst()));
        return q;
    }

    static int parseInt(String v, String name) throws BadAdminRequest {
        try {
            int n = Integer.parseInt(v);
            if (n <= 0) throw new NumberFormatException();
            return n;
        } catch (NumberFormatException e) {
            throw new BadAdminRequest(400, "`" + name + "` must be a positive integer");
        }
    }

    static JsonNode body(HttpServerExchange exchange) throws BadAdminRequest {
        exchange.startBlocking();
        byte[] bytes;
        try {
            bytes = exchange.getInputStream().readNBytes(1 << 20);
        } catch (IOException e) {
            throw new BadAdminRequest(400, "the request body could not be read");
        }
        if (bytes.length == 0) return JSON.createObjectNode();
        JsonNode body;
        try {
            body = JSON.readTree(bytes);
        } catch (IOException e) {
            throw new BadAdminRequest(400, "request body is not valid JSON");
        }
        if (body == null || !body.isObject()) throw new BadAdminRequest(400, "request body must be a JSON object");
        return body;
    }

    static String text(JsonNode body, String field, boolean required) throws BadAdminRequest {
        return text(body, field, required, MAX_NAME);
    }

    /** A string field of at most {@code max} characters without control characters. */
    static String text(JsonNode body, String field, boolean required, int max) throws BadAdminRequest {
        String v = text0(body, field, required);
        if (v.length() > max || keyguard.audit.UntrustedText.hasControl(v)) {
            throw new BadAdminRequest(400, "`" + field + "` must be at most " + max + " characters without control characters");
        }
        return v;
    }

    static String text0(JsonNode body, String field, boolean required) throws BadAdminRequest {
        JsonNode v = body.get(field);
        if (v == null || v.isNull()) {
            if (required) throw new BadAdminRequest(400, "`" + field + "` is required");
            return "";
        }
        if (!v.isTextual() || (required && v.asText().isBlank())) throw new BadAdminRequest(400, "`" + field + "` must be a non-empty string");
        return v.asText();
    }
}
