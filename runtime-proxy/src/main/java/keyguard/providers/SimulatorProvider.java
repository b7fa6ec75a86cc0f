package keyguard.providers;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.List;
import keyguard.policy.ProviderInfo;
import keyguard.tokens.TokenCounter;
import keyguard.wire.ApiShape;
import keyguard.wire.ChatFormat;
import keyguard.wire.ChatResult;
import keyguard.wire.Endpoint;

/**
 * The built-in upstream: deterministic, needs no account, answers in both API shapes.
 *
 * <ul>
 *   <li>Chat: {@code [<model>] You said: <last user message>} — so redaction and routing
 *       are visible — cut to {@code max_tokens} (then {@code finish_reason: length}).</li>
 *   <li>Usage: prompt and completion tokens counted with the real tokenizer.</li>
 *   <li>Streams: the reply in up to eight chunks, {@code chunk_delay} apart, then the
 *       finish (and OpenAI's usage chunk when asked for).</li>
 *   <li>Embeddings: 64 floats per input derived from SHA-256 of the text, unit length.</li>
 *   <li>Timing: {@code latency} before the first byte; both from the provider block.
 *       Delays are timers on the IO thread: nothing blocks.</li>
 * </ul>
 */
public final class SimulatorProvider implements Provider {
    public static final int EMBEDDING_DIMENSIONS = 64;

    private final long latencyMillis;
    private final long chunkDelayMillis;

    SimulatorProvider(ProviderInfo info) {
        this.latencyMillis = Long.parseLong(info.settings().getOrDefault("latency", "0"));
        this.chunkDelayMillis = Long.parseLong(info.settings().getOrDefault("chunk_delay", "0"));
    }

    @Override
    public void handle(Call call) {
        HttpUpstream.Settle settle = new HttpUpstream.Settle(call);
        call.client().onGone(() -> settle.unknown(499, "client_gone"));
        TokenCounter counter = TokenCounter.forModel(call.model());
        if (call.request().endpoint() == Endpoint.EMBEDDINGS) {
            List<String> inputs = call.request().texts();
            float[][] vectors = new float[inputs.size()][];
            long tokens = 0;
            for (int i = 0; i < vectors.length; i++) {
                vectors[i] = embed(inputs.get(i));
                tokens += counter.count(inputs.get(i));
            }
            String body = ChatFormat.OpenAi.embeddings(call.request().model(), vectors, tokens);
            long t = tokens;
            later(call, latencyMillis, () -> {
                call.client().respond(200, "application/json", call.headers(), body);
                settle.ended(200, "ok", t, 0);
            });
            return;
        }
        String last = call.request().lastUserText();
        String full = "[" + call.model().name() + "] " + (last.isBlank() ? "Hello from the Keyguard simulator." : "You said: " + last);
        long cap = call.request().maxTokens();
        String text = cap > 0 ? counter.truncate(full, (int) Math.min(cap, Integer.MAX_VALUE)) : full;
        String finish = text.equals(full) ? "stop" : "length";
        ApiShape shape = call.request().endpoint().shape();
        String id = (shape == ApiShape.ANTHROPIC ? "msg_sim" : "chatcmpl-sim") + Long.toHexString(System.nanoTime());
        ChatResult result = new ChatResult(id, call.request().model(), System.currentTimeMillis() / 1000, text, finish,
                call.promptTokens(), counter.count(text));
        ChatFormat format = ChatFormat.of(shape);
        if (!call.request().stream()) {
            later(call, latencyMillis, () -> {
                call.client().respond(200, "application/json", call.headers(), format.completion(result));
                settle.ended(200, "ok", result.promptTokens(), result.completionTokens());
            });
            return;
        }
        List<String> pieces = pieces(text, 8);
        later(call, latencyMillis, () -> {
            call.client().start(200, "text/event-stream; charset=utf-8", call.headers());
            call.client().write(format.streamStart(id, result.model(), result.created(), result.promptTokens()),
                    () -> next(call, settle, format, result, pieces, 0));
        });
    }

    private void next(Call call, HttpUpstream.Settle settle, ChatFormat format, ChatResult r, List<String> pieces, int i) {
        if (i == pieces.size()) {
            call.client().write(format.streamEnd(r, call.request().includeUsage()), () -> {
                call.client().end();
                settle.ended(200, "ok", r.promptTokens(), r.completionTokens());
            });
            return;
        }
        later(call, chunkDelayMillis, () -> call.client().write(format.streamDelta(r.id(), r.model(), r.created(), pieces.get(i)),
                () -> next(call, settle, format, r, pieces, i + 1)));
    }

    private static void later(Call call, long millis, Runnable r) {
        if (millis <= 0) r.run();
        else call.client().after(millis, r);
    }

    /** Splits text at word boundaries into at most {@code n} pieces that concatenate to it. */
    static List<String> pieces(String text, int n) {
        List<String> words = new ArrayList<>();
        int start = 0;
        for (int i = 1; i <= text.length(); i++) {
            if (i == text.length() || text.charAt(i) == ' ') {
                words.add(text.substring(start, i));
                start = i;
            }
        }
        List<String> out = new ArrayList<>();
        int per = Math.max(1, (words.size() + n - 1) / n);
        for (int i = 0; i < words.size(); i += per) out.add(String.join("", words.subList(i, Math.min(words.size(), i + per))));
        return out;
    }

    static float[] embed(String text) {
        try {
            float[] v = new float[EMBEDDING_DIMENSIONS];
            double norm = 0;
            byte[] seed = text.getBytes(StandardCharsets.UTF_8);
            for (int block = 0; block * 8 < EMBEDDING_DIMENSIONS; block++) {
                MessageDigest sha = MessageDigest.getInstance("SHA-256");
                sha.update(seed);
                sha.update(ByteBuffer.allocate(4).putInt(block).array());
                ByteBuffer digest = ByteBuffer.wrap(sha.digest());
                for (int j = 0; j < 8 && block * 8 + j < EMBEDDING_DIMENSIONS; j++) {
                    float f = (digest.getInt() / (float) Integer.MAX_VALUE);
                    v[block * 8 + j] = f;
                    norm += f * f;
                }
            }
            float inv = (float) (1 / Math.sqrt(norm));
            for (int i = 0; i < v.length; i++) v[i] *= inv;
            return v;
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
