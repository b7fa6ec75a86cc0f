package keyguard.wire;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Set;
import keyguard.policy.PricedParams;
import keyguard.proxy.Reservation;
import keyguard.tokens.MediaTokens;
import keyguard.tokens.TokenCounter;
import org.junit.jupiter.api.Test;

/**
 * The prompt estimate covers the whole prompt, kind by kind, checked against the numbers
 * the providers publish for known cases.
 */
class PromptEstimateTest {
    static ParsedRequest chat(String json) throws BadRequest {
        return RequestParser.parse(Endpoint.CHAT_COMPLETIONS, json.getBytes(StandardCharsets.UTF_8));
    }

    static ParsedRequest messages(String json) throws BadRequest {
        return RequestParser.parse(Endpoint.MESSAGES, json.getBytes(StandardCharsets.UTF_8));
    }

    static long estimate(ParsedRequest r) {
        return TokenCounter.CL100K.countPrompt(r.texts()) + r.billables().mediaTokens();
    }

    @Test
    void openAiImageTokensFollowTheTileRuleOfItsPublishedExamples() {
        assertEquals(85, MediaTokens.openAiImage("low", 4096, 8192), "detail low: 85 whatever the size");
        assertEquals(765, MediaTokens.openAiImage("high", 1024, 1024), "1024x1024: 4 tiles");
        assertEquals(1105, MediaTokens.openAiImage("high", 2048, 4096), "2048x4096: scaled to 768x1536, 6 tiles");
        assertEquals(MediaTokens.OPENAI_IMAGE_MAX, MediaTokens.openAiImage("auto", -1, -1), "an image by URL: the largest the rule gives");
    }

    @Test
    void anthropicImageTokensFollowTheAreaRuleOfItsPublishedTable() {
        assertEquals(54, MediaTokens.anthropicImage(200, 200));
        assertEquals(1590, MediaTokens.anthropicImage(1092, 1092));
        assertTrue(MediaTokens.anthropicImage(4000, 3000) <= MediaTokens.ANTHROPIC_IMAGE_MAX);
    }

    @Test
    void imageSizesAreReadFromPngJpegGifAndWebpHeaders() {
        String b64 = Base64.getEncoder().encodeToString(keyguard.testing.Png.of(640, 480));
        assertArrayEquals(new int[] {640, 480}, MediaTokens.dimensions("data:image/png;base64," + b64));
        byte[] gif = {'G', 'I', 'F', '8', '9', 'a', (byte) 0x20, 0x03, (byte) 0x58, 0x02};
        assertArrayEquals(new int[] {800, 600}, MediaTokens.dimensions(Base64.getEncoder().encodeToString(gif)));
        byte[] jpeg = {(byte) 0xFF, (byte) 0xD8, (byte) 0xFF, (byte) 0xE0, 0, 4, 0, 0, (byte) 0xFF, (byte) 0xC0, 0, 11, 8,
                0x02, 0x58, 0x03, 0x20, 3, 0, 0, 0, 0, 0};
        assertArrayEquals(new int[] {800, 600}, MediaTokens.dimensions(Base64.getEncoder().encodeToString(jpeg)));
        byte[] webp = new byte[30];
        System.arraycopy("RIFF\0\0\0\0WEBPVP8X".getBytes(StandardCharsets.ISO_8859_1), 0, webp, 0, 16);
        webp[24] = (byte) 0x1F; webp[25] = 0x03; // 800 - 1
        webp[27] = 0x57; webp[28] = 0x02;        // 600 - 1
        assertArrayEquals(new int[] {800, 600}, MediaTokens.dimensions(Base64.getEncoder().encodeToString(webp)));
    }

    @Test
    void imagesInAChatRequestAreCountedByTheirSize() throws BadRequest {
        String url = "data:image/png;base64," + Base64.getEncoder().encodeToString(keyguard.testing.Png.of(1024, 1024));
        ParsedRequest r = chat("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"what?\"},"
                + "{\"type\":\"image_url\",\"image_url\":{\"url\":\"" + url + "\",\"detail\":\"high\"}},"
                + "{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://example.com/cat.jpg\"}}]}]}");
        assertEquals(765 + MediaTokens.OPENAI_IMAGE_MAX, r.billables().mediaTokens());
        assertEquals(2, r.billables().images());
    }

    @Test
    void pdfDocumentsAreCountedByPageAndUncountablePagesByTheBound() throws BadRequest {
        String pdf = "%PDF-1.4\n1 0 obj << /Type /Pages /Count 3 >> endobj\n2 0 obj << /Type /Page >> endobj\n"
                + "3 0 obj << /Type/Page >> endobj\n4 0 obj << /Type /Page /Parent 1 0 R >> endobj\n%%EOF";
        String data = Base64.getEncoder().encodeToString(pdf.getBytes(StandardCharsets.ISO_8859_1));
        ParsedRequest r = messages("{\"model\":\"m\",\"max_tokens\":10,\"messages\":[{\"role\":\"user\",\"content\":["
                + "{\"type\":\"document\",\"source\":{\"type\":\"base64\",\"media_type\":\"application/pdf\",\"data\":\"" + data + "\"}},"
                + "{\"type\":\"document\",\"source\":{\"type\":\"url\",\"url\":\"https://example.com/a.pdf\"}},"
                + "{\"type\":\"document\",\"source\":{\"type\":\"text\",\"media_type\":\"text/plain\",\"data\":\"the contract text\"}}]}]}");
        assertEquals((3 + MediaTokens.PDF_MAX_PAGES) * MediaTokens.PDF_PAGE_TOKENS, r.billables().mediaTokens());
        assertTrue(r.texts().get(0).contains("the contract text"), "a text document is counted as text");
    }

    @Test
    void aPdfWhosePagesCannotAllBeSeenIsTakenAtItsLargestCountOrTheBound() throws BadRequest {
        String counted = "%PDF-1.7\n1 0 obj << /Type /Pages /Count 7 >> endobj\n2 0 obj << /Type /Page >> endobj\n%%EOF";
        String hidden = "%PDF-1.7\n1 0 obj << /Type /Page >> endobj\n2 0 obj << /Type /ObjStm /N 99 >> stream ... endstream\n%%EOF";
        assertEquals(7 * MediaTokens.PDF_PAGE_TOKENS, MediaTokens.pdf(Base64.getEncoder().encodeToString(counted.getBytes(StandardCharsets.ISO_8859_1))));
        assertEquals(MediaTokens.PDF_MAX_PAGES * MediaTokens.PDF_PAGE_TOKENS,
                MediaTokens.pdf(Base64.getEncoder().encodeToString(hidden.getBytes(StandardCharsets.ISO_8859_1))),
                "pages inside compressed object streams cannot be counted: the bound");
    }

    @Test
    void bothOutputCapFieldsAreReservedAtTheLargerAndBothAreSentAsTheCap() throws BadRequest {
        ParsedRequest r = chat("{\"model\":\"m\",\"max_completion_tokens\":100,\"max_tokens\":100000,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
        assertEquals(100_000, r.maxTokens(), "an upstream may read either field: the larger is reserved");
        ParsedRequest out = Reservation.outbound(r, 4_096, "max_completion_tokens");
        assertEquals(4_096, out.body().path("max_tokens").asLong());
        assertEquals(4_096, out.body().path("max_completion_tokens").asLong());
        assertEquals(100_000, r.body().path("max_tokens").asLong(), "the caller's body is not changed");
        ParsedRequest none = chat("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
        assertEquals(1_024, Reservation.outbound(none, 1_024, "max_tokens").body().path("max_tokens").asLong(),
                "an upstream whose `output_cap` is `max_tokens` gets the cap there");
        ParsedRequest thinking = messages("{\"model\":\"m\",\"max_tokens\":20000,\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":16000},"
                + "\"messages\":[{\"role\":\"user\",\"content\":\"think\"}]}");
        ParsedRequest clamped = Reservation.outbound(thinking, 8_000, "max_completion_tokens");
        assertEquals(8_000, clamped.body().path("max_tokens").asLong());
        assertEquals(7_999, clamped.body().path("thinking").path("budget_tokens").asLong(), "a thinking budget stays under a clamped cap");
    }

    @Test
    void toolDefinitionsCallsAndResultsAreInThePrompt() throws BadRequest {
        String tool = "{\"type\":\"function\",\"function\":{\"name\":\"lookup\",\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}}}";
        ParsedRequest bare = chat("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"weather?\"}]}");
        ParsedRequest tools = chat("{\"model\":\"m\",\"tools\":[" + tool + "],\"messages\":[{\"role\":\"user\",\"content\":\"weather?\"},"
                + "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"c1\",\"type\":\"function\",\"function\":{\"name\":\"lookup\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}}]},"
                + "{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"18 degrees and sunny\"}]}");
        long added = estimate(tools) - estimate(bare);
        long expected = 3 + TokenCounter.CL100K.count(tool)                                   // the definition
                + 3 + TokenCounter.CL100K.count("\nlookup {\"city\":\"Paris\"}")              // the call
                + 3 + TokenCounter.CL100K.count("18 degrees and sunny");                       // the result
        assertEquals(expected, added);
    }

    @Test
    void anthropicToolsResultsAndCachedSystemBlocksAreInThePrompt() throws BadRequest {
        ParsedRequest r = messages("{\"model\":\"m\",\"max_tokens\":10,"
                + "\"system\":[{\"type\":\"text\",\"text\":\"You are terse.\",\"cache_control\":{\"type\":\"ephemeral\"}}],"
                + "\"tools\":[{\"name\":\"get_stock\",\"input_schema\":{\"type\":\"object\"}},{\"type\":\"bash_20250124\",\"name\":\"bash\"}],"
                + "\"messages\":[{\"role\":\"user\",\"content\":\"price?\"},"
                + "{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":\"t1\",\"name\":\"get_stock\",\"input\":{\"ticker\":\"KG\"}}]},"
                + "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"t1\",\"content\":[{\"type\":\"text\",\"text\":\"42 usd\"}]}]}]}");
        assertTrue(r.billables().cacheMarked(), "cache_control on the system prompt: cache writes may be billed");
        assertEquals("You are terse.", r.texts().get(0));
        assertTrue(r.texts().contains("get_stock {\"ticker\":\"KG\"}"), r.texts().toString());
        assertTrue(r.texts().contains("42 usd"), r.texts().toString());
        assertTrue(r.texts().stream().anyMatch(t -> t.contains("input_schema")), "the tool definition");
        assertEquals(RequestParser.ANTHROPIC_TOOL_SYSTEM_TOKENS + RequestParser.ANTHROPIC_CLIENT_TOOL_TOKENS, r.billables().mediaTokens());
        assertFalse(r.billables().params().contains(PricedParams.SERVER_TOOLS), "bash is a client tool");
    }

    @Test
    void priceChangingParametersAreFound() throws BadRequest {
        ParsedRequest openAi = chat("{\"model\":\"m\",\"n\":3,\"store\":true,\"service_tier\":\"priority\",\"web_search_options\":{},"
                + "\"modalities\":[\"text\",\"audio\"],\"prediction\":{\"type\":\"content\",\"content\":\"x\"},"
                + "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
        assertEquals(Set.of(PricedParams.STORE, PricedParams.SERVICE_TIER, PricedParams.WEB_SEARCH, PricedParams.AUDIO, PricedParams.PREDICTION),
                openAi.billables().params());
        assertEquals(3, openAi.billables().choices());
        assertNull(openAi.billables().maxTokensField());
        ParsedRequest auto = chat("{\"model\":\"m\",\"service_tier\":\"auto\",\"max_completion_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
        assertTrue(auto.billables().params().isEmpty(), "auto is the provider's default: priced at the model's highest tier");
        assertEquals("max_completion_tokens", auto.billables().maxTokensField());
        ParsedRequest anthropic = messages("{\"model\":\"m\",\"max_tokens\":10,\"mcp_servers\":[{}],"
                + "\"tools\":[{\"type\":\"web_search_20250305\",\"name\":\"web_search\",\"max_uses\":3},{\"type\":\"code_execution_20250522\",\"name\":\"c\"},"
                + "{\"type\":\"something_new_20260101\",\"name\":\"n\"}],\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
        assertEquals(Set.of(PricedParams.MCP_SERVERS, PricedParams.WEB_SEARCH, PricedParams.CODE_EXECUTION, PricedParams.SERVER_TOOLS),
                anthropic.billables().params());
        assertEquals(3, anthropic.billables().webSearches());
        assertFalse(anthropic.billables().webSearchCapMissing());
    }

    @Test
    void nAndTheTierAreBounded() {
        refused(() -> chat("{\"model\":\"m\",\"n\":129,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"));
        refused(() -> chat("{\"model\":\"m\",\"n\":0,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"));
        refused(() -> chat("{\"model\":\"m\",\"service_tier\":\"" + "p".repeat(33) + "\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"));
    }

    interface Parse { void run() throws BadRequest; }

    static void refused(Parse p) {
        try {
            p.run();
        } catch (BadRequest expected) {
            return;
        }
        throw new AssertionError("expected a 400");
    }
}
