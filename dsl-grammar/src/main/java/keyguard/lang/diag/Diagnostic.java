package keyguard.lang.diag;

import keyguard.lang.source.Span;

/**
 * One finding about a policy file: a stable code from {@link Code}, a message (lowercase,
 * user input in backticks), the span it is about, a label printed under the caret, and an
 * optional hint. Rendered by {@link DiagnosticRenderer}.
 */
public record Diagnostic(Code code, Severity severity, String message, Span span, String label, String help) {

    public static Diagnostic error(Code code, Span span, String message) {
        return new Diagnostic(code, Severity.ERROR, message, span, "", "");
    }

    public static Diagnostic warning(Code code, Span span, String message) {
        return new Diagnostic(code, Severity.WARNING, message, span, "", "");
    }

    public Diagnostic label(String label) {
        return new Diagnostic(code, severity, message, span, label, help);
    }

    public Diagnostic help(String help) {
        return new Diagnostic(code, severity, message, span, label, help);
    }

    public boolean isError() { return severity == Severity.ERROR; }

    @Override
    public String toString() { return DiagnosticRenderer.render(this); }
}
