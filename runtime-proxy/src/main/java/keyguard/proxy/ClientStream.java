package keyguard.proxy;

import io.undertow.io.IoCallback;
import io.undertow.io.Sender;
import io.undertow.server.HttpServerExchange;
import io.undertow.util.HttpString;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import keyguard.wire.ApiShape;
import keyguard.wire.GatewayError;
import keyguard.wire.Responses;

/**
 * The response to one caller, written from any thread. Every operation runs on the
 * exchange's IO thread, one write at a time: {@link #write} calls its continuation only
 * when the bytes are handed to the socket, which is how upstream backpressure reaches the
 * caller (the provider asks for the next upstream chunk from that continuation).
 *
 * <p>{@link #onGone} runs once if the caller disconnects (or a write fails) before the
 * response is complete, so the provider can abort the upstream request.
 *
 * <p>A write's continuation runs as a new IO-thread task, never inside Undertow's
 * completion callback, so a continuation that writes again never re-enters the sender.
 *
 * <p>A {@linkplain #gate() gated} stream holds back the response's completion (the body
 * of a whole response, the end of a stream) until {@link #release}: the gateway releases
 * it once the request's audit event is appended, so a response the caller saw complete
 * always has its event, even if the process is killed the next instant.
 */
public final class ClientStream implements keyguard.wire.Caller {
    private final HttpServerExchange exchange;
    private final AtomicBoolean finished = new AtomicBoolean();
    private volatile Runnable gone = () -> { };
    /** IO-thread state of the completion gate. */
    private boolean gated;
    private boolean released;
    private Runnable heldCompletion;

    private final long writeStuckMillis;

    /** @param writeStuckMillis how long one write may wait for the caller to read before the connection is cut */
    public ClientStream(HttpServerExchange exchange, long writeStuckMillis) {
        this.exchange = exchange;
        this.writeStuckMillis = writeStuckMillis;
        exchange.addExchangeCompleteListener((ex, next) -> {
            if (finished.compareAndSet(false, true)) gone.run();
            next.proceed();
        });
    }

    @Override
    public void onGone(Runnable r) { gone = r; }

    /** Holds the completion back until {@link #release}; call before the provider starts. */
    public void gate() {
        run(() -> gated = true);
    }

    /**
     * Keeps the caller's socket registered for reads while the provider runs; call on the IO
     * thread once the request's body is all read. Undertow's server suspends a connection's
     * reads when a request starts and resumes them when it ends, and the JDK's selector turns
     * that into an {@code epoll_ctl} DEL and ADD per request: two system calls nginx does not
     * make (docs/benchmarks.md). Reads stay on here with a listener that does what Undertow
     * does with bytes arriving during an exchange (a pipelined request, the caller's close):
     * suspends reads and leaves them for after it, when Undertow resumes reads with its own
     * listener. Left to Undertow off the IO thread and on TLS. The data listener must not use
     * XNIO's {@code READ_TIMEOUT}: it would time out a read left on during a long upstream call.
     * Relies on the exchange completing on its IO thread, as every completion here does
     * ({@link #run}): completed from another thread, Undertow's resume could race this
     * listener's suspend and leave a pipelined request unread.
     */
    public void keepReadsRegistered() {
        if (!exchange.isInIoThread() || !exchange.isRequestComplete()
                || !(exchange.getConnection() instanceof io.undertow.server.AbstractServerConnection c) || c.getSslSession() != null) return;
        org.xnio.conduits.StreamSourceConduit socket = c.getOriginalSourceConduit();
        c.getChannel().getSourceChannel().setReadListener(ignored -> socket.suspendReads());
        socket.resumeReads();
    }

    /** Lets the held completion (if any, and any later one) go. From any thread. */
    public void release() {
        run(() -> {
            released = true;
            Runnable held = heldCompletion;
            heldCompletion = null;
            if (held != null) held.run();
        });
    }

    /**
     * Instead of the held completion: answers {@code error} when nothing of the response
     * has reached the caller yet, else cuts the connection, so that the caller never sees a
     * normally completed response whose audit event is missing. From any thread.
     */
    public void fail(ApiShape shape, GatewayError error) {
        run(() -> {
            heldCompletion = null;
            released = true;
            finished.set(true);
            if (!exchange.isResponseStarted()) {
                Responses.error(exchange, shape, error, Map.of());
            } else {
                org.xnio.IoUtils.safeClose(exchange.getConnection());
            }
        });
    }

    /** Runs on the IO thread: completes now, or when released. */
    private void complete(Runnable completion) {
        if (!gated || released) completion.run();
        else heldCompletion = completion;
    }

    @Override
    public boolean isFinished() { return finished.get(); }

    /** The names of the headers the gateway sets on every answer, as Undertow takes them: made once, not per response. */
    private static final Map<String, HttpString> KNOWN_NAMES = java.util.stream.Stream.of(
                    "x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests",
                    "x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens",
                    "x-keyguard-decision-id", "x-keyguard-policy-revision", "x-keyguard-routed-model", "x-keyguard-budget-warning")
            .collect(java.util.stream.Collectors.toUnmodifiableMap(n -> n, HttpString::new));

    static HttpString headerName(String name) {
        HttpString known = KNOWN_NAMES.get(name);
        return known != null ? known : HttpString.tryFromString(name); // Undertow's own instance for a standard name
    }

    /** Sets status and headers; must come before the first write. */
    @Override
    public void start(int status, String contentType, Map<String, String> headers) {
        run(() -> {
            exchange.setStatusCode(status);
            exchange.getResponseHeaders().put(io.undertow.util.Headers.CONTENT_TYPE, contentType);
            headers.forEach((k, v) -> exchange.getResponseHeaders().put(headerName(k), v));
            if (contentType.startsWith("text/event-stream")) {
                exchange.getResponseHeaders().put(io.undertow.util.Headers.CACHE_CONTROL, "no-cache");
            }
        });
    }

    /** Writes bytes; {@code then} runs after they are accepted (not if the caller is gone). */
    @Override
    public void write(byte[] bytes, Runnable then) {
        run(() -> {
            if (finished.get()) return;
            // A caller that stops reading: the write waits; past writeStuckMillis the caller is gone.
            org.xnio.XnioExecutor.Key stuck = stuckTimer();
            exchange.getResponseSender().send(ByteBuffer.wrap(bytes), new IoCallback() {
                @Override
                public void onComplete(HttpServerExchange ex, Sender sender) {
                    stuck.remove();
                    // Never continue inside the sender's callback: the continuation may
                    // write again at once (a publisher can signal synchronously from
                    // request(1)), and Undertow refuses a send() issued re-entrantly there
                    // (UT000043), which used to strand about one stream in 500.
                    ex.getIoThread().execute(then);
                }

                @Override
                public void onException(HttpServerExchange ex, Sender sender, IOException e) {
                    stuck.remove();
                    if (finished.compareAndSet(false, true)) gone.run();
                    ex.endExchange();
                }
            });
        });
    }

    /** Cuts the connection unless the exchange completes (every byte taken) within the stuck-write time. */
    private void guardCompletion() {
        org.xnio.XnioExecutor.Key stuck = stuckTimer();
        exchange.addExchangeCompleteListener((ex, next) -> {
            stuck.remove();
            next.proceed();
        });
    }

    /** A timer that declares the caller gone and closes the connection, unless removed first. */
    private org.xnio.XnioExecutor.Key stuckTimer() {
        return exchange.getIoThread().executeAfter(() -> {
            if (finished.compareAndSet(false, true)) gone.run();
            org.xnio.IoUtils.safeClose(exchange.getConnection());
        }, writeStuckMillis, java.util.concurrent.TimeUnit.MILLISECONDS);
    }

    /** Completes the response. */
    @Override
    public void end() {
        run(() -> {
            if (finished.compareAndSet(false, true)) complete(() -> {
                guardCompletion();
                exchange.endExchange();
            });
        });
    }

    /** A whole response at once (status, type, headers, body), then end. */
    @Override
    public void respond(int status, String contentType, Map<String, String> headers, byte[] body) {
        run(() -> {
            if (finished.get()) return;
            exchange.setStatusCode(status);
            exchange.getResponseHeaders().put(io.undertow.util.Headers.CONTENT_TYPE, contentType);
            headers.forEach((k, v) -> exchange.getResponseHeaders().put(headerName(k), v));
            finished.set(true);
            complete(() -> {
                guardCompletion();
                exchange.getResponseSender().send(ByteBuffer.wrap(body));
            });
        });
    }

    /** Runs on the IO thread after a delay (the simulator's latency), unless the caller is gone. */
    @Override
    public void after(long millis, Runnable r) {
        exchange.getIoThread().executeAfter(() -> {
            if (!finished.get()) r.run();
        }, millis, java.util.concurrent.TimeUnit.MILLISECONDS);
    }

    @Override
    public org.xnio.XnioIoThread ioThread() { return exchange.getIoThread(); }

    private void run(Runnable r) {
        if (exchange.getIoThread() == Thread.currentThread()) r.run();
        else exchange.getIoThread().execute(r);
    }
}
