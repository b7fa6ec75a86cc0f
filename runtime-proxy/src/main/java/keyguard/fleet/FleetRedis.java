package keyguard.fleet;

import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisCredentials;
import io.lettuce.core.RedisNoScriptException;
import io.lettuce.core.RedisURI;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.SocketOptions;
import io.lettuce.core.TimeoutOptions;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.async.RedisAsyncCommands;
import io.lettuce.core.event.connection.ConnectionActivatedEvent;
import io.lettuce.core.event.connection.DisconnectedEvent;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The gateway's connection to Redis (Lettuce): a shared connection for commands and scripts,
 * and one for blocking reads of the key log. Fail fast by design: commands issued while
 * disconnected are rejected at once ({@code REJECT_COMMANDS}, never queued and replayed
 * after a reconnect — a replayed non-idempotent command would double count), every command
 * has a timeout, and the connection reconnects by itself.
 *
 * <p>Callers are the fleet's own threads and the request path's worker threads (a counter
 * that needs room): they block on a future for at most the command timeout. Undertow's IO
 * threads never call in.
 */
final class FleetRedis implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("keyguard.fleet");

    /** Thrown when Redis cannot be reached or does not answer in time. */
    static final class Unavailable extends Exception {
        Unavailable(String message, Throwable cause) {
            super(message, cause, false, false);
        }
    }

    private final io.lettuce.core.resource.ClientResources resources;
    private final RedisClient client;
    private final StatefulRedisConnection<String, String> conn;
    private final RedisClient blockingClient;
    private final StatefulRedisConnection<String, String> blockingConn;
    private final Duration timeout;
    private volatile boolean up = true;
    private final AtomicLong calls = new AtomicLong();
    private final AtomicLong latencyNanos = new AtomicLong();
    private final String uriForPeople;
    /** Connecting at start: a Redis that is restarting gets a few seconds (1 + 2 + 3 + 4). */
    private static final int CONNECT_ATTEMPTS = 5;

    /** A Lua script, by its text and its SHA-1 (EVALSHA first, EVAL when Redis lost its script cache). */
    record Script(String name, String text, String sha) {
        static Script load(String name) {
            try (InputStream in = FleetRedis.class.getResourceAsStream("/keyguard/fleet/" + name + ".lua")) {
                if (in == null) throw new IllegalStateException("missing script " + name);
                String text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
                byte[] sha = java.security.MessageDigest.getInstance("SHA-1").digest(text.getBytes(StandardCharsets.UTF_8));
                return new Script(name, text, java.util.HexFormat.of().formatHex(sha));
            } catch (IOException | java.security.NoSuchAlgorithmException e) {
                throw new IllegalStateException(e);
            }
        }
    }

    /**
     * Connects to {@code uri} ({@code redis://}, {@code rediss://}, {@code redis-sentinel://});
     * a password not in the URI comes from {@code password} (KEYGUARD_REDIS_PASSWORD).
     */
    FleetRedis(String uri, String password, Duration timeout) {
        RedisURI parsed;
        try {
            parsed = RedisURI.create(uri);
        } catch (RuntimeException e) {
            // The parser's message quotes the URI, password and all: say what is wrong without it.
            throw new IllegalArgumentException("--redis is not a Redis URI (redis://host:6379[/db], rediss://…, "
                    + "redis-sentinel://host:26379,host:26379/0#master); a password with characters a URI cannot hold belongs in KEYGUARD_REDIS_PASSWORD");
        }
        RedisCredentials credentials = parsed.getCredentialsProvider().resolveCredentials().block();
        if (credentials != null && credentials.hasPassword()) {
            LOG.log(System.Logger.Level.WARNING, "the Redis password is in --redis, where the process list shows it; prefer KEYGUARD_REDIS_PASSWORD");
        }
        if ((credentials == null || !credentials.hasPassword()) && password != null && !password.isEmpty()) {
            parsed.setAuthentication(password.toCharArray());
        }
        // The URI's timeout bounds connecting (and the handshake); commands have their own, shorter one.
        parsed.setTimeout(Duration.ofSeconds(5));
        this.uriForPeople = forPeople(parsed);
        this.timeout = timeout;
        ClientOptions options = ClientOptions.builder()
                .autoReconnect(true)
                .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS)
                .requestQueueSize(100_000)
                .timeoutOptions(TimeoutOptions.enabled(timeout))
                .socketOptions(SocketOptions.builder().connectTimeout(Duration.ofSeconds(2)).build())
                .build();
        // Reconnect within a second of Redis coming back (Lettuce's default backs off to 30 s):
        // a node out of touch for longer than its lease refuses to authenticate.
        this.resources = io.lettuce.core.resource.ClientResources.builder()
                .reconnectDelay(io.lettuce.core.resource.Delay.exponential(Duration.ofMillis(10), Duration.ofSeconds(1), 2, TimeUnit.MILLISECONDS))
                .build();
        this.client = RedisClient.create(resources, parsed);
        client.setOptions(options);
        this.blockingClient = RedisClient.create(resources, parsed);
        blockingClient.setOptions(options.mutate().timeoutOptions(TimeoutOptions.enabled(Duration.ofSeconds(5))).build());
        resources.eventBus().get().subscribe(e -> {
            if (e instanceof ConnectionActivatedEvent) up = true;
            else if (e instanceof DisconnectedEvent) up = false;
        });
        StatefulRedisConnection<String, String> c = null;
        StatefulRedisConnection<String, String> b = null;
        for (int attempt = 1; ; attempt++) {
            try {
                if (c == null) c = client.connect();
                b = blockingClient.connect();
                break;
            } catch (RuntimeException e) {
                if (attempt == CONNECT_ATTEMPTS) {
                    shutdown();
                    throw new IllegalStateException("cannot connect to Redis at " + uriForPeople + " (" + attempt + " attempts): " + e.getMessage(), e);
                }
                LOG.log(System.Logger.Level.WARNING, "cannot connect to Redis at " + uriForPeople + " yet (" + e.getMessage() + "); trying again");
                try {
                    Thread.sleep(1000L * attempt);
                } catch (InterruptedException interrupted) {
                    Thread.currentThread().interrupt();
                    shutdown();
                    throw new IllegalStateException("interrupted while connecting to Redis", interrupted);
                }
            }
        }
        this.conn = c;
        this.blockingConn = b;
    }

    private static String forPeople(RedisURI u) {
        if (!u.getSentinels().isEmpty()) {
            return "sentinel " + u.getSentinelMasterId() + " via " + u.getSentinels().size() + " sentinel(s)";
        }
        return (u.isSsl() ? "rediss://" : "redis://") + u.getHost() + ":" + u.getPort() + "/" + u.getDatabase();
    }

    String describe() { return uriForPeople; }

    /**
     * Warns when Redis may evict keys under memory pressure: every counter key has a TTL, so
     * an eviction policy other than {@code noeviction} resets caps silently. (Managed Redis
     * often refuses CONFIG; then there is nothing to check.)
     */
    void warnUnlessNoEviction() {
        try {
            java.util.Map<String, String> c = await(conn.async().configGet("maxmemory-policy"), "CONFIG GET");
            String policy = c.get("maxmemory-policy");
            if (policy != null && !policy.equals("noeviction")) {
                LOG.log(System.Logger.Level.WARNING, "Redis's maxmemory-policy is " + policy + ": under memory pressure it may evict"
                        + " counters and reset limits and budgets; set it to noeviction (see docs/fleet.md)");
            }
        } catch (Unavailable | RuntimeException e) {
            LOG.log(System.Logger.Level.DEBUG, "cannot read Redis's maxmemory-policy", e);
        }
    }

    RedisAsyncCommands<String, String> async() { return conn.async(); }

    RedisAsyncCommands<String, String> blocking() { return blockingConn.async(); }

    /** Whether the connection is up (as far as the client knows: a partition shows as timeouts first). */
    boolean up() { return up && conn.isOpen(); }

    /** Round trips made, for the benchmark's round trips per request. */
    long calls() { return calls.get(); }

    /** The mean latency of the round trips so far, in microseconds. */
    long meanLatencyMicros() {
        long n = calls.get();
        return n == 0 ? 0 : latencyNanos.get() / n / 1000;
    }

    /** Runs a script, blocking up to the command timeout. */
    List<Object> script(Script s, String[] keys, String... args) throws Unavailable {
        long t0 = System.nanoTime();
        try {
            List<Object> out;
            try {
                out = conn.async().<List<Object>>evalsha(s.sha(), ScriptOutputType.MULTI, keys, args).get(timeout.toMillis() + 100, TimeUnit.MILLISECONDS);
            } catch (ExecutionException e) {
                if (!(e.getCause() instanceof RedisNoScriptException)) throw e;
                // A restarted Redis has an empty script cache: EVAL sends the text and caches it again.
                out = conn.async().<List<Object>>eval(s.text(), ScriptOutputType.MULTI, keys, args).get(timeout.toMillis() + 100, TimeUnit.MILLISECONDS);
            }
            calls.incrementAndGet();
            latencyNanos.addAndGet(System.nanoTime() - t0);
            return out;
        } catch (ExecutionException e) {
            Throwable c = e.getCause() == null ? e : e.getCause();
            throw new Unavailable("Redis " + s.name() + " failed: " + c.getMessage(), c);
        } catch (TimeoutException e) {
            throw new Unavailable("Redis did not answer " + s.name() + " within " + timeout.toMillis() + " ms", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new Unavailable("interrupted", e);
        } catch (RuntimeException e) {
            throw new Unavailable("Redis " + s.name() + " failed: " + e.getMessage(), e);
        }
    }

    /** Waits for a plain command's future, counting it as a round trip. */
    <T> T await(java.util.concurrent.CompletionStage<T> future, String what) throws Unavailable {
        long t0 = System.nanoTime();
        try {
            T v = future.toCompletableFuture().get(timeout.toMillis() + 100, TimeUnit.MILLISECONDS);
            calls.incrementAndGet();
            latencyNanos.addAndGet(System.nanoTime() - t0);
            return v;
        } catch (ExecutionException e) {
            Throwable c = e.getCause() == null ? e : e.getCause();
            throw new Unavailable("Redis " + what + " failed: " + c.getMessage(), c);
        } catch (TimeoutException e) {
            throw new Unavailable("Redis did not answer " + what + " within " + timeout.toMillis() + " ms", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new Unavailable("interrupted", e);
        } catch (RuntimeException e) {
            throw new Unavailable("Redis " + what + " failed: " + e.getMessage(), e);
        }
    }

    private void shutdown() {
        try {
            blockingClient.shutdown(Duration.ZERO, Duration.ofSeconds(2));
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.DEBUG, "closing the blocking Redis client", e);
        }
        try {
            client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.DEBUG, "closing the Redis client", e);
        }
        try {
            resources.shutdown(0, 2, TimeUnit.SECONDS).get(3, TimeUnit.SECONDS);
        } catch (Exception e) {
            LOG.log(System.Logger.Level.DEBUG, "closing the Redis client's threads", e);
        }
    }

    @Override
    public void close() {
        shutdown();
    }
}
