package keyguard.lang.syntax;

import java.util.List;
import keyguard.lang.source.SourceFile;
import keyguard.lang.source.Span;

/** One parsed {@code .kgp} file: its declarations and its comments (kept for the formatter). */
public record PolicyFile(SourceFile source, List<Item> items, List<Comment> comments) {

    /** A {@code //} or {@code /* *\/} comment; {@code ownLine} when nothing but blanks precede it on its line. */
    public record Comment(String text, Span span, boolean ownLine) {}
}
