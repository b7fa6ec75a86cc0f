package keyguard.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.http.StreamResponse;
import com.openai.errors.BadRequestException;
import com.openai.errors.InternalServerException;
import com.openai.errors.NotFoundException;
import com.openai.errors.OpenAIServiceException;
import com.openai.errors.PermissionDeniedException;
import com.openai.errors.RateLimitException;
import com.openai.errors.UnauthorizedException;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.embeddings.CreateEmbeddingResponse;
import com.openai.models.embeddings.EmbeddingCreateParams;
import com.openai.models.models.Model;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/** The gateway as teams will call it: through the official OpenAI Java client, unchanged but for the base URL and key. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class OpenAiClientEndToEndTest {
    GatewayHarness h;
    String allKey;
    String demoKey;

    @BeforeAll
    void start(@TempDir Path tmp) throws Exception {
        h = new GatewayHarness(tmp);
        allKey = h.key("all", "e2e", Map.of("env", "test"));
        demoKey = h.key("demo", "demo-user", Map.of());
    }

    @AfterAll
    void stop() {
        h.close();
    }

    OpenAIClient client(String key) {
        return OpenAIOkHttpClient.builder().baseUrl(h.base() + "/v1").apiKey(key).maxRetries(0).timeout(Duration.ofSeconds(20)).build();
    }

    static ChatCompletionCreateParams chat(String model, String text) {
        return ChatCompletionCreateParams.builder().model(model).addUserMessage(text).build();
    }

    @Test
    void chatCompletionFromTheSimulator() {
        ChatCompletion c = client(demoKey).chat().completions().create(chat("sim-small", "hello gateway"));
        assertEquals("[sim-small] You said: hello gateway", c.choices().get(0).message().content().orElseThrow());
        assertTrue(c.usage().orElseThrow().promptTokens() > 0);
        assertEquals(c.usage().orElseThrow().promptTokens() + c.usage().orElseThrow().completionTokens(), c.usage().orElseThrow().totalTokens());
    }

    @Test
    void chatCompletionThroughAnOpenAiUpstream() {
        ChatCompletion c = client(allKey).chat().completions().create(chat("up-ok", "via upstream"));
        assertEquals("echo: via upstream", c.choices().get(0).message().content().orElseThrow());
        assertEquals(16, c.usage().orElseThrow().totalTokens());
    }

    @Test
    void streamingChatArrivesChunkByChunk() {
        StringBuilder text = new StringBuilder();
        int chunks = 0;
        try (StreamResponse<ChatCompletionChunk> s = client(demoKey).chat().completions().createStreaming(chat("sim-small", "stream this please"))) {
            for (ChatCompletionChunk chunk : (Iterable<ChatCompletionChunk>) s.stream()::iterator) {
                chunks++;
                chunk.choices().forEach(ch -> ch.delta().content().ifPresent(text::append));
            }
        }
        assertEquals("[sim-small] You said: stream this please", text.toString());
        assertTrue(chunks >= 3, "expected several chunks, got " + chunks);
    }

    @Test
    void streamingChatThroughAnAnthropicUpstreamIsTranslated() {
        StringBuilder text = new StringBuilder();
        try (StreamResponse<ChatCompletionChunk> s = client(allKey).chat().completions().createStreaming(chat("claude", "translate me"))) {
            s.stream().forEach(chunk -> chunk.choices().forEach(ch -> ch.delta().content().ifPresent(text::append)));
        }
        assertEquals("echo: translate me", text.toString());
    }

    @Test
    void embeddingsFromTheSimulatorAndAnUpstream() {
        CreateEmbeddingResponse sim = client(allKey).embeddings().create(EmbeddingCreateParams.builder().model("sim-embed").input("hello").build());
        assertEquals(64, sim.data().get(0).embedding().size());
        CreateEmbeddingResponse again = client(allKey).embeddings().create(EmbeddingCreateParams.builder().model("sim-embed").input("hello").build());
        assertEquals(sim.data().get(0).embedding(), again.data().get(0).embedding(), "deterministic");
        CreateEmbeddingResponse up = client(allKey).embeddings().create(EmbeddingCreateParams.builder().model("up-embed").input("hello").build());
        assertEquals(2, up.data().get(0).embedding().size());
    }

    @Test
    void theModelListShowsOnlyWhatTheKeyMayCall() {
        List<String> ids = client(demoKey).models().list().data().stream().map(Model::id).toList();
        assertEquals(List.of("sim-small"), ids);
    }

    @Test
    void everyErrorStatusSurfacesAsTheClientsTypedException() {
        OpenAIServiceException unauthorized = assertThrows(UnauthorizedException.class,
                () -> client("kg-aaaaaaaaaaaa-" + "x".repeat(43)).chat().completions().create(chat("sim-small", "x")));
        assertEquals(401, unauthorized.statusCode());
        assertEquals("invalid_api_key", unauthorized.code().orElseThrow());

        PermissionDeniedException notAllowed = assertThrows(PermissionDeniedException.class,
                () -> client(demoKey).chat().completions().create(chat("up-ok", "x")));
        assertEquals("model_not_allowed", notAllowed.code().orElseThrow());

        NotFoundException unknown = assertThrows(NotFoundException.class,
                () -> client(demoKey).chat().completions().create(chat("gpt-17", "x")));
        assertEquals("model_not_found", unknown.code().orElseThrow());

        assertThrows(BadRequestException.class, () -> client(allKey).chat().completions().create(chat("sim-embed", "x")));
        assertThrows(BadRequestException.class, () -> client(allKey).chat().completions().create(chat("up-400", "x")));
        RateLimitException limited = assertThrows(RateLimitException.class, () -> client(allKey).chat().completions().create(chat("up-429", "x")));
        assertEquals(429, limited.statusCode());
        InternalServerException bad = assertThrows(InternalServerException.class, () -> client(allKey).chat().completions().create(chat("up-500", "x")));
        assertEquals(502, bad.statusCode());
        assertEquals("upstream_error", bad.code().orElseThrow());
        InternalServerException slow = assertThrows(InternalServerException.class, () -> client(allKey).chat().completions().create(chat("up-slow", "x")));
        assertEquals(504, slow.statusCode());
    }
}
