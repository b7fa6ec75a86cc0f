package keyguard.providers;

import io.undertow.UndertowOptions;
import io.undertow.client.ClientCallback;
import io.undertow.client.ClientConnection;
import io.undertow.client.ClientExchange;
import io.undertow.client.ClientRequest;
import io.undertow.client.UndertowClient;
import io.undertow.connector.ByteBufferPool;
import io.undertow.connector.PooledByteBuffer;
import io.undertow.protocols.ssl.UndertowXnioSsl;
import io.undertow.server.DefaultByteBufferPool;
import io.undertow.util.HeaderMap;
import io.undertow.util.Headers;
import io.undertow.util.HttpString;
import io.undertow.util.Methods;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;
import org.xnio.ChannelListener;
import org.xnio.ChannelListeners;
import org.xnio.IoUtils;
import org.xnio.OptionMap;
import org.xnio.Options;
import org.xnio.Xnio;
import org.xnio.XnioExecutor;
import org.xnio.XnioIoThread;
import org.xnio.channels.StreamSinkChannel;
import org.xnio.channels.StreamSourceChannel;

/**
 * The HTTP/1.1 client of provider calls, on Undertow's client over XNIO: a call runs on
 * the IO thread of the caller's own connection, so the bytes of a request go from the
 * caller's socket to the upstream's and back without a hop to another thread.
 *
 * <h2>Invariants</h2>
 * <ul>
 *   <li>Each IO thread has its own {@link Pool}; a pool and every {@link Attempt} on it
 *       are touched only by that thread (work from another thread is posted to it).</li>
 *   <li>A connection is idle in its pool, or carries exactly one attempt (pipelining off);
 *       the open connections per target and thread (idle, busy or connecting) never exceed
 *       {@link Settings#maxConnections}, and at most {@link Settings#maxWaiting} attempts
 *       wait for one.</li>
 *   <li>No connection stays idle in a pool much longer than {@link Settings#idle}: while
 *       any is idle, a sweep of that pool is scheduled on its thread.</li>
 *   <li>An attempt reports exactly one of {@link Handler#onResponse} and
 *       {@link Handler#onFailure}. Its connection goes back to the pool only after the
 *       response was read to its end with the connection still open; every other ending
 *       closes it.</li>
 *   <li>A request is never sent twice: a reused connection that fails is a failed call,
 *       not a retry (the provider may have had, and billed, the first).</li>
 *   <li>Nothing blocks an IO thread: host names are resolved by {@link HostNames} on its own
 *       threads, and connections are opened to the address with the name given to TLS.</li>
 * </ul>
 */
final class UpstreamClient {
    /** How an attempt failed before the response headers. */
    enum Failure {
        /** No connection: refused, unresolvable, or not within the connect timeout. The provider never had the request. */
        UNREACHABLE,
        /** Connected, but no response headers within the request's timeout: the provider may be generating (and billing) it. */
        TIMEOUT,
        /** The connection failed after the request was sent: the provider may have had (and billed) it. */
        BROKEN,
        /**
         * The connection failed, or the timeout passed, before the request was all written (a
         * refused or stalled TLS handshake, a kept-alive connection the server had just closed):
         * the provider cannot have acted on a request it did not receive whole.
         */
        NOT_SENT,
        /** Every connection to the target is busy and the waiting line is full. The provider never had the request. */
        BUSY
    }

    /** What an attempt reports, on its IO thread. */
    interface Handler {
        void onResponse(int status, HeaderMap headers, Body body);

        void onFailure(Failure failure, Throwable cause);
    }

    /**
     * A streamed body's reader: {@code more} asks for the next chunk (reading pauses until
     * then). If {@code chunk} or {@code end} throws, the body ends with {@code error} and
     * the connection is closed.
     */
    interface Chunks {
        void chunk(ByteBuffer data, Runnable more);

        void end();

        void error(Throwable cause);
    }

    /** One request to send. Header names are lower case; {@code host} and {@code content-length} are set by the client. */
    record Request(URI uri, Map<String, String> headers, byte[] body, Duration timeout) {
        Request {
            // Undertow writes header values byte for byte: a CR or LF would end the header block early.
            for (Map.Entry<String, String> h : headers.entrySet()) {
                String v = h.getValue();
                for (int i = 0; i < v.length(); i++) {
                    char c = v.charAt(i);
                    if (c < 0x20 && c != '\t' || c == 0x7f) throw new IllegalArgumentException("control character in upstream header " + h.getKey());
                }
            }
        }
    }

    /** @param idle how long an unused connection may wait in the pool and still be reused; a sweep closes it after that, traffic or not */
    record Settings(int maxConnections, int maxWaiting, Duration connect, Duration idle) {
        static final Settings DEFAULT = new Settings(512, 4096, Duration.ofSeconds(10), Duration.ofSeconds(30));
    }

    /** Where connections go; {@code hostHeader} follows from the rest, made once here instead of per request. */
    private record Target(String scheme, String host, int port, String hostHeader) {
        static Target of(URI uri) {
            boolean tls = "https".equalsIgnoreCase(uri.getScheme());
            int port = uri.getPort() > 0 ? uri.getPort() : tls ? 443 : 80;
            // An IPv6 literal stands in brackets in a URI and a Host header (URI#getHost keeps them).
            String host = uri.getHost();
            String bracketed = host.contains(":") && !host.startsWith("[") ? "[" + host + "]" : host;
            return new Target(tls ? "https" : "http", bracketed, port, port == (tls ? 443 : 80) ? bracketed : bracketed + ":" + port);
        }

        URI uri() { return URI.create(scheme + "://" + host + ":" + port); }
    }

    private final Settings settings;
    private final ByteBufferPool buffers = new DefaultByteBufferPool(true, 16 * 1024);
    private final UndertowXnioSsl ssl;
    private final OptionMap options = OptionMap.builder()
            .set(UndertowOptions.ENABLE_HTTP2, false)
            // Verify the host name whatever -Dio.undertow.client.https.disableEndpointIdentification says.
            .set(UndertowOptions.ENDPOINT_IDENTIFICATION_ALGORITHM, "HTTPS")
            .set(Options.TCP_NODELAY, true)
            .getMap();
    private final Map<XnioIoThread, Pool> pools = new ConcurrentHashMap<>();

    /** @param extraTrust PEM certificates to trust beside the JDK's (a private CA of a self-hosted model server), or null */
    UpstreamClient(Settings settings, Path extraTrust) {
        this.settings = settings;
        this.ssl = new UndertowXnioSsl(Xnio.getInstance(UndertowClient.class.getClassLoader()), OptionMap.EMPTY, buffers, tls(extraTrust));
    }

    /** Sends {@code request} on {@code thread}; the handler hears the outcome there. Returns the attempt, to cancel it. */
    Attempt send(XnioIoThread thread, Request request, Handler handler) {
        Attempt a = new Attempt(pools.computeIfAbsent(thread, Pool::new), Target.of(request.uri()), request, handler);
        if (Thread.currentThread() == thread) a.start();
        else thread.execute(a::start);
        return a;
    }

    /** The connections of one IO thread, by target; touched only on that thread. */
    private final class Pool {
        private final XnioIoThread thread;
        private final Map<Target, Deque<Idle>> idle = new HashMap<>();
        private final Map<Target, Integer> open = new HashMap<>();
        private final Map<Target, Deque<Attempt>> waiting = new HashMap<>();
        /** A {@link #sweep} is scheduled: set while any connection is idle. */
        private boolean sweeping;

        private record Idle(ClientConnection connection, long since) {
        }

        Pool(XnioIoThread thread) {
            this.thread = thread;
        }

        /** Hands {@code a} a connection now, later (when one frees up) or never (BUSY). */
        void acquire(Attempt a) {
            Deque<Idle> free = idle.get(a.target);
            long now = System.nanoTime();
            while (free != null && !free.isEmpty()) {
                Idle i = free.pollLast(); // the most recently used: the likeliest to be warm and open
                if (i.connection.isOpen() && now - i.since < settings.idle().toNanos()) {
                    a.connected(i.connection);
                    return;
                }
                IoUtils.safeClose(i.connection);
            }
            int n = open.getOrDefault(a.target, 0);
            if (n < settings.maxConnections()) {
                open.put(a.target, n + 1);
                connect(a);
                return;
            }
            Deque<Attempt> line = waiting.computeIfAbsent(a.target, t -> new ArrayDeque<>());
            if (line.size() >= settings.maxWaiting()) line.removeIf(w -> w.ended); // timed out or cancelled while waiting
            if (line.size() >= settings.maxWaiting()) {
                a.failed(Failure.BUSY, null);
                return;
            }
            line.add(a);
        }

        private void connect(Attempt a) {
            a.connecting = true;
            a.connectTimer = new Deadline(thread, settings.connect(), () -> {
                if (a.connection == null) a.failed(Failure.UNREACHABLE, new IOException("no connection within " + settings.connect().toMillis() + " ms"));
            });
            ClientCallback<ClientConnection> callback = new ClientCallback<>() {
                private boolean done;

                @Override
                public void completed(ClientConnection c) {
                    onThread(() -> {
                        if (done) return; // Undertow's TLS path can report a connection twice (docs/internals.md)
                        done = true;
                        c.addCloseListener(closed -> onThread(() -> forget(a.target, closed)));
                        a.connected(c);
                    });
                }

                @Override
                public void failed(IOException e) {
                    onThread(() -> {
                        if (done) return;
                        done = true;
                        closedOne(a.target);
                        a.failed(Failure.UNREACHABLE, e);
                    });
                }
            };
            if (HostNames.isLiteral(a.target.host)) {
                open(a, callback, a.target.uri(), options);
                return;
            }
            // A host name is resolved on a resolver thread, never here: a slow DNS would stall every caller of this IO thread.
            HostNames.INSTANCE.resolve(a.target.host).whenComplete((address, error) -> onThread(() -> {
                if (error != null) {
                    callback.failed(new IOException("cannot resolve " + a.target.host + ": " + error.getMessage(), error));
                } else if (a.ended) {
                    closedOne(a.target); // timed out or cancelled while the name was looked up: nothing was opened
                } else {
                    String ip = address.getHostAddress();
                    URI direct = URI.create(a.target.scheme + "://" + (ip.contains(":") ? "[" + ip + "]" : ip) + ":" + a.target.port);
                    // TLS names the host itself (SNI, and the certificate's name is checked against it), not the address.
                    open(a, callback, direct, OptionMap.builder().addAll(options).set(Options.SSL_PEER_HOST_NAME, a.target.host)
                            .set(Options.SSL_PEER_PORT, a.target.port).getMap());
                }
            }));
        }

        private void open(Attempt a, ClientCallback<ClientConnection> callback, URI uri, OptionMap connectOptions) {
            try {
                UndertowClient.getInstance().connect(callback, uri, thread, "https".equals(a.target.scheme) ? ssl : null, buffers, connectOptions);
            } catch (RuntimeException e) { // a malformed address
                callback.failed(new IOException(e));
            }
        }

        /** A connection whose attempt read its response to the end. */
        void release(Target target, ClientConnection c) {
            if (!c.isOpen()) return; // its close listener counted it
            Deque<Attempt> line = waiting.get(target);
            while (line != null && !line.isEmpty()) {
                Attempt next = line.poll();
                if (!next.ended) {
                    next.connected(c);
                    return;
                }
            }
            idle.computeIfAbsent(target, t -> new ArrayDeque<>()).addLast(new Idle(c, System.nanoTime()));
            if (!sweeping) sweepIn(settings.idle().toNanos());
        }

        private void sweepIn(long nanos) {
            try {
                thread.executeAfter(this::sweep, TimeUnit.NANOSECONDS.toMillis(nanos) + 1, TimeUnit.MILLISECONDS);
                sweeping = true;
            } catch (java.util.concurrent.RejectedExecutionException e) {
                // The thread is shutting down: no call will reuse a connection, and no sweep would come.
                List<ClientConnection> all = new ArrayList<>();
                for (Deque<Idle> free : idle.values()) while (!free.isEmpty()) all.add(free.pollFirst().connection);
                all.forEach(IoUtils::safeClose);
            }
        }

        /**
         * Closes the connections idle for {@link Settings#idle} or longer, and comes back when the
         * next one will be. A timer of its own, not a check on the response path: idle
         * connections close on time when no call comes, and the compiled path of a response
         * never meets a close (its first one deoptimized that whole path; docs/benchmarks.md).
         */
        private void sweep() {
            sweeping = false;
            long now = System.nanoTime();
            long limit = settings.idle().toNanos();
            long next = Long.MAX_VALUE;
            List<ClientConnection> expired = new ArrayList<>();
            for (Deque<Idle> free : idle.values()) {
                // Oldest first: a connection is appended when it comes back.
                while (!free.isEmpty() && now - free.peekFirst().since >= limit) expired.add(free.pollFirst().connection);
                if (!free.isEmpty()) next = Math.min(next, free.peekFirst().since + limit - now);
            }
            expired.forEach(IoUtils::safeClose); // after the loop: a close runs the pool's close listener at once
            if (next != Long.MAX_VALUE) sweepIn(next);
        }

        /** A connection closed (by either side): it no longer counts, and a waiting attempt may open one. */
        private void forget(Target target, ClientConnection c) {
            Deque<Idle> free = idle.get(target);
            if (free != null) free.removeIf(i -> i.connection == c);
            closedOne(target);
        }

        private void closedOne(Target target) {
            int n = open.getOrDefault(target, 1) - 1;
            if (n <= 0) open.remove(target);
            else open.put(target, n);
            Deque<Attempt> line = waiting.get(target);
            while (line != null && !line.isEmpty()) {
                Attempt next = line.poll();
                if (!next.ended) {
                    open.merge(target, 1, Integer::sum);
                    connect(next);
                    return;
                }
            }
        }

        private void onThread(Runnable r) {
            if (Thread.currentThread() == thread) r.run();
            else thread.execute(r);
        }
    }

    /** One request on one connection, from acquiring it to its response's last byte. Touched only on its pool's thread. */
    final class Attempt {
        private final Pool pool;
        private final Target target;
        private final Request request;
        private final Handler handler;
        /** Owned by this attempt from {@link #connected} until its response ends ({@link #finished}, {@link #broken}); null outside. */
        private ClientConnection connection;
        private Deadline timer;
        private Deadline connectTimer;
        /** A connection is being opened for this attempt (else it waits in line for one, or has one). */
        private boolean connecting;
        /** The handler heard its outcome (or the caller cancelled): later events only tidy up. */
        private boolean ended;
        /** The caller went away: nothing more is read. */
        private boolean cancelled;
        private boolean requestSent;
        private boolean responded;

        private Attempt(Pool pool, Target target, Request request, Handler handler) {
            this.pool = pool;
            this.target = target;
            this.request = request;
            this.handler = handler;
        }

        private void start() {
            if (ended) return;
            timer = new Deadline(pool.thread, request.timeout(), this::timedOut);
            pool.acquire(this);
        }

        /** Stops the attempt (the caller went away): its connection is closed, the handler hears nothing more. From any thread. */
        void cancel() {
            pool.onThread(() -> {
                ended = true;
                cancelled = true;
                stopTimer();
                if (connection != null) IoUtils.safeClose(connection);
            });
        }

        private void timedOut() {
            timer = null;
            if (ended || responded) return;
            if (connection == null) failed(connecting ? Failure.UNREACHABLE : Failure.BUSY, null); // the provider never had it
            else failed(Failure.TIMEOUT, null);
        }

        private void connected(ClientConnection c) {
            if (ended) {
                // Cancelled or timed out while the connection was coming: it is good, keep it for the next call.
                pool.release(target, c);
                return;
            }
            connection = c;
            if (connectTimer != null) connectTimer.cancel();
            connectTimer = null;
            ClientRequest req = new ClientRequest().setMethod(Methods.POST).setPath(pathAndQuery(request.uri()));
            HeaderMap h = req.getRequestHeaders();
            h.put(Headers.HOST, target.hostHeader);
            request.headers().forEach((k, v) -> h.put(HttpString.tryFromString(k), v)); // Undertow's own instance for a standard name
            h.put(Headers.CONTENT_LENGTH, request.body().length);
            c.sendRequest(req, new ClientCallback<>() {
                @Override
                public void completed(ClientExchange exchange) {
                    exchange.setResponseListener(new ClientCallback<>() {
                        @Override
                        public void completed(ClientExchange ex) {
                            responded = true;
                            stopTimer();
                            if (ended) {
                                IoUtils.safeClose(connection);
                                return;
                            }
                            ended = true;
                            handler.onResponse(ex.getResponse().getResponseCode(), ex.getResponse().getResponseHeaders(),
                                    new Body(Attempt.this, ex.getResponseChannel()));
                        }

                        @Override
                        public void failed(IOException e) {
                            Attempt.this.failed(Failure.BROKEN, e);
                        }
                    });
                    writeBody(exchange.getRequestChannel());
                }

                @Override
                public void failed(IOException e) {
                    Attempt.this.failed(Failure.BROKEN, e);
                }
            });
        }

        private void writeBody(StreamSinkChannel channel) {
            ByteBuffer buf = ByteBuffer.wrap(request.body());
            ChannelListener<StreamSinkChannel> writer = new ChannelListener<>() {
                @Override
                public void handleEvent(StreamSinkChannel ch) {
                    try {
                        while (buf.hasRemaining()) {
                            if (ch.write(buf) == 0) {
                                ch.resumeWrites();
                                return;
                            }
                        }
                        ch.suspendWrites();
                        ch.shutdownWrites();
                        if (!ch.flush()) {
                            ch.getWriteSetter().set(ChannelListeners.flushingChannelListener(x -> requestSent = true,
                                    (x, e) -> failed(Failure.BROKEN, e)));
                            ch.resumeWrites();
                            return;
                        }
                        requestSent = true;
                    } catch (IOException e) {
                        failed(Failure.BROKEN, e);
                    }
                }
            };
            channel.getWriteSetter().set(writer);
            writer.handleEvent(channel);
        }

        private void failed(Failure failure, Throwable cause) {
            // Not flushed whole (a TLS handshake that stalls or fails, a server that stops reading): never had it.
            if ((failure == Failure.BROKEN || failure == Failure.TIMEOUT) && !requestSent) failure = Failure.NOT_SENT;
            stopTimer();
            if (connection != null) IoUtils.safeClose(connection);
            if (ended) return;
            ended = true;
            handler.onFailure(failure, cause);
        }

        private void stopTimer() {
            if (timer != null) timer.cancel();
            if (connectTimer != null) connectTimer.cancel();
            timer = null;
            connectTimer = null;
        }

        /**
         * The response was read to its end: the connection serves the next call, if the
         * request was all sent. The attempt lets go of it either way, so that a late cancel
         * (the caller hanging up while its last bytes are written) cannot close a connection
         * that already carries another call.
         */
        private void finished() {
            ClientConnection c = connection;
            connection = null;
            if (c == null) return;
            if (requestSent) pool.release(target, c);
            else IoUtils.safeClose(c);
        }

        private void broken() {
            ClientConnection c = connection;
            connection = null;
            if (c != null) IoUtils.safeClose(c);
        }
    }

    /**
     * A response body, read once: whole ({@link #collect}), as chunks with backpressure
     * ({@link #stream}), or not at all ({@link #discard}, which closes the connection).
     */
    final class Body {
        private final Attempt attempt;
        private final StreamSourceChannel channel;

        private Body(Attempt attempt, StreamSourceChannel channel) {
            this.attempt = attempt;
            this.channel = channel;
        }

        /** The whole body; over {@code max} bytes it fails. */
        void collect(int max, Consumer<byte[]> done, Consumer<Throwable> failed) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            stream(new Chunks() {
                @Override
                public void chunk(ByteBuffer data, Runnable more) {
                    if (out.size() + data.remaining() > max) {
                        discard();
                        failed.accept(new IOException("upstream body over " + max + " bytes"));
                        return;
                    }
                    byte[] a = new byte[data.remaining()];
                    data.get(a);
                    out.writeBytes(a);
                    more.run();
                }

                @Override
                public void end() { done.accept(out.toByteArray()); }

                @Override
                public void error(Throwable cause) { failed.accept(cause); }
            });
        }

        /**
         * Reads chunk by chunk; the next read waits for the previous chunk's {@code more}. A
         * chunk's bytes are valid only during the call: the reader copies what it keeps.
         */
        void stream(Chunks reader) {
            Reading reading = new Reading(reader);
            channel.getReadSetter().set(reading);
            // The first read is a task on the thread's queue, not a call from here: when the
            // body came with the headers, Undertow's client pushed those bytes back and queued
            // a wake-up of the connection's reader ahead of this task. That wake-up now reads
            // the body (from memory), and this task finds the reader started. Read from here
            // instead, the wake-up would run after the response had ended and read the idle
            // connection once more: a read(2) returning EAGAIN on every call (docs/internals.md).
            try {
                attempt.pool.thread.execute(() -> {
                    if (!reading.started) reading.handleEvent(channel); // else the wake-up ran it, and it reads on by itself
                });
            } catch (java.util.concurrent.RejectedExecutionException shuttingDown) {
                reading.handleEvent(channel);
            }
        }

        /** The read loop of {@link #stream}, with at most one chunk out with the reader. */
        private final class Reading implements ChannelListener<StreamSourceChannel> {
            private final Chunks reader;
            private final Runnable more = this::more;
            /** A chunk is with the reader and its {@code more} has not come. */
            private boolean out;
            private boolean looping;
            private boolean done;
            /** The first {@link #handleEvent} ran (the wake-up's or {@link #stream}'s task). */
            private boolean started;

            Reading(Chunks reader) {
                this.reader = reader;
            }

            @Override
            public void handleEvent(StreamSourceChannel ch) {
                if (done || out || looping || attempt.cancelled) return;
                started = true;
                looping = true;
                try (PooledByteBuffer pooled = buffers.allocate()) {
                    ByteBuffer b = pooled.getBuffer();
                    while (!out && !done && !attempt.cancelled) {
                        b.clear();
                        int n = ch.read(b);
                        if (n == 0) {
                            ch.resumeReads();
                            return;
                        }
                        if (n < 0) {
                            done = true;
                            ch.suspendReads();
                            attempt.finished();
                            reader.end();
                            return;
                        }
                        b.flip();
                        out = true;
                        reader.chunk(b, more);
                    }
                    ch.suspendReads(); // the reader holds a chunk, or dropped the body
                } catch (IOException | RuntimeException e) {
                    // A RuntimeException is the reader's own (its chunk or end threw). This runs as
                    // a listener or a task of the IO thread, which would only log it: the caller
                    // would wait for an answer that never comes. It ends the body as a failed read does.
                    done = true;
                    attempt.broken();
                    reader.error(e);
                } finally {
                    looping = false;
                }
            }

            private void more() {
                attempt.pool.onThread(() -> {
                    if (!out) return;
                    out = false;
                    handleEvent(channel); // a no-op inside the loop, which goes on by itself
                });
            }
        }

        /** Drops the body and the connection with it. */
        void discard() {
            attempt.broken();
        }
    }

    /**
     * A timer on an IO thread that acts only after one more turn of the thread's loop: a
     * thread busy with a burst of work runs its due timers before it looks at the sockets
     * again, so a reply that came while it was busy must be read before the deadline is
     * declared missed (a cold gateway handed 500 calls at once timed out most of them with
     * their replies already waiting; docs/internals.md).
     */
    private static final class Deadline {
        private final XnioIoThread thread;
        private final Runnable act;
        private XnioExecutor.Key key;
        private boolean cancelled;

        Deadline(XnioIoThread thread, Duration after, Runnable act) {
            this.thread = thread;
            this.act = act;
            this.key = thread.executeAfter(this::due, Math.max(1, after.toMillis()), TimeUnit.MILLISECONDS);
        }

        private void due() {
            if (!cancelled) key = thread.executeAfter(this::act, 1, TimeUnit.MILLISECONDS);
        }

        private void act() {
            if (!cancelled) {
                cancelled = true;
                act.run();
            }
        }

        void cancel() {
            cancelled = true;
            key.remove();
        }
    }

    private static String pathAndQuery(URI uri) {
        String p = uri.getRawPath() == null || uri.getRawPath().isEmpty() ? "/" : uri.getRawPath();
        return uri.getRawQuery() == null ? p : p + "?" + uri.getRawQuery();
    }

    /** The JDK's trust anchors, plus the PEM certificates of {@code extra} if given. */
    static SSLContext tls(Path extra) {
        try {
            SSLContext ctx = SSLContext.getInstance("TLS");
            if (extra == null) {
                ctx.init(null, null, null);
                return ctx;
            }
            TrustManagerFactory jdk = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            jdk.init((KeyStore) null);
            KeyStore anchors = KeyStore.getInstance(KeyStore.getDefaultType());
            anchors.load(null, null);
            int i = 0;
            for (TrustManager tm : jdk.getTrustManagers()) {
                if (tm instanceof X509TrustManager x) for (X509Certificate c : x.getAcceptedIssuers()) anchors.setCertificateEntry("jdk-" + i++, c);
            }
            int added = 0;
            try (InputStream in = Files.newInputStream(extra)) {
                for (Certificate c : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
                    anchors.setCertificateEntry("extra-" + added++, c);
                }
            }
            if (added == 0) throw new IllegalArgumentException("no PEM certificate in " + extra);
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(anchors);
            ctx.init(null, tmf.getTrustManagers(), null);
            return ctx;
        } catch (IOException | java.security.GeneralSecurityException e) {
            throw new IllegalArgumentException("cannot read the upstream trust file " + extra + ": " + e.getMessage(), e);
        }
    }
}
