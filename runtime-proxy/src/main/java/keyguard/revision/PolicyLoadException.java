package keyguard.revision;

import java.util.function.Predicate;
import keyguard.lang.diag.Diagnostic;
import keyguard.lang.diag.DiagnosticRenderer;
import keyguard.lang.diag.Diagnostics;

/**
 * The policy directory does not compile, or its inline tests fail; {@link #report} says why,
 * and {@link #teamReport} says it to someone who may not read the operator's files: a
 * diagnostic in an operator file is reduced to its code and location, never its text or
 * source line.
 */
public final class PolicyLoadException extends RuntimeException {
    private final String report;
    private final String teamReport;

    /** @param operatorFile whether a diagnostic's file (its path as read) is the operator's */
    public PolicyLoadException(Diagnostics diagnostics, Predicate<String> operatorFile) {
        super(diagnostics.errorCount() + " error(s) in the policies");
        this.report = diagnostics.render();
        StringBuilder team = new StringBuilder();
        for (Diagnostic d : diagnostics.sorted()) {
            if (operatorFile.test(d.span().file().path())) {
                team.append(d.severity().name().toLowerCase(java.util.Locale.ROOT)).append('[').append(d.code().id())
                        .append("] in an operator file: ").append(d.span().location()).append(" (ask the platform team)\n");
            } else {
                team.append(DiagnosticRenderer.render(d)).append('\n');
            }
        }
        this.teamReport = team.toString();
    }

    public PolicyLoadException(Diagnostics diagnostics) {
        this(diagnostics, path -> false);
    }

    public PolicyLoadException(String summary, String report) {
        super(summary);
        this.report = report;
        this.teamReport = report;
    }

    /** The rendered diagnostics or failed tests. */
    public String report() { return report; }

    /** The report for a team admin: the operator's files are named, not quoted. */
    public String teamReport() { return teamReport; }
}
