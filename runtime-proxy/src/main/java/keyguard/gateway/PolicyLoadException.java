package keyguard.gateway;

import keyguard.lang.diag.Diagnostics;

/** The policy directory does not compile, or its inline tests fail; {@link #report} says why. */
public final class PolicyLoadException extends RuntimeException {
    private final String report;

    public PolicyLoadException(Diagnostics diagnostics) {
        super(diagnostics.errorCount() + " error(s) in the policies");
        this.report = diagnostics.render();
    }

    public PolicyLoadException(String summary, String report) {
        super(summary);
        this.report = report;
    }

    /** The rendered diagnostics or failed tests. */
    public String report() { return report; }
}
