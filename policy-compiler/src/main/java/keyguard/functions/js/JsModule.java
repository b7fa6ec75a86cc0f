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
 * The JavaScript functions of one policy revision.
 *
 * <h2>Isolation</h2>
 * Each file runs in a context of its own, so that no file can see, call or replace another
 * file's functions (two teams' files share nothing). And no call can leave state for the
 * next one: a file is compiled once as a factory, {@code (function () { "use strict"; <file>;
 * return {functions}; })}, and every call runs the factory afresh, so top-level variables
 * and closures start from the file's text each time (a file must parse on its own, so its
 * text cannot close the factory early); the context's global object and everything
 * reachable from it — built-in functions, their prototypes, the intrinsic iterator and
 * generator prototypes — are frozen deeply, and RegExp's legacy statics are off, so a call
 * cannot park state there either (assigning to them throws, in strict mode). A function
 * therefore answers from its arguments alone. (One consequence: a plain object cannot
 * assign an own {@code toString}; define it in the literal instead.)
 *
 * <p>GraalJS contexts are single-threaded: each thread that calls gets its own set (one
 * context per file), created on first use. {@link #close()} cancels and frees every context
 * of the revision; the policy loader calls it once a newer revision has taken over.
 */
public final class JsModule implements AutoCloseable {
    /** One declared function: its name in the policy language, in the JS file, and its types. */
    public record Declaration(String name, String file, List<Type> params, Type result) {}

    /** A declaration the files do not satisfy, with the reason. */
    public record Problem(Declaration declaration, String message) {}

    /**
     * Freezes, deeply, everything a call could otherwise share with the next: the global
     * object and every object reachable from it through properties, accessors and prototypes
     * (built-in functions, their prototypes, Math, JSON, ...), plus the intrinsics no
     * property reaches (the iterator, generator and typed-array prototypes).
     */
    private static final Source FREEZE = Source.create("js", """
            (function () {
              "use strict";
              const roots = [globalThis,
                Object.getPrototypeOf(function* () {}), Object.getPrototypeOf(async function () {}),
                Object.getPrototypeOf(async function* () {}), Object.getPrototypeOf((function* () {})()),
                Object.getPrototypeOf([][Symbol.iterator]()), Object.getPrototypeOf(new Map()[Symbol.iterator]()),
                Object.getPrototypeOf(new Set()[Symbol.iterator]()), Object.getPrototypeOf(""[Symbol.iterator]()),
                Object.getPrototypeOf(/a/[Symbol.matchAll]("")), Object.getPrototypeOf(Int8Array)];
              const seen = new Set();
              const todo = roots.slice();
              while (todo.length > 0) {
                const o = todo.pop();
                if (o === null || o === undefined || (typeof o !== "object" && typeof o !== "function") || seen.has(o)) continue;
                seen.add(o);
                for (const k of Reflect.ownKeys(o)) {
                  const d = Reflect.getOwnPropertyDescriptor(o, k);
                  if (d === undefined) continue;
                  if ("value" in d) todo.push(d.value); else { todo.push(d.get); todo.push(d.set); }
                }
                todo.push(Object.getPrototypeOf(o));
                Object.freeze(o);
              }
            })();
            """);

    private final JsEngine engine;
    private final List<Declaration> declarations;
    /** The files in a fixed order, and per declaration the index of its file. */
    private final List<String> files;
    private final int[] fileOf;
    private final List<Source> factories;
    /** The files as written, parsed alone before they run wrapped. */
    private final List<Source> plain;
    private final List<FunctionRef> refs = new ArrayList<>();
    private final ThreadLocal<Slot> slot = new ThreadLocal<>();
    private final Set<Slot> slots = ConcurrentHashMap.newKeySet();
    private volatile boolean closed;

    private JsModule(JsEngine engine, Map<String, String> sources, List<Declaration> declarations) {
        this.engine = engine;
        this.declarations = List.copyOf(declarations);
        this.files = List.copyOf(sources.keySet());
        this.fileOf = new int[declarations.size()];
        List<Source> f = new ArrayList<>();
        for (String file : files) {
            StringBuilder exports = new StringBuilder();
            for (int i = 0; i < declarations.size(); i++) {
                Declaration d = declarations.get(i);
                if (!d.file().equals(file)) continue;
                fileOf[i] = f.size();
                exports.append(exports.isEmpty() ? "" : ", ").append(quote(d.name())).append(": typeof ").append(d.name())
                        .append(" === \"function\" ? ").append(d.name()).append(" : undefined");
            }
            // The file's first line stays line 1, so errors keep pointing at the right place.
            String text = "(function () { \"use strict\"; " + sources.get(file) + "\n;return {" + exports + "};\n})";
            f.add(Source.newBuilder("js", text, file).cached(true).buildLiteral());
        }
        this.factories = List.copyOf(f);
        List<Source> p = new ArrayList<>();
        for (String file : files) p.add(Source.newBuilder("js", sources.get(file), file).cached(true).buildLiteral());
        this.plain = List.copyOf(p);
        for (int i = 0; i < declarations.size(); i++) refs.add(ref(i));
    }

    private static String quote(String name) {
        return "\"" + name + "\"";
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
            Value fn;
            s.seq++; // the file's top level runs here: timed like a call
            try {
                fn = s.function(m, i);
            } catch (PolyglotException e) {
                problems.add(new Problem(d, s.failure(d.name(), e, "could not load its file: ").getMessage()
                        .replace("function `" + d.name() + "` ", "")));
                if (s.discarded) break;
                continue;
            } finally {
                s.seq++;
            }
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
            Value fn = s.function(this, index);
            return convert(d, fn.execute(args));
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
        // Creating the contexts (freezing the built-ins, parsing the files) runs no code of
        // the files, so it is not a call the watchdog times: the files' own top level runs
        // inside each call, under the call's limits.
        s = new Slot(Thread.currentThread());
        engine.register(s);
        try {
            s.contexts = new Context[factories.size()];
            s.factories = new Value[factories.size()];
            for (int f = 0; f < factories.size(); f++) {
                Context c = engine.newContext();
                s.contexts[f] = c;
                // The file must parse on its own: text that closed the factory's function
                // early (`}); ... (function () {`) would otherwise run outside it and keep state.
                c.parse(plain.get(f));
                c.eval(FREEZE);
                s.factories[f] = c.eval(factories.get(f));
            }
        } catch (PolyglotException e) {
            FunctionFailure f = s.failure(caller, e, "could not load its file: ");
            s.discard();
            throw f;
        }
        slots.add(s);
        slot.set(s);
        if (closed) s.discard();
        return s;
    }

    /** One thread's contexts, one per file. {@code seq} is odd while a call runs; the watchdog reads it. */
    final class Slot {
        final Thread thread;
        Context[] contexts;
        /** Per file, the compiled factory that returns its functions with fresh state. */
        Value[] factories;
        volatile long seq;
        volatile Kind cancelledFor;
        volatile boolean discarded;
        long watchedSeq = -1;
        long watchedCpu;
        long watchedAllocated;

        Slot(Thread thread) { this.thread = thread; }

        /** Function {@code index} with fresh state: its file's factory run anew (limits reset first). */
        Value function(JsModule m, int index) {
            int f = m.fileOf[index];
            contexts[f].resetLimits();
            return factories[f].execute().getMember(m.declarations.get(index).name());
        }

        /** From the watchdog: cancel the call {@code seq} if it is still the one running. */
        void cancel(long seq, Kind why) {
            if (this.seq != seq || discarded) return;
            cancelledFor = why;
            discarded = true;
            engine.unregister(this);
            closeAll();
        }

        void discard() {
            discarded = true;
            engine.unregister(this);
            slots.remove(this);
            closeAll();
        }

        private void closeAll() {
            Context[] cs = contexts;
            if (cs == null) return;
            for (Context c : cs) {
                if (c == null) continue;
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
