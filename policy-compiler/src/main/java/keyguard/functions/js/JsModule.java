package keyguard.functions.js;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import keyguard.functions.FunctionFailure;
import keyguard.functions.FunctionFailure.Kind;
import keyguard.functions.FunctionRef;
import keyguard.policy.ir.Type;
import org.graalvm.polyglot.Context;
import org.graalvm.polyglot.PolyglotException;
import org.graalvm.polyglot.Source;
import org.graalvm.polyglot.Value;

/**
 * The JavaScript functions of one policy revision. Each source file is parsed once into a
 * {@link Source} that the shared engine caches; each thread that calls a function gets its
 * own sandboxed {@link Context} (GraalJS contexts are single-threaded), created on first
 * use by evaluating the files. {@link #close()} cancels and frees every context of the
 * revision; the policy loader calls it once a newer revision has taken over.
 */
public final class JsModule implements AutoCloseable {
    /** One declared function: its name in the policy language, in the JS file, and its types. */
    public record Declaration(String name, String file, List<Type> params, Type result) {}

    /** A declaration the files do not satisfy, with the reason. */
    public record Problem(Declaration declaration, String message) {}

    private final JsEngine engine;
    private final List<Declaration> declarations;
    private final List<Source> sources;
    private final List<FunctionRef> refs = new ArrayList<>();
    private final ThreadLocal<Slot> slot = new ThreadLocal<>();
    private final Set<Slot> slots = ConcurrentHashMap.newKeySet();
    private volatile boolean closed;

    private JsModule(JsEngine engine, Map<String, String> files, List<Declaration> declarations) {
        this.engine = engine;
        this.declarations = List.copyOf(declarations);
        List<Source> s = new ArrayList<>();
        for (Map.Entry<String, String> f : files.entrySet()) s.add(Source.newBuilder("js", f.getValue(), f.getKey()).cached(true).buildLiteral());
        this.sources = List.copyOf(s);
        for (int i = 0; i < declarations.size(); i++) refs.add(ref(i));
    }

    /**
     * Parses {@code files} (path → text) and checks that each declaration names a function
     * the files define, by evaluating them once in a sandboxed context.
     *
     * @param problems receives one entry per declaration the files do not satisfy; when it
     *     is not empty the module is closed and must not be used
     */
    public static JsModule open(JsEngine engine, Map<String, String> files, List<Declaration> declarations, List<Problem> problems) {
        JsModule m = new JsModule(engine, new LinkedHashMap<>(files), declarations);
        Slot s;
        try {
            s = m.slot(declarations.isEmpty() ? "?" : declarations.getFirst().name());
        } catch (FunctionFailure f) {
            for (Declaration d : declarations) problems.add(new Problem(d, f.getMessage().replace("function `" + d.name() + "` ", "")));
            m.close();
            return m;
        }
        for (int i = 0; i < declarations.size(); i++) {
            Declaration d = declarations.get(i);
            Value fn = s.functions[i];
            if (fn == null || !fn.canExecute()) {
                problems.add(new Problem(d, d.file() + " does not define a function `" + d.name() + "`"
                        + " (declare it at the top level: `function " + d.name() + "(...) { ... }`)"));
                continue;
            }
            Value length = fn.getMember("length");
            if (length != null && length.fitsInInt() && length.asInt() > d.params().size()) {
                problems.add(new Problem(d, "`" + d.name() + "` in " + d.file() + " takes " + length.asInt()
                        + " parameters, but the declaration gives it " + d.params().size()));
            }
        }
        if (!problems.isEmpty()) m.close();
        return m;
    }

    /** The callable functions, in declaration order. */
    public List<FunctionRef> functions() { return List.copyOf(refs); }

    @Override
    public void close() {
        closed = true;
        for (Slot s : slots) s.discard();
    }

    // ------------------------------------------------------------------ calls

    private FunctionRef ref(int index) {
        Declaration d = declarations.get(index);
        List<Class<?>> params = new ArrayList<>();
        for (Type t : d.params()) params.add(FunctionRef.javaType(t));
        MethodHandle h = MethodHandles.insertArguments(CALL.bindTo(this), 0, index).asCollector(Object[].class, params.size());
        h = MethodHandles.explicitCastArguments(h, MethodType.methodType(FunctionRef.javaType(d.result()), params));
        return new FunctionRef(d.name(), d.params(), d.result(), false, 50, "js " + d.file(), FunctionRef.guard(d.name(), h));
    }

    private static final MethodHandle CALL;

    static {
        try {
            CALL = MethodHandles.lookup().findVirtual(JsModule.class, "call", MethodType.methodType(Object.class, int.class, Object[].class));
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** Calls function {@code index} on this thread's context; returns a Long, Boolean or String, or throws {@link FunctionFailure}. */
    Object call(int index, Object[] args) {
        Declaration d = declarations.get(index);
        Slot s = slot(d.name());
        s.seq++;
        try {
            s.context.resetLimits();
            return convert(d, s.functions[index].execute(args));
        } catch (PolyglotException e) {
            throw s.failure(d.name(), e, "");
        } catch (IllegalStateException e) { // the context was cancelled between calls
            s.discard();
            throw new FunctionFailure(d.name(), Kind.UNAVAILABLE, "could not run: " + FunctionRef.oneLine(String.valueOf(e.getMessage())));
        } finally {
            s.seq++;
        }
    }

    private static Object convert(Declaration d, Value v) {
        switch (d.result()) {
            case INT -> {
                if (v.isNumber() && v.fitsInLong()) return v.asLong();
            }
            case BOOL -> {
                if (v.isBoolean()) return v.asBoolean();
            }
            case STRING -> {
                if (v.isString()) return v.asString();
            }
            default -> throw new IllegalStateException();
        }
        throw new FunctionFailure(d.name(), Kind.WRONG_TYPE, "returned " + FunctionRef.oneLine(v.toString()) + ", not "
                + (d.result() == Type.INT ? "an integer" : "a " + d.result().word()));
    }

    private Slot slot(String caller) {
        Slot s = slot.get();
        if (s != null && !s.discarded) return s;
        if (closed) throw new FunctionFailure(caller, Kind.UNAVAILABLE, "belongs to a policy revision that was replaced");
        s = new Slot(Thread.currentThread());
        s.seq++;
        engine.register(s);
        try {
            s.context = engine.newContext();
            for (Source src : sources) s.context.eval(src);
            Value bindings = s.context.getBindings("js");
            s.functions = new Value[declarations.size()];
            for (int i = 0; i < declarations.size(); i++) s.functions[i] = bindings.getMember(declarations.get(i).name());
        } catch (PolyglotException e) {
            FunctionFailure f = s.failure(caller, e, "could not load its file: ");
            s.discard();
            throw f;
        } finally {
            s.seq++;
        }
        slots.add(s);
        slot.set(s);
        if (closed) s.discard();
        return s;
    }

    /** One thread's context. {@code seq} is odd while a call runs; the watchdog reads it. */
    final class Slot {
        final Thread thread;
        Context context;
        Value[] functions;
        volatile long seq;
        volatile Kind cancelledFor;
        volatile boolean discarded;
        long watchedSeq = -1;
        long watchedCpu;
        long watchedAllocated;

        Slot(Thread thread) { this.thread = thread; }

        /** From the watchdog: cancel the call {@code seq} if it is still the one running. */
        void cancel(long seq, Kind why) {
            if (this.seq != seq || discarded) return;
            cancelledFor = why;
            discarded = true;
            engine.unregister(this);
            Context c = context;
            if (c != null) c.close(true);
        }

        void discard() {
            discarded = true;
            engine.unregister(this);
            slots.remove(this);
            Context c = context;
            if (c != null) {
                try {
                    c.close(true);
                } catch (RuntimeException ignored) {
                    // already closed or closing
                }
            }
        }

        FunctionFailure failure(String name, PolyglotException e, String prefix) {
            Kind watchdog = cancelledFor;
            String message = e.getMessage() == null ? "" : FunctionRef.oneLine(e.getMessage());
            Kind kind;
            String detail;
            if (watchdog == Kind.TIMEOUT) {
                kind = Kind.TIMEOUT;
                detail = "ran longer than " + engine.limits().timeout().toMillis() + " ms of CPU time";
            } else if (watchdog == Kind.MEMORY_LIMIT) {
                kind = Kind.MEMORY_LIMIT;
                detail = "allocated more than " + (engine.limits().allocatedBytes() >> 20) + " MiB";
            } else if (message.startsWith("Statement count limit")) {
                kind = Kind.STATEMENT_LIMIT;
                detail = "ran more than " + engine.limits().statements() + " statements";
            } else if (e.isResourceExhausted()) {
                kind = Kind.MEMORY_LIMIT;
                detail = "ran out of memory (" + message + ")";
            } else if (e.isCancelled() || e.isInterrupted()) {
                kind = Kind.TIMEOUT;
                detail = "was cancelled (" + message + ")";
            } else {
                kind = Kind.THREW;
                detail = "threw " + message + (e.getSourceLocation() == null ? ""
                        : " at " + e.getSourceLocation().getSource().getName() + ":" + e.getSourceLocation().getStartLine());
            }
            if (e.isCancelled() || e.isResourceExhausted() || e.isInterrupted() || e.isInternalError() || watchdog != null) discard();
            return new FunctionFailure(name, kind, prefix + detail);
        }
    }
}
