package keyguard.wire;

import java.util.Map;

/**
 * The caller's side of one call, as a provider writes to it: a whole response, or a stream
 * started, written with backpressure ({@code then} runs once the bytes are accepted) and
 * ended. {@link #onGone} hears a caller that went away. Implemented by the data plane
 * ({@code keyguard.proxy.ClientStream}); providers see only this.
 */
public interface Caller {
    /** Runs once if the caller disconnects (or a write fails) before the response is complete. */
    void onGone(Runnable r);

    boolean isFinished();

    /** Sends the status and headers of a stream. */
    void start(int status, String contentType, Map<String, String> headers);

    /** Writes bytes; {@code then} runs after they are accepted (not if the caller is gone). */
    void write(byte[] bytes, Runnable then);

    /** Ends a started stream. */
    void end();

    /** Sends a whole response. */
    default void respond(int status, String contentType, Map<String, String> headers, String body) {
        respond(status, contentType, headers, body.getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }

    /** Sends a whole response of these bytes as they are (an upstream's reply relayed unchanged). */
    void respond(int status, String contentType, Map<String, String> headers, byte[] body);

    /** Runs {@code r} on the caller's IO thread after a delay, unless the caller is gone. */
    void after(long millis, Runnable r);

    /** The IO thread of the caller's connection: the upstream call runs there too. */
    org.xnio.XnioIoThread ioThread();
}
