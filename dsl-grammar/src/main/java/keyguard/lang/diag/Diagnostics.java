package keyguard.lang.diag;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;

/** Collects diagnostics in the order a reader expects: by file, then by position. */
public final class Diagnostics {
    private final List<Diagnostic> all = new ArrayList<>();
    private final java.util.Set<Key> seen = new java.util.HashSet<>();

    private record Key(Code code, keyguard.lang.source.Span span, String message) {}

    /** Adds a diagnostic unless the same one is already here (a template checked for several policies). */
    public void add(Diagnostic d) {
        if (seen.add(new Key(d.code(), d.span(), d.message()))) all.add(d);
    }

    public void addAll(Diagnostics other) { other.all.forEach(this::add); }

    public boolean hasErrors() {
        for (Diagnostic d : all) if (d.isError()) return true;
        return false;
    }

    public long errorCount() { return all.stream().filter(Diagnostic::isError).count(); }

    public long warningCount() { return all.size() - errorCount(); }

    public List<Diagnostic> sorted() {
        List<Diagnostic> copy = new ArrayList<>(all);
        copy.sort(Comparator.comparing((Diagnostic d) -> d.span().file().path())
                .thenComparingInt(d -> d.span().start())
                .thenComparing(d -> d.code().id()));
        return Collections.unmodifiableList(copy);
    }

    public boolean isEmpty() { return all.isEmpty(); }

    public String render() {
        StringBuilder sb = new StringBuilder();
        for (Diagnostic d : sorted()) sb.append(DiagnosticRenderer.render(d)).append('\n');
        return sb.toString();
    }
}
