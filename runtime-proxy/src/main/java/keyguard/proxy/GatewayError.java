package keyguard.proxy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * An error the gateway answers with, in the contract of DESIGN.md. {@code type} and
 * {@code code} are OpenAI's words; {@link ErrorBodies} maps them to Anthropic's on
 * {@code /v1/messages}. {@code details} become {@code error.keyguard}.
 */
public record GatewayError(int status, String type, String code, String message, String param, Map<String, Object> details,
                           Map<String, String> headers) {

    public static GatewayError of(int status, String type, String code, String message) {
        return new GatewayError(status, type, code, message, null, new LinkedHashMap<>(), new LinkedHashMap<>());
    }

    public GatewayError detail(String key, Object value) {
        if (value != null) details.put(key, value);
        return this;
    }

    /** Copies another error's details and headers into this one. */
    public GatewayError withDetails(GatewayError other) {
        details.putAll(other.details);
        headers.putAll(other.headers);
        return this;
    }

    public GatewayError header(String name, String value) {
        headers.put(name, value);
        return this;
    }

    public GatewayError param(String p) {
        return new GatewayError(status, type, code, message, p, details, headers);
    }

    public static GatewayError badRequest(BadRequest e) {
        return new GatewayError(e.status(), "invalid_request_error", e.status() == 413 ? "request_too_large" : "invalid_request",
                e.getMessage(), e.param(), new LinkedHashMap<>(), new LinkedHashMap<>());
    }

    public static GatewayError unauthorized(String message) {
        return of(401, "authentication_error", "invalid_api_key", message);
    }

    public static GatewayError notFound(String message) {
        return of(404, "invalid_request_error", "not_found", message);
    }

    public static GatewayError upstream(int status, String message) {
        return of(status, "api_error", "upstream_error", message);
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
}
