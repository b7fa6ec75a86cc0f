package keyguard.functions;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.List;
import keyguard.policy.ir.Type;

/**
 * A function conditions can call, resolved: its types, purity, cost, where it came from,
 * and an invoker of exact type ({@code String}, {@code long}, {@code boolean} in and out)
 * that only ever throws {@link FunctionFailure}. Compiled policies load the invoker as a
 * class-data constant and call {@code invokeExact}; the interpreter calls {@link #invoke}.
 *
 * @param origin where it was defined, for diagnostics and the audit log:
 *     {@code plugin acme.jar} or {@code js policies/functions/risk.js}
 */
public record FunctionRef(String name, List<Type> params, Type result, boolean pure, int cost, String origin,
                          MethodHandle invoker) {

    public static Class<?> javaType(Type t) {
        return switch (t) {
            case STRING -> String.class;
            case INT -> long.class;
            case BOOL -> boolean.class;
            default -> throw new IllegalArgumentException("functions do not take or return " + t.word());
        };
    }

    static Type languageType(Class<?> c) {
        if (c == String.class) return Type.STRING;
        if (c == long.class) return Type.INT;
        if (c == boolean.class) return Type.BOOL;
        return null;
    }

    /** Boxed arguments in, boxed result out; for the interpreter, explain and constant folding. */
    public Object invoke(Object... args) {
        try {
            return invoker.invokeWithArguments(args);
        } catch (FunctionFailure f) {
            throw f;
        } catch (Throwable t) {
            throw threw(name, t);
        }
    }

    /** {@code name(string, int) -> bool}. */
    public String signature() {
        StringBuilder sb = new StringBuilder(name).append('(');
        for (int i = 0; i < params.size(); i++) sb.append(i == 0 ? "" : ", ").append(params.get(i).word());
        return sb.append(") -> ").append(result.word()).toString();
    }

    @Override
    public boolean equals(Object o) { return this == o; }

    @Override
    public int hashCode() { return System.identityHashCode(this); }

    @Override
    public String toString() { return signature() + " from " + origin; }

    // ------------------------------------------------------------------ building invokers

    /**
     * A plugin function: its single public {@code apply} method, bound to the instance,
     * wrapped so that anything it throws (and a {@code null} string) is a {@link FunctionFailure}.
     *
     * @throws IllegalArgumentException naming what is wrong with the class
     */
    public static FunctionRef ofPlugin(PolicyFunction f, String origin) {
        Class<?> c = f.getClass();
        List<Method> applies = new ArrayList<>();
        for (Method m : c.getMethods()) {
            if (m.getName().equals("apply") && !m.isBridge() && !m.isSynthetic() && !Modifier.isStatic(m.getModifiers())) applies.add(m);
        }
        if (applies.size() != 1) {
            throw new IllegalArgumentException(c.getName() + " must have exactly one public `apply` method, it has " + applies.size());
        }
        Method m = applies.getFirst();
        Type result = languageType(m.getReturnType());
        if (result == null) throw new IllegalArgumentException(c.getName() + ".apply returns " + m.getReturnType().getSimpleName()
                + "; functions return String, long or boolean");
        List<Type> params = new ArrayList<>();
        for (Class<?> p : m.getParameterTypes()) {
            Type t = languageType(p);
            if (t == null) throw new IllegalArgumentException(c.getName() + ".apply takes " + p.getSimpleName()
                    + "; parameters are String, long or boolean");
            params.add(t);
        }
        MethodHandle target;
        try {
            target = MethodHandles.publicLookup().unreflect(m).bindTo(f);
        } catch (IllegalAccessException e) {
            throw new IllegalArgumentException(c.getName() + " must be a public class with a public `apply` method: " + e.getMessage(), e);
        }
        String name = f.name();
        return new FunctionRef(name, List.copyOf(params), result, f.pure(), Math.max(1, f.cost()), origin, guard(name, target));
    }

    /** Wraps {@code target} so that it only throws {@link FunctionFailure} and never returns a null string. */
    public static MethodHandle guard(String name, MethodHandle target) {
        MethodType type = target.type();
        MethodHandle h = target;
        if (type.returnType() == String.class) {
            h = MethodHandles.filterReturnValue(h, MethodHandles.insertArguments(NON_NULL, 0, name));
        }
        MethodHandle handler = MethodHandles.insertArguments(FAIL, 0, name).asType(MethodType.methodType(type.returnType(), Throwable.class));
        handler = MethodHandles.dropArguments(handler, 1, type.parameterList());
        return MethodHandles.catchException(h, Throwable.class, handler);
    }

    public static FunctionFailure threw(String name, Throwable t) {
        if (t instanceof FunctionFailure f) return f;
        String message = t.getMessage() == null ? "" : ": " + oneLine(t.getMessage());
        return new FunctionFailure(name, FunctionFailure.Kind.THREW, "threw " + t.getClass().getSimpleName() + message);
    }

    /** At most 200 characters, on one line: error texts go to the audit log. */
    public static String oneLine(String s) {
        String t = s.replaceAll("\\s+", " ").strip();
        return t.length() <= 200 ? t : t.substring(0, 197) + "...";
    }

    private static final MethodHandle FAIL;
    private static final MethodHandle NON_NULL;

    static {
        try {
            MethodHandles.Lookup l = MethodHandles.lookup();
            FAIL = l.findStatic(FunctionRef.class, "fail", MethodType.methodType(Object.class, String.class, Throwable.class));
            NON_NULL = l.findStatic(FunctionRef.class, "nonNull", MethodType.methodType(String.class, String.class, String.class));
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private static Object fail(String name, Throwable t) {
        throw threw(name, t);
    }

    private static String nonNull(String name, String value) {
        if (value == null) throw new FunctionFailure(name, FunctionFailure.Kind.WRONG_TYPE, "returned null, expected a string");
        return value;
    }
}
