package keyguard.providers;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

/**
 * Upstream host names, resolved off the IO threads. A name lookup blocks its thread for as
 * long as the resolver takes (seconds when DNS is slow or down); done on an IO thread it
 * would stall every caller that thread serves. So {@link UpstreamClient} asks here, on
 * two threads of its own, and connects to the address it gets, naming the host for TLS
 * (SNI and certificate checks) itself.
 *
 * <p>Invariants: a name is looked up at most once at a time (callers of a lookup in flight
 * share it); an address is reused for {@link #TTL_NANOS}, like the JDK's own cache;
 * failures are not kept (the next connection asks again). IP literals need no lookup.
 */
final class HostNames {
    /** How long a resolved address is reused: the JDK's default for positive answers. */
    static final long TTL_NANOS = TimeUnit.SECONDS.toNanos(30);
    private static final Pattern IPV4 = Pattern.compile("\\d{1,3}(\\.\\d{1,3}){3}");

    /** The lookup; tests stand in a slow one. */
    interface Lookup {
        InetAddress resolve(String host) throws UnknownHostException;
    }

    static final Lookup SYSTEM = InetAddress::getByName;

    /** The one every client uses; {@link #lookup} replaceable for tests only. */
    static final HostNames INSTANCE = new HostNames();
    static volatile Lookup lookup = SYSTEM;

    private record Entry(CompletableFuture<InetAddress> address, long since) {}

    private final ConcurrentHashMap<String, Entry> entries = new ConcurrentHashMap<>();
    private final ThreadPoolExecutor executor = new ThreadPoolExecutor(2, 2, 60, TimeUnit.SECONDS, new LinkedBlockingQueue<>(1024), r -> {
        Thread t = new Thread(r, "keyguard-dns");
        t.setDaemon(true);
        return t;
    });

    private HostNames() {
        executor.allowCoreThreadTimeOut(true);
    }

    /** Whether {@code host} is an address already ({@code 10.0.0.5}, {@code [::1]}). */
    static boolean isLiteral(String host) {
        return host.startsWith("[") || IPV4.matcher(host).matches();
    }

    /** The address of {@code host}, completed on a resolver thread (or at once when it is known). Never blocks. */
    CompletableFuture<InetAddress> resolve(String host) {
        long now = System.nanoTime();
        Entry e = entries.get(host);
        if (e != null && !(e.address().isDone() && (e.address().isCompletedExceptionally() || now - e.since() > TTL_NANOS))) return e.address();
        CompletableFuture<InetAddress> f = new CompletableFuture<>();
        Entry mine = new Entry(f, now);
        Entry won = e == null ? entries.putIfAbsent(host, mine) : entries.replace(host, e, mine) ? null : entries.get(host);
        if (won != null && won != mine) return won.address(); // another caller started the lookup
        try {
            executor.execute(() -> {
                try {
                    f.complete(lookup.resolve(host));
                } catch (UnknownHostException | RuntimeException ex) {
                    f.completeExceptionally(ex);
                }
            });
        } catch (RejectedExecutionException ex) {
            f.completeExceptionally(new UnknownHostException("too many host names waiting to be resolved: " + host));
        }
        return f;
    }
}
