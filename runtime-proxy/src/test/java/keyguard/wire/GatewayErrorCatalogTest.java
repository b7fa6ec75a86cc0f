package keyguard.wire;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The catalog of gateway errors is the only way to make one ({@link GatewayError} has no
 * public constructor), and docs/gateway-errors.md, generated from it, pins every error's
 * body in both API shapes. {@code -Dbless=true} rewrites the page after an intended change.
 */
class GatewayErrorCatalogTest {
    static Path page() {
        Path p = Path.of("").toAbsolutePath();
        while (!Files.isDirectory(p.resolve("docs"))) p = p.getParent();
        return p.resolve("docs/gateway-errors.md");
    }

    static String render() {
        StringBuilder sb = new StringBuilder("""
                # Gateway errors

                Every error the gateway answers with, generated from `keyguard.wire.ErrorCode` (the one
                place that lists them) and checked by `GatewayErrorCatalogTest`: a change to an error's
                status, type, code or message changes this page, or the build fails. The data plane
                answers in the shape of the route: OpenAI's on `/v1/chat/completions`, `/v1/embeddings`
                and `/v1/models`, Anthropic's on `/v1/messages` (its `type` follows from the status);
                the admin API answers in OpenAI's. `{name}` is filled per request. Requests refused by a
                decision also carry `error.keyguard` (rule, policy, revision, decision id, and for a
                throttle the limit, what is used and when it resets: [limits.md](limits.md)).

                | error | status | OpenAI `type` / `code` | Anthropic `type` | message |
                |---|---|---|---|---|
                """);
        for (ErrorCode c : ErrorCode.values()) {
            GatewayError e = example(c);
            sb.append("| `").append(c.name()).append("` | ").append(c.status).append(" | `").append(c.type).append("` / `")
                    .append(c.code).append("` | `").append(ErrorBodies.anthropicType(e)).append("` | ")
                    .append(c.template.replace("|", "\\\\|")).append(" |\n");
        }
        sb.append("\n## Bodies\n");
        for (ErrorCode c : ErrorCode.values()) {
            GatewayError e = example(c);
            sb.append("\n### ").append(c.name()).append("\n\n```json\n").append(ErrorBodies.render(ApiShape.OPENAI, e)).append('\n')
                    .append(ErrorBodies.render(ApiShape.ANTHROPIC, e)).append("\n```\n");
        }
        return sb.toString();
    }

    /** The error with each placeholder filled by its own name in angle brackets. */
    static GatewayError example(ErrorCode c) {
        return c.error(c.placeholders().stream().map(p -> (Object) ("<" + p + ">")).toArray());
    }

    @Test
    void theErrorsPageIsTheCatalogRendered() throws IOException {
        String expected = render();
        if (Boolean.getBoolean("bless")) Files.writeString(page(), expected);
        assertTrue(Files.exists(page()), page() + " does not exist; run with -Dbless=true to create it");
        assertEquals(expected, Files.readString(page()), page() + " (re-bless with -Dbless=true if intended)");
    }

    @Test
    void everyErrorHasAClientErrorOrServerErrorStatusAndCodesAgreeOnTheirType() {
        Set<String> seen = new HashSet<>();
        for (ErrorCode c : ErrorCode.values()) {
            assertTrue(c.status >= 400 && c.status <= 599, c + " " + c.status);
            assertTrue(c.code.matches("[a-z_]+") && c.type.matches("[a-z_]+"), c.toString());
            for (String p : c.placeholders()) assertTrue(p.matches("[a-z_]+"), c + " placeholder " + p);
            // one code, one type: a client can switch on the code alone
            for (ErrorCode o : ErrorCode.values()) {
                if (o.code.equals(c.code)) assertEquals(c.type, o.type, c + " and " + o + " share a code but not its type");
            }
            seen.add(c.code);
        }
        assertTrue(seen.size() > 20);
    }

    @Test
    void aTemplateIsFilledInOrderAndTheWrongNumberOfValuesIsABug() {
        GatewayError e = ErrorCode.MAX_TOKENS_EXCEEDS_LIMIT.error("max_tokens", 500, "strict", 100);
        assertEquals("`max_tokens` is 500; the policy `strict` allows at most 100", e.message());
        assertEquals(List.of("field", "asked", "policy", "limit"), ErrorCode.MAX_TOKENS_EXCEEDS_LIMIT.placeholders());
        assertThrows(IllegalArgumentException.class, () -> ErrorCode.MAX_TOKENS_EXCEEDS_LIMIT.error("max_tokens"));
        assertThrows(IllegalArgumentException.class, () -> ErrorCode.INVALID_API_KEY.error("extra"));
        assertEquals("a $1 \\ b", ErrorCode.INVALID_REQUEST.error("a $1 \\ b").message(), "values are literal text");
    }

    @Test
    void aGatewayErrorIsImmutable() {
        GatewayError base = ErrorCode.OVERLOADED.error(64);
        GatewayError more = base.detail("decision_id", "dec_1").header("retry-after", "1").param("model");
        assertTrue(base.details().isEmpty() && base.headers().isEmpty() && base.param() == null, "the original is unchanged");
        assertEquals("dec_1", more.details().get("decision_id"));
        assertThrows(UnsupportedOperationException.class, () -> more.details().put("x", "y"));
        assertThrows(UnsupportedOperationException.class, () -> more.headers().put("x", "y"));
        assertEquals(429, ErrorCode.UPSTREAM_REJECTED.error("up", 429).withStatus(429).status());
    }
}
