package keyguard.providers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.undertow.util.HeaderMap;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.xnio.OptionMap;
import org.xnio.Options;
import org.xnio.Xnio;
import org.xnio.XnioWorker;

/** The pool of upstream connections, against a plain socket server that sees every connection open and close. */
class UpstreamClientTest {
    private XnioWorker worker;
    private ServerSocket server;

    @BeforeEach
    void start() throws Exception {
        worker = Xnio.getInstance().createWorker(OptionMap.create(Options.WORKER_IO_THREADS, 1));
        server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        server.setSoTimeout(10_000);
    }

    @AfterEach
    void stop() throws Exception {
        server.close();
        worker.shutdownNow();
    }

    @Test
    void anIdleConnectionIsClosedAfterTheIdleTimeWithoutAnotherCall() throws Exception {
        Duration idle = Duration.ofMillis(300);
        UpstreamClient client = client(idle);
        CompletableFuture<Long> closedAfterLastAnswer = serveOnOneConnection(1);

        assertEquals("{}", call(client));
        long held = closedAfterLastAnswer.get(10, TimeUnit.SECONDS);
        assertTrue(held >= idle.toNanos() - TimeUnit.MILLISECONDS.toNanos(50), "closed after " + held / 1_000_000 + " ms: not kept for reuse for the idle time");
        assertTrue(held < idle.toNanos() + TimeUnit.SECONDS.toNanos(3), "closed only after " + held / 1_000_000 + " ms");
    }

    @Test
    void aConnectionUsedAgainIsKeptForTheIdleTimeFromItsLastUse() throws Exception {
        Duration idle = Duration.ofMillis(400);
        UpstreamClient client = client(idle);
        CompletableFuture<Long> closedAfterLastAnswer = serveOnOneConnection(2);

        assertEquals("{}", call(client));
        Thread.sleep(200); // within the idle time: the second call reuses the connection (the server accepts only one)
        assertEquals("{}", call(client));
        long held = closedAfterLastAnswer.get(10, TimeUnit.SECONDS);
        // The sweep the first release scheduled finds it in use again since, and comes back later.
        assertTrue(held >= idle.toNanos() - TimeUnit.MILLISECONDS.toNanos(50), "closed " + held / 1_000_000 + " ms after its last use");
    }

    @Test
    void aReaderThatThrowsHearsItAsTheBodysError() throws Exception {
        UpstreamClient client = client(Duration.ofSeconds(30));
        serveOnOneConnection(1);
        CompletableFuture<Throwable> heard = new CompletableFuture<>();
        client.send(worker.getIoThread(), request(), new UpstreamClient.Handler() {
            @Override
            public void onResponse(int status, HeaderMap headers, UpstreamClient.Body b) {
                // The body is read in a task of the IO thread, which would only log what this throws.
                b.collect(1024, bytes -> { throw new IllegalStateException("the reader failed"); }, heard::complete);
            }

            @Override
            public void onFailure(UpstreamClient.Failure failure, Throwable cause) {
                heard.completeExceptionally(new AssertionError("failed: " + failure, cause));
            }
        });
        assertEquals("the reader failed", heard.get(10, TimeUnit.SECONDS).getMessage());
    }

    /**
     * Accepts one connection, answers {@code requests} requests on it, then waits for the
     * client to close it: the nanoseconds from the last answer to the close (-1 if the
     * client sent data instead).
     */
    private CompletableFuture<Long> serveOnOneConnection(int requests) {
        return CompletableFuture.supplyAsync(() -> {
            try (Socket s = server.accept()) {
                s.setSoTimeout(10_000);
                InputStream in = s.getInputStream();
                OutputStream out = s.getOutputStream();
                long answered = 0;
                for (int i = 0; i < requests; i++) {
                    readRequest(in);
                    out.write("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}".getBytes(StandardCharsets.US_ASCII));
                    out.flush();
                    answered = System.nanoTime();
                }
                return in.read() == -1 ? System.nanoTime() - answered : -1L;
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        });
    }

    private String call(UpstreamClient client) throws Exception {
        CompletableFuture<String> body = new CompletableFuture<>();
        client.send(worker.getIoThread(), request(), new UpstreamClient.Handler() {
            @Override
            public void onResponse(int status, HeaderMap headers, UpstreamClient.Body b) {
                b.collect(1024, bytes -> body.complete(new String(bytes, StandardCharsets.UTF_8)), body::completeExceptionally);
            }

            @Override
            public void onFailure(UpstreamClient.Failure failure, Throwable cause) {
                body.completeExceptionally(new AssertionError("failed: " + failure, cause));
            }
        });
        return body.get(10, TimeUnit.SECONDS);
    }

    private static UpstreamClient client(Duration idle) {
        return new UpstreamClient(new UpstreamClient.Settings(4, 4, Duration.ofSeconds(5), idle), null);
    }

    /** A chat call to the socket server. */
    private UpstreamClient.Request request() {
        return new UpstreamClient.Request(URI.create("http://127.0.0.1:" + server.getLocalPort() + "/v1/chat/completions"),
                Map.of("content-type", "application/json"), "{}".getBytes(StandardCharsets.UTF_8), Duration.ofSeconds(5));
    }

    /** Reads one request: its headers, then as many bytes as its Content-Length says. */
    private static void readRequest(InputStream in) throws Exception {
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        while (!head.toString(StandardCharsets.US_ASCII).endsWith("\r\n\r\n")) {
            int b = in.read();
            if (b < 0) throw new IllegalStateException("connection closed inside the request");
            head.write(b);
        }
        int length = 0;
        for (String line : head.toString(StandardCharsets.US_ASCII).split("\r\n")) {
            if (line.toLowerCase(java.util.Locale.ROOT).startsWith("content-length:")) length = Integer.parseInt(line.substring(15).trim());
        }
        in.readNBytes(length);
    }
}
