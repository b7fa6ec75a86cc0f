package keyguard.functions.js;

import java.io.InputStream;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.LockSupport;
import org.graalvm.polyglot.Context;
import org.graalvm.polyglot.Engine;
import org.graalvm.polyglot.EnvironmentAccess;
import org.graalvm.polyglot.HostAccess;
import org.graalvm.polyglot.PolyglotAccess;
import org.graalvm.polyglot.ResourceLimits;
import org.graalvm.polyglot.io.IOAccess;

/**
 * The one GraalVM {@link Engine} of the process, shared by every policy revision's
 * JavaScript functions (code parsed by one context is reused by the others), and the
 * watchdog that enforces the per-call time and memory limits.
 *
 * <h2>The sandbox</h2>
 * A context reaches nothing outside itself: no host classes or objects, no IO, no
 * threads, no native code, no processes, no environment, no other languages, and none of
 * the globals that would offer them ({@code Java}, {@code Packages}, {@code load},
 * {@code print}, {@code console}, {@code Graal}, {@code Polyglot}). Per call:
 * <ul>
 *   <li>a statement limit ({@link ResourceLimits}, reset before every call);
 *   <li>a CPU-time limit and an allocation limit, checked by the watchdog every
 *       {@code tick} (a call is measured from the first tick that sees it running): a call
 *       past either has its context cancelled;
 *   <li>strings and typed arrays are capped in length, so no single allocation can take
 *       the heap. (GraalVM Community has no retained-heap limit; an {@code OutOfMemoryError}
 *       raised inside the guest is caught and counted as a memory-limit failure.)
 * </ul>
 * A cancelled context is closed and replaced on the thread's next call.
 */
public final class JsEngine {
    private static final System.Logger LOG = System.getLogger("keyguard.functions");

    /** Per-call limits. */
    public record Limits(Duration timeout, long statements, long allocatedBytes, int maxStringLength, int maxTypedArrayBytes) {
        public static final Limits DEFAULT = new Limits(Duration.ofMillis(50), 100_000, 64L << 20, 1 << 20, 1 << 20);

        /** {@link #DEFAULT}, with {@code keyguard.js.timeout-ms}, {@code .statements} and {@code .memory-mb} system properties applied. */
        public static Limits fromSystemProperties() {
            return new Limits(Duration.ofMillis(Long.getLong("keyguard.js.timeout-ms", DEFAULT.timeout.toMillis())),
                    Long.getLong("keyguard.js.statements", DEFAULT.statements),
                    Long.getLong("keyguard.js.memory-mb", DEFAULT.allocatedBytes >> 20) << 20,
                    DEFAULT.maxStringLength, DEFAULT.maxTypedArrayBytes);
        }
    }

    private static volatile JsEngine shared;

    private final Engine engine;
    private final Limits limits;
    private final long tickNanos;
    private final Set<JsModule.Slot> slots = ConcurrentHashMap.newKeySet();
    private final com.sun.management.ThreadMXBean threads =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    JsEngine(Limits limits) {
        this.limits = limits;
        this.tickNanos = Math.clamp(limits.timeout.toNanos() / 5, 1_000_000L, 10_000_000L);
        long t0 = System.nanoTime();
        this.engine = Engine.newBuilder("js")
                .option("engine.WarnInterpreterOnly", "false")
                .out(OutputStream.nullOutputStream())
                .err(OutputStream.nullOutputStream())
                .build();
        Thread watchdog = Thread.ofPlatform().daemon().name("keyguard-js-watchdog").unstarted(this::watch);
        watchdog.start();
        LOG.log(System.Logger.Level.INFO, "JavaScript functions: GraalJS {0} on the {1} runtime{2} (engine started in {3} ms)",
                engine.getVersion(), engine.getImplementationName(),
                optimizing() ? "" : "; calls run interpreted (start with the Graal JIT for about 3x faster calls, see docs/plugins.md)",
                (System.nanoTime() - t0) / 1_000_000);
    }

    /** The process-wide engine, started on first use (about a second). */
    public static JsEngine shared() {
        JsEngine e = shared;
        if (e == null) {
            synchronized (JsEngine.class) {
                e = shared;
                if (e == null) shared = e = new JsEngine(Limits.fromSystemProperties());
            }
        }
        return e;
    }

    public Limits limits() { return limits; }

    /** True when Truffle's optimizing runtime (the Graal JIT through JVMCI) compiles guest code. */
    public boolean optimizing() {
        return !"Interpreted".equalsIgnoreCase(engine.getImplementationName());
    }

    /** A fresh sandboxed context on the shared engine. */
    Context newContext() {
        return Context.newBuilder("js")
                .engine(engine)
                .allowHostAccess(HostAccess.NONE)
                .allowHostClassLookup(name -> false)
                .allowHostClassLoading(false)
                .allowIO(IOAccess.NONE)
                .allowCreateThread(false)
                .allowCreateProcess(false)
                .allowNativeAccess(false)
                .allowPolyglotAccess(PolyglotAccess.NONE)
                .allowEnvironmentAccess(EnvironmentAccess.NONE)
                .allowExperimentalOptions(true)
                .option("js.java-package-globals", "false")
                .option("js.load", "false")
                .option("js.print", "false")
                .option("js.console", "false")
                .option("js.graal-builtin", "false")
                .option("js.polyglot-builtin", "false")
                // RegExp.lastMatch, RegExp.input, RegExp.$1: legacy statics would carry one
                // call's matched text into the next call.
                .option("js.regexp-static-result", "false")
                .option("js.string-length-limit", Integer.toString(limits.maxStringLength))
                .option("js.max-typed-array-length", Integer.toString(limits.maxTypedArrayBytes))
                .resourceLimits(ResourceLimits.newBuilder().statementLimit(limits.statements, null).build())
                .in(InputStream.nullInputStream())
                .out(OutputStream.nullOutputStream())
                .err(OutputStream.nullOutputStream())
                .build();
    }

    void register(JsModule.Slot slot) { slots.add(slot); }

    void unregister(JsModule.Slot slot) { slots.remove(slot); }

    /**
     * Every tick, each slot in a call: the first time a call is seen, note when and how much
     * its thread had allocated; later, cancel it if it ran past the time limit or
     * allocated past the memory limit. Costs the calls nothing but a counter increment.
     */
    private void watch() {
        long timeout = limits.timeout.toNanos();
        while (true) {
            LockSupport.parkNanos(tickNanos);
            for (JsModule.Slot s : slots) {
                long seq = s.seq;
                if ((seq & 1) == 0) continue;
                long tid = s.thread.threadId();
                if (seq != s.watchedSeq) {
                    s.watchedSeq = seq;
                    s.watchedCpu = threads.getThreadCpuTime(tid);
                    s.watchedAllocated = threads.getThreadAllocatedBytes(tid);
                    continue;
                }
                // Memory first: a call that allocates without bound is usually slow too, and
                // "memory limit" is the more useful diagnosis. Time is the thread's CPU time,
                // so a call that is merely descheduled, or waits out a GC pause, is not cancelled.
                if (threads.getThreadAllocatedBytes(tid) - s.watchedAllocated > limits.allocatedBytes) {
                    s.cancel(seq, keyguard.functions.FunctionFailure.Kind.MEMORY_LIMIT);
                } else if (threads.getThreadCpuTime(tid) - s.watchedCpu > timeout) {
                    s.cancel(seq, keyguard.functions.FunctionFailure.Kind.TIMEOUT);
                }
            }
        }
    }
}
