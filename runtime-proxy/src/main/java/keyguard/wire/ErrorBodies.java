package keyguard.wire;

import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * Error bodies in the shape of the route family: OpenAI's
 * {@code {"error":{"message","type","param","code","keyguard"}}} and Anthropic's
 * {@code {"type":"error","error":{"type","message","keyguard"}}}.
 */
public final class ErrorBodies {
    private ErrorBodies() {}

    public static String render(ApiShape shape, GatewayError e) {
        ObjectNode root = RequestParser.JSON.createObjectNode();
        if (shape == ApiShape.ANTHROPIC) {
            root.put("type", "error");
            ObjectNode error = root.putObject("error");
            error.put("type", anthropicType(e));
            error.put("message", e.message());
            e.writeDetails(error);
        } else {
            ObjectNode error = root.putObject("error");
            error.put("message", e.message());
            error.put("type", e.type());
            if (e.param() != null) error.put("param", e.param());
            else error.putNull("param");
            error.put("code", e.code());
            e.writeDetails(error);
        }
        return root.toString();
    }

    static String anthropicType(GatewayError e) {
        return switch (e.status()) {
            case 400, 413 -> e.status() == 413 ? "request_too_large" : "invalid_request_error";
            case 401 -> "authentication_error";
            case 403 -> "permission_error";
            case 404 -> "not_found_error";
            case 429 -> "rate_limit_error";
            case 529, 503 -> "overloaded_error";
            default -> "api_error";
        };
    }
}
