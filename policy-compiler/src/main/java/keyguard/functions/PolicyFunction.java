package keyguard.functions;

/**
 * A condition function supplied by a plugin jar: the service interface of the Java SPI.
 *
 * <p>An implementation is a public class with a public no-argument constructor, listed in
 * the jar's {@code META-INF/services/keyguard.functions.PolicyFunction}, with exactly one
 * public method named {@code apply}. The types of {@code apply} are the function's types
 * in the policy language:
 *
 * <table>
 *   <tr><th>Java</th><th>policy language</th></tr>
 *   <tr><td>{@code String}</td><td>{@code string}</td></tr>
 *   <tr><td>{@code long}</td><td>{@code int}</td></tr>
 *   <tr><td>{@code boolean}</td><td>{@code bool}</td></tr>
 * </table>
 *
 * <pre>{@code
 * public final class CostCenterValid implements PolicyFunction {
 *     public String name() { return "cost_center_valid"; }
 *     public boolean apply(String costCenter) { return costCenter.matches("CC-[0-9]{4}"); }
 * }
 * }</pre>
 *
 * <p>The checker reads the types, so {@code cost_center_valid(42)} is a compile-time
 * diagnostic (KG0403). Compiled policies call {@code apply} through a constant method
 * handle, which the JIT inlines like a direct call. {@code apply} is called concurrently
 * from many threads and must be thread-safe; it must not block. An exception it throws
 * (or a {@code null} string) is a function failure: the rule that called it does what the
 * policy's {@code on error} says ({@code deny} unless the policy says {@code allow}).
 */
public interface PolicyFunction {
    /** The name conditions call it by: letters, digits and {@code _}, not a built-in's name. */
    String name();

    /**
     * Pure functions depend only on their arguments: a call whose arguments are all
     * constants is computed once, when the policy compiles. Say {@code false} for anything
     * that reads the clock, a file or other state.
     */
    default boolean pure() { return true; }

    /** Evaluation steps one call counts for in the static cost bound ({@code keyguard check --cost}). */
    default int cost() { return 10; }

    /** One line for {@code keyguard check --functions} and the docs. */
    default String description() { return ""; }
}
