package keyguard.providers;

import io.undertow.util.HeaderMap;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import keyguard.tokens.TokenCounter;
import keyguard.wire.ApiShape;
import keyguard.wire.ChatFormat;
import keyguard.wire.ChatResult;
import keyguard.wire.ErrorBodies;
import keyguard.wire.ErrorCode;
import keyguard.wire.GatewayError;

/**
 * Sends one call to an HTTP upstream and relays the reply to the caller.
 *
 * <h2>Streaming</h2>
 * The call runs on the caller's IO thread ({@link UpstreamClient}). The upstream body is
 * read one chunk at a time, the next only after the caller's socket accepted the previous
 * one, so a slow caller slows the upstream instead of filling memory. Events are cut at blank lines
 * ({@link SseSplitter}) and read by the upstream's {@link Dialect} as they pass, to learn
 * the usage. In passthrough (same shape on both sides) each event is forwarded byte for
 * byte; across shapes it is re-rendered by the caller's {@link ChatFormat}.
 *
 * <h2>Failures</h2>
 * Unreachable upstream (refused, no TLS handshake, or the connection failed before the
 * request was all written): 502, nothing billed; every connection busy and the waiting line
 * full: 503; no response headers within the provider's timeout: 504;
 * upstream 5xx: 502; upstream 401/403: 502 with our own message (the upstream's body may
 * quote our credential, so it is never relayed); upstream 429: 429; other upstream 4xx:
 * relayed. A failure after the stream started ends it with an error event in the caller's
 * shape. A caller that hangs up cancels the upstream request.
 *
 * <h2>Accounting</h2>
 * The call's listener hears exactly once how the call ended, whatever the path.
 */
final class HttpUpstream {
    private static final int MAX_BODY = 64 << 20;

    private final UpstreamClient client;

    /** @param extraTrust PEM certificates trusted beside the JDK's for HTTPS upstreams, or null */
    HttpUpstream(UpstreamClient.Settings settings, Path extraTrust) {
        this.client = new UpstreamClient(settings, extraTrust);
    }

    /**
     * @param dialect how the upstream speaks
     * @param translate true when the caller's shape differs from the upstream's
     */
    void send(Call call, UpstreamClient.Request request, Dialect dialect, boolean translate) {
        Settle settle = new Settle(call, dialect, translate);
        UpstreamClient.Attempt[] attempt = new UpstreamClient.Attempt[1];
        call.client().onGone(() -> {
            if (attempt[0] != null) attempt[0].cancel();
            settle.unknown(499, "client_gone");
        });
        attempt[0] = client.send(call.client().ioThread(), request, new UpstreamClient.Handler() {
            @Override
            public void onResponse(int status, HeaderMap headers, UpstreamClient.Body body) {
                try {
                    HttpUpstream.onResponse(call, settle, status, headers, body, dialect, translate, attempt[0]);
                } catch (RuntimeException e) {
                    body.discard();
                    failBilled(call, settle, ErrorCode.UPSTREAM_UNREADABLE.error(call.provider().name()), "upstream_error");
                }
            }

            @Override
            public void onFailure(UpstreamClient.Failure failure, Throwable cause) {
                failBeforeStart(call, settle, failure, cause);
            }
        });
        if (call.client().isFinished()) attempt[0].cancel(); // gone before the attempt could be cancelled by onGone
    }

    private static void onResponse(Call call, Settle settle, int status, HeaderMap headers, UpstreamClient.Body body, Dialect dialect,
                                   boolean translate, UpstreamClient.Attempt attempt) {
        String provider = call.provider().name();
        if (status == 401 || status == 403) {
            body.discard();
            fail(call, settle, ErrorCode.UPSTREAM_CREDENTIAL_REJECTED.error(provider, status), "upstream_auth");
            return;
        }
        if (status == 429) {
            body.discard();
            GatewayError limited = ErrorCode.UPSTREAM_RATE_LIMITED.error(provider);
            String retryAfter = headers.getFirst("retry-after");
            GatewayError e = retryAfter == null ? limited : limited.header("retry-after", retryAfter);
            fail(call, settle, e, "upstream_rate_limited");
            return;
        }
        if (status >= 500) {
            body.discard();
            fail(call, settle, ErrorCode.UPSTREAM_FAILED_STATUS.error(provider, status), "upstream_error");
            return;
        }
        String type = headers.getFirst("content-type");
        String contentType = type == null ? "application/json" : type;
        boolean sse = contentType.startsWith("text/event-stream");
        if (status >= 400) {
            collect(body, text -> {
                if (translate) {
                    fail(call, settle, ErrorCode.UPSTREAM_REJECTED.error(provider, status).withStatus(status), "upstream_rejected");
                } else {
                    call.client().respond(status, contentType, call.headers(), text);
                    settle.ended(status, "upstream_rejected", null);
                }
            }, t -> fail(call, settle, bodyLost(provider, t), "upstream_error"));
            return;
        }
        if (sse && call.request().stream()) {
            new Relay(call, settle, dialect, translate, attempt).start(body);
            return;
        }
        body.collect(MAX_BODY, bytes -> whole(call, settle, bytes, dialect, translate),
                t -> failBilled(call, settle, bodyLost(provider, t), "upstream_error"));
    }

    /** A body that did not reach its end: cut off on the way, or one the gateway's own reading of it threw on. */
    private static GatewayError bodyLost(String provider, Throwable t) {
        return (t instanceof RuntimeException ? ErrorCode.UPSTREAM_UNREADABLE : ErrorCode.UPSTREAM_CUT_OFF).error(provider);
    }

    /**
     * A whole reply: read for its usage (decoded as UTF-8 with replacements), relayed as the
     * bytes it came in (or re-rendered in the caller's shape).
     */
    private static void whole(Call call, Settle settle, byte[] body, Dialect dialect, boolean translate) {
        StreamState st = new StreamState();
        byte[] out = body;
        try {
            if (call.request().endpoint() == keyguard.wire.Endpoint.EMBEDDINGS) {
                JsonNodeUsage.embeddings(Dialect.JSON.readTree(new String(body, StandardCharsets.UTF_8)), st);
            } else {
                // Relayed as it came, a reply is billed from its usage alone when that is final.
                st = translate ? dialect.read(body) : dialect.readUsage(body);
                if (translate) {
                    ApiShape shape = call.request().endpoint().shape();
                    keyguard.policy.Usage u = settle.usage(st);
                    out = ChatFormat.of(shape).completion(new ChatResult(st.id.isEmpty() ? "kg-" + System.nanoTime() : st.id,
                            call.request().model(), System.currentTimeMillis() / 1000, st.text.toString(), st.finish,
                            u.promptTokens(), u.completionTokens())).getBytes(StandardCharsets.UTF_8);
                }
            }
        } catch (IOException e) {
            if (translate) {
                failBilled(call, settle, ErrorCode.UPSTREAM_NOT_JSON.error(call.provider().name()), "upstream_error");
                return;
            }
            // Relayed as it is; what it generated cannot be read, so the whole reservation is charged.
            call.client().respond(200, "application/json", call.headers(), out);
            settle.unknown(200, "ok");
            return;
        }
        call.client().respond(200, "application/json", call.headers(), out);
        settle.ended(200, "ok", st);
    }

    /** Embeddings bill their input only. */
    private static final class JsonNodeUsage {
        static void embeddings(com.fasterxml.jackson.databind.JsonNode o, StreamState st) {
            com.fasterxml.jackson.databind.JsonNode prompt = o.path("usage").path("prompt_tokens");
            if (prompt.canConvertToLong()) {
                st.input = prompt.asLong();
                st.usageFinal = true;
            }
            st.output = 0;
        }
    }

    /** Relays an SSE body, one upstream chunk in flight at a time. */
    private static final class Relay implements UpstreamClient.Chunks {
        private final Call call;
        private final Settle settle;
        private final Dialect dialect;
        private final boolean translate;
        private final SseSplitter splitter = new SseSplitter();
        private final StreamState st = new StreamState();
        private final ChatFormat format;
        private final String id;
        private final long created = System.currentTimeMillis() / 1000;
        private final UpstreamClient.Attempt attempt;
        private boolean startedOut;

        Relay(Call call, Settle settle, Dialect dialect, boolean translate, UpstreamClient.Attempt attempt) {
            this.call = call;
            this.settle = settle;
            this.dialect = dialect;
            this.translate = translate;
            this.attempt = attempt;
            this.format = ChatFormat.of(call.request().endpoint().shape());
            this.id = (call.request().endpoint().shape() == ApiShape.ANTHROPIC ? "msg_kg" : "chatcmpl-kg") + Long.toHexString(System.nanoTime());
        }

        void start(UpstreamClient.Body body) {
            call.client().onGone(() -> {
                attempt.cancel();
                settle.ended(499, "client_gone", st);
            });
            call.client().start(200, "text/event-stream; charset=utf-8", call.headers());
            if (call.client().isFinished()) {
                attempt.cancel();
                settle.ended(499, "client_gone", st);
                return;
            }
            body.stream(this);
        }

        @Override
        public void chunk(ByteBuffer data, Runnable more) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            List<String> events;
            try {
                events = splitter.feed(List.of(data));
            } catch (SseSplitter.EventTooLarge e) { // an upstream that never ends its event: cut, not buffered without end
                attempt.cancel();
                if (!call.client().isFinished()) midStreamError(ErrorCode.UPSTREAM_STREAM_BROKE);
                return;
            }
            for (String event : events) out.writeBytes(relay(event));
            if (out.size() == 0) more.run();
            else call.client().write(out.toByteArray(), more);
        }

        private byte[] relay(String event) {
            String delta = dialect.observe(event, st);
            if (!translate) {
                if (dialect == Dialect.OPENAI && !call.request().includeUsage() && Dialect.isUsageOnlyChunk(event)) return new byte[0];
                return event.getBytes(StandardCharsets.UTF_8);
            }
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            if (!startedOut) {
                startedOut = true;
                out.writeBytes(format.streamStart(id, call.request().model(), created, call.prompt().estimate()));
            }
            if (delta != null && !delta.isEmpty()) out.writeBytes(format.streamDelta(id, call.request().model(), created, delta));
            return out.toByteArray();
        }

        @Override
        public void error(Throwable t) {
            if (call.client().isFinished()) return;
            midStreamError(ErrorCode.UPSTREAM_STREAM_BROKE);
        }

        @Override
        public void end() {
            String rest = splitter.rest();
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            if (!rest.isBlank()) out.writeBytes(relay(rest + "\n\n"));
            if (st.error != null) {
                if (translate) {
                    midStreamError(ErrorCode.UPSTREAM_STREAM_ERROR);
                } else {
                    call.client().write(out.toByteArray(), call.client()::end);
                    settle.ended(200, "upstream_error", st);
                }
                return;
            }
            if (!st.done && !translate) {
                call.client().write(out.toByteArray(), () -> { });
                midStreamError(ErrorCode.UPSTREAM_STREAM_UNFINISHED);
                return;
            }
            if (translate) {
                keyguard.policy.Usage u = settle.usage(st);
                if (!startedOut) out.writeBytes(format.streamStart(id, call.request().model(), created, u.promptTokens()));
                out.writeBytes(format.streamEnd(new ChatResult(id, call.request().model(), created, st.text.toString(), st.finish,
                        u.promptTokens(), u.completionTokens()), call.request().includeUsage()));
            }
            call.client().write(out.toByteArray(), call.client()::end);
            settle.ended(200, "ok", st);
        }

        private void midStreamError(ErrorCode code) {
            GatewayError e = code.error(call.provider().name());
            ApiShape shape = call.request().endpoint().shape();
            String body = ErrorBodies.render(shape, e);
            String event = shape == ApiShape.ANTHROPIC ? "event: error\ndata: " + body + "\n\n" : "data: " + body + "\n\n";
            call.client().write(event.getBytes(StandardCharsets.UTF_8), call.client()::end);
            settle.ended(200, "upstream_error", st);
        }
    }

    private static void failBeforeStart(Call call, Settle settle, UpstreamClient.Failure failure, Throwable cause) {
        if (call.client().isFinished()) {
            settle.unknown(499, "client_gone");
            return;
        }
        String provider = call.provider().name();
        switch (failure) {
            // The provider never had the request: nothing billed.
            case UNREACHABLE, NOT_SENT -> fail(call, settle, ErrorCode.UPSTREAM_UNREACHABLE.error(provider), "upstream_unreachable");
            case BUSY -> fail(call, settle, ErrorCode.UPSTREAM_BUSY.error(provider), "upstream_busy");
            // The provider had the request and may still be generating (and billing) it.
            case TIMEOUT -> failBilled(call, settle, ErrorCode.UPSTREAM_TIMEOUT.error(provider), "upstream_timeout");
            case BROKEN -> failBilled(call, settle, ErrorCode.UPSTREAM_FAILED.error(provider,
                    cause == null ? "IOException" : cause.getClass().getSimpleName()), "upstream_error");
        }
    }

    /** Answers {@code e}; the provider refused the call or never had it, so it billed nothing. */
    static void fail(Call call, Settle settle, GatewayError e, String outcome) {
        respond(call, e);
        settle.ended(e.status(), outcome, null);
    }

    /**
     * Answers {@code e} for a call the provider had and may have billed without the gateway
     * learning how much (no headers in time, a reply cut off or unreadable): the whole
     * reservation is charged.
     */
    static void failBilled(Call call, Settle settle, GatewayError e, String outcome) {
        respond(call, e);
        settle.unknown(e.status(), outcome);
    }

    private static void respond(Call call, GatewayError e) {
        Map<String, String> headers = new LinkedHashMap<>(call.headers());
        headers.putAll(e.headers());
        call.client().respond(e.status(), "application/json", headers, ErrorBodies.render(call.request().endpoint().shape(), e));
    }

    private static void collect(UpstreamClient.Body body, java.util.function.Consumer<String> done,
                                java.util.function.Consumer<Throwable> failed) {
        body.collect(MAX_BODY, bytes -> done.accept(new String(bytes, StandardCharsets.UTF_8)), failed);
    }

    /**
     * The once-only end of a call, with its usage in billing terms: the provider's where it
     * reported one; otherwise the prompt as counted by the gateway and the output counted
     * with the model's tokenizer over everything generated (every choice, tool call and
     * reasoning text) — never zero for a reply that generated something.
     */
    static final class Settle {
        private final Call call;
        private final AtomicBoolean done = new AtomicBoolean();
        /** The upstream speaks OpenAI and the request was not translated: its web searches are the request's own. */
        private final boolean searchesUnreported;

        Settle(Call call) {
            this(call, null, false);
        }

        Settle(Call call, Dialect dialect, boolean translate) {
            this.call = call;
            this.searchesUnreported = dialect == Dialect.OPENAI && !translate;
        }

        /** A reply whose usage is known exactly (the simulator's). */
        void ended(int status, String outcome, long prompt, long completion) {
            StreamState st = new StreamState();
            st.input = prompt;
            st.output = completion;
            st.usageFinal = true;
            ended(status, outcome, st);
        }

        /** The provider may have billed the call, and nothing tells how much: the listener charges the reservation. */
        void unknown(int status, String outcome) {
            if (done.compareAndSet(false, true)) call.listener().ended(status, outcome, null, false);
        }

        /** {@code st} null: nothing of a reply was read. */
        void ended(int status, String outcome, StreamState st) {
            if (done.compareAndSet(false, true)) {
                call.listener().ended(status, outcome, usage(st), st != null && st.usageFinal);
            }
        }

        keyguard.policy.Usage usage(StreamState st) {
            int images = call.request().billables().images();
            if (st == null) return new keyguard.policy.Usage(call.promptTokens(), 0, 0, 0, 0, 0, images, 1, 0, null);
            long input = st.input >= 0 ? st.input : call.promptTokens();
            long output;
            long reasoning;
            if (st.usageFinal) {
                output = Math.max(0, st.output);
                reasoning = Math.max(0, st.reasoning);
            } else {
                long counted = st.countGenerated(TokenCounter.forModel(call.model()));
                output = Math.max(counted, st.output);
                reasoning = 0;
            }
            // OpenAI reports no count of web searches: a chat completion with web_search_options runs one.
            long searches = st.webSearches > 0 || !searchesUnreported ? st.webSearches : call.request().billables().webSearches();
            return new keyguard.policy.Usage(input, st.cacheWrite, st.cacheWrite1h, st.cacheRead, output, reasoning, images, 1, searches,
                    st.serviceTier);
        }
    }
}
