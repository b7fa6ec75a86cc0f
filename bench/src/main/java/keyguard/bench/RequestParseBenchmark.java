package keyguard.bench;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import keyguard.wire.BadRequest;
import keyguard.wire.Endpoint;
import keyguard.wire.ParsedRequest;
import keyguard.wire.RequestParser;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Parsing a chat-completion request body as the gateway does: strict UTF-8, Jackson's
 * tree, then the fields the decision needs (model, stream, max_tokens, every text sent
 * upstream, metadata), with the validation that gives a bad request its 400.
 *
 * <ul>
 *   <li>{@code bytes}: 200 (one short user message) and 10,240 (a system prompt and a long
 *       conversation).</li>
 *   <li>{@code baseline} returns the body's length: the harness alone.</li>
 * </ul>
 * Traps avoided: the body is a state field (no folding) and the parsed request goes back
 * to JMH (no dead code); the same bytes each time, as a gateway sees many equal requests.
 *
 * <pre>bench/jmh.sh RequestParseBenchmark -prof gc</pre>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class RequestParseBenchmark {
    @Param({"200", "10240"})
    public int bytes;

    private byte[] body;

    @Setup
    public void setup() {
        body = body(bytes).getBytes(StandardCharsets.UTF_8);
    }

    /** A realistic OpenAI chat body of about {@code size} bytes. */
    static String body(int size) {
        StringBuilder messages = new StringBuilder("{\"role\":\"system\",\"content\":\"You are a helpful assistant.\"}");
        String turn = "Please summarise the quarterly report and list the three main risks for the team.";
        int i = 0;
        String head = "{\"model\":\"gpt-4o-mini\",\"max_tokens\":256,\"metadata\":{\"ticket\":\"OPS-12\"},\"messages\":[";
        while (head.length() + messages.length() + 100 < size) {
            messages.append(",{\"role\":\"").append(i++ % 2 == 0 ? "user" : "assistant").append("\",\"content\":\"").append(turn).append("\"}");
        }
        if (size <= 256) messages = new StringBuilder("{\"role\":\"user\",\"content\":\"" + turn + "\"}");
        return head + messages + "]}";
    }

    @Benchmark
    public int baseline() {
        return body.length;
    }

    @Benchmark
    public ParsedRequest parse() throws BadRequest {
        return RequestParser.parse(Endpoint.CHAT_COMPLETIONS, body);
    }
}
