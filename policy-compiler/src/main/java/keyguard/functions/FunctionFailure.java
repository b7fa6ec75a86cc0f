package keyguard.functions;

/**
 * A policy function did not return a value of its declared type: it threw, ran out of
 * time, statements or memory, tried to leave its sandbox, or returned the wrong type.
 * Raised by the function's invoker; the rule that made the call catches it and does what
 * the policy's {@code on error} says. Carries no stack trace: it is an outcome, not a bug
 * in Keyguard, and it must be cheap when a broken function fails on every request.
 */
public final class FunctionFailure extends RuntimeException {
    /** Why the call failed, as the audit log and the metrics name it. */
    public enum Kind {
        THREW("threw"), TIMEOUT("timed out"), STATEMENT_LIMIT("statement limit"), MEMORY_LIMIT("memory limit"),
        WRONG_TYPE("wrong type"), UNAVAILABLE("unavailable");

        private final String word;

        Kind(String word) { this.word = word; }

        public String word() { return word; }
    }

    private final String function;
    private final Kind kind;

    public FunctionFailure(String function, Kind kind, String detail) {
        super("function `" + function + "` " + detail, null, false, false);
        this.function = function;
        this.kind = kind;
    }

    public String function() { return function; }

    public Kind kind() { return kind; }
}
