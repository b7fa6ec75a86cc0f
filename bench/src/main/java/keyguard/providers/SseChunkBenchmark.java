package keyguard.providers;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * What the gateway does with each chunk of a streamed OpenAI reply it relays as it is: cut
 * the bytes into events ({@link SseSplitter}), read each event for what the reply generated
 * and its usage ({@link Dialect#observe}), and hand on the event's bytes. Per chunk: the
 * time and, with {@code -prof gc}, the bytes allocated, which on a gateway relaying
 * thousands of chunks a second set how often the collector runs beside the relay.
 *
 * <ul>
 *   <li>{@code observe}: reading one content chunk alone.</li>
 *   <li>{@code relayChunk}: the splitter, the reading and the bytes handed on.</li>
 *   <li>{@code usageChunk}: reading the final chunk that carries the usage.</li>
 *   <li>{@code wholeReply}, {@code wholeReplyUsage}: a whole (non-streamed) reply read in full
 *       ({@link Dialect#read}, what a translated reply needs) and read for its usage alone
 *       ({@link Dialect#readUsage}, what a reply relayed as it came is billed from).</li>
 * </ul>
 * Traps avoided: the stream state is fresh per invocation batch but reused across calls, as
 * a stream's is; results go back to JMH.
 *
 * <pre>bench/jmh.sh SseChunkBenchmark -prof gc</pre>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class SseChunkBenchmark {
    static final String CHUNK = "data: {\"id\":\"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT\",\"object\":\"chat.completion.chunk\",\"created\":1733000000,"
            + "\"model\":\"gpt-4o-mini-2024-07-18\",\"system_fingerprint\":\"fp_0ba0d124f1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" the\"},"
            + "\"logprobs\":null,\"finish_reason\":null}]}\n\n";
    static final String USAGE = "data: {\"id\":\"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT\",\"object\":\"chat.completion.chunk\",\"created\":1733000000,"
            + "\"model\":\"gpt-4o-mini-2024-07-18\",\"system_fingerprint\":\"fp_0ba0d124f1\",\"choices\":[],\"usage\":{\"prompt_tokens\":1117,"
            + "\"completion_tokens\":46,\"total_tokens\":1163,\"prompt_tokens_details\":{\"cached_tokens\":1024,\"audio_tokens\":0},"
            + "\"completion_tokens_details\":{\"reasoning_tokens\":0,\"audio_tokens\":0,\"accepted_prediction_tokens\":0,\"rejected_prediction_tokens\":0}}}\n\n";

    static final byte[] REPLY = ("{\"id\":\"chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG\",\"object\":\"chat.completion\",\"created\":1733000000,"
            + "\"model\":\"gpt-4o-mini-2024-07-18\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":"
            + "\"A virtual key is a credential the gateway issues to one team or service. The gateway checks it, applies the key's "
            + "policy, and calls the provider with its own credential, so the provider's key is never shared.\",\"refusal\":null,"
            + "\"annotations\":[]},\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":52,"
            + "\"completion_tokens\":44,\"total_tokens\":96,\"prompt_tokens_details\":{\"cached_tokens\":0,\"audio_tokens\":0},"
            + "\"completion_tokens_details\":{\"reasoning_tokens\":0,\"audio_tokens\":0,\"accepted_prediction_tokens\":0,"
            + "\"rejected_prediction_tokens\":0}},\"service_tier\":\"default\",\"system_fingerprint\":\"fp_0ba0d124f1\"}")
            .getBytes(StandardCharsets.UTF_8);

    private final byte[] chunk = CHUNK.getBytes(StandardCharsets.UTF_8);
    private final SseSplitter splitter = new SseSplitter();
    private StreamState st = new StreamState();
    private int calls;

    private StreamState state() {
        if (++calls % 1000 == 0) st = new StreamState(); // a stream of 1,000 chunks: its text does not grow without end
        return st;
    }

    @Benchmark
    public String observe() {
        return Dialect.OPENAI.observe(CHUNK, state());
    }

    @Benchmark
    public StreamState usageChunk() {
        StreamState s = new StreamState();
        Dialect.OPENAI.observe(USAGE, s);
        return s;
    }

    @Benchmark
    public int relayChunk() {
        StreamState s = state();
        int n = 0;
        for (String event : splitter.feed(List.of(ByteBuffer.wrap(chunk)))) {
            Dialect.OPENAI.observe(event, s);
            n += event.getBytes(StandardCharsets.UTF_8).length;
        }
        return n;
    }

    @Benchmark
    public StreamState wholeReply() throws java.io.IOException {
        return Dialect.OPENAI.read(REPLY);
    }

    @Benchmark
    public StreamState wholeReplyUsage() throws java.io.IOException {
        return Dialect.OPENAI.readUsage(REPLY);
    }
}
