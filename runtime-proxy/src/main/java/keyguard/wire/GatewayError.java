package keyguard.wire;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * An error the gateway answers with: an {@link ErrorCode} of the catalog with its message
 * filled in, the request field it is about ({@code param}), {@code details} (rendered as
 * {@code error.keyguard}, in insertion order) and response headers. Immutable: every
 * {@code with…}, {@link #detail} and {@link #header} returns a new error.
 */
public final class GatewayError {
    private final ErrorCode code;
    private final int status;
    private final String message;
    private final String param;
    private final Map<String, Object> details;
    private final Map<String, String> headers;

    private GatewayError(ErrorCode code, int status, String message, String param, Map<String, Object> details, Map<String, String> headers) {
        this.code = code;
        this.status = status;
        this.message = message;
        this.param = param;
        this.details = details;
        this.headers = headers;
    }

    static GatewayError of(ErrorCode code, String message) {
        return new GatewayError(code, code.status, message, null, Map.of(), Map.of());
    }

    /** A caller's malformed request: {@code invalid_request}, 400 unless the {@link BadRequest} says otherwise. */
    public static GatewayError badRequest(BadRequest e) {
        GatewayError g = ErrorCode.INVALID_REQUEST.error(e.getMessage()).param(e.param());
        return e.status() == 400 ? g : g.withStatus(e.status());
    }

    public int status() { return status; }
    public String type() { return code.type; }
    public String code() { return code.code; }
    public String message() { return message; }
    public String param() { return param; }
    public Map<String, Object> details() { return details; }
    public Map<String, String> headers() { return headers; }

    public GatewayError detail(String key, Object value) {
        if (value == null) return this;
        Map<String, Object> d = new LinkedHashMap<>(details);
        d.put(key, value);
        return new GatewayError(code, status, message, param, Collections.unmodifiableMap(d), headers);
    }

    public GatewayError header(String name, String value) {
        Map<String, String> h = new LinkedHashMap<>(headers);
        h.put(name, value);
        return new GatewayError(code, status, message, param, details, Collections.unmodifiableMap(h));
    }

    public GatewayError param(String p) {
        return new GatewayError(code, status, message, p, details, headers);
    }

    /** The same error with another message (a refusal that adds what was found). */
    public GatewayError withMessage(String m) {
        return new GatewayError(code, status, m, param, details, headers);
    }

    /** The same error with the upstream's own status ({@link ErrorCode#UPSTREAM_REJECTED}). */
    public GatewayError withStatus(int s) {
        return new GatewayError(code, s, message, param, details, headers);
    }

    /** Adds the details as an object to a JSON error node. */
    void writeDetails(ObjectNode error) {
        if (details.isEmpty()) return;
        ObjectNode kg = error.putObject("keyguard");
        details.forEach((k, v) -> {
            if (v instanceof Number n) kg.put(k, n.longValue());
            else kg.put(k, String.valueOf(v));
        });
    }

    @Override
    public String toString() {
        return status + " " + code.code + ": " + message;
    }
}
