package keyguard.gateway;

import keyguard.lang.diag.Diagnostics;

/** The policy directory does not compile; the diagnostics say why. */
public final class PolicyLoadException extends RuntimeException {
    private final transient Diagnostics diagnostics;

    public PolicyLoadException(Diagnostics diagnostics) {
        super(diagnostics.errorCount() + " error(s) in the policies");
        this.diagnostics = diagnostics;
    }

    public Diagnostics diagnostics() { return diagnostics; }
}
