package keyguard.lang.diag;

public enum Severity {
    ERROR, WARNING;

    public String label() { return this == ERROR ? "error" : "warning"; }
}
