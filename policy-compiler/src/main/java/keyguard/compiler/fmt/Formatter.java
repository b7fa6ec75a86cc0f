package keyguard.compiler.fmt;

import java.util.ArrayList;
import java.util.List;
import keyguard.lang.antlr.KgpLexer;
import keyguard.lang.diag.Diagnostics;
import keyguard.lang.parse.PolicyParser;
import keyguard.lang.source.SourceFile;
import keyguard.lang.source.Span;
import keyguard.lang.syntax.Annotation;
import keyguard.lang.syntax.Expr;
import keyguard.lang.syntax.Item;
import keyguard.lang.syntax.MapEntry;
import keyguard.lang.syntax.PolicyFile;
import keyguard.lang.syntax.PriceTerm;
import keyguard.lang.syntax.Setting;
import keyguard.lang.syntax.Statement;
import keyguard.lang.syntax.TestClause;
import keyguard.lang.syntax.Value;
import org.antlr.v4.runtime.CharStreams;
import org.antlr.v4.runtime.Token;

/**
 * The canonical layout of {@code .kgp} files: two-space indentation, one declaration,
 * setting, statement or test clause per line, single spaces around operators, setting
 * values aligned within a block, one blank line between declarations, and blank lines
 * inside blocks kept (collapsed to one) where the author grouped statements.
 *
 * <p>Comments are kept: a comment on its own line stays before the line that follows it,
 * a comment after code stays at the end of that line. Parentheses are kept as written.
 *
 * <p>{@link #format} proves its work: it re-parses the output and requires the same code
 * tokens (ignoring optional commas) and the same comments in the same order, so a
 * formatted file always means what the original meant. A comment written between the
 * words of a declaration's head may move to the end of that line.
 */
public final class Formatter {
    private static final String INDENT = "  ";

    private final SourceFile source;
    private final List<PolicyFile.Comment> comments;
    private int nextComment;
    private final StringBuilder out = new StringBuilder();
    private final StringBuilder line = new StringBuilder();
    private int depth;

    private Formatter(PolicyFile file) {
        this.source = file.source();
        this.comments = file.comments();
    }

    /** The formatted text, or diagnostics when the input does not parse. */
    public record Result(String text, Diagnostics diagnostics) {
        public boolean ok() { return text != null; }
    }

    public static Result format(SourceFile source) {
        PolicyParser.Result parsed = PolicyParser.parse(source);
        if (!parsed.ok()) return new Result(null, parsed.diagnostics());
        String text = print(parsed.file());
        verify(source, text);
        return new Result(text, parsed.diagnostics());
    }

    /** Prints a parsed file canonically (without verification). */
    public static String print(PolicyFile file) {
        Formatter f = new Formatter(file);
        f.file(file);
        return f.out.toString();
    }

    /** Throws if the formatted text does not have exactly the original's tokens and comments. */
    static void verify(SourceFile original, String formatted) {
        PolicyParser.Result again = PolicyParser.parse(new SourceFile(original.path(), formatted));
        if (!again.ok()) {
            throw new IllegalStateException("formatter bug: output of " + original.path() + " does not parse:\n" + again.diagnostics().render());
        }
        compare(original, significant(original.text(), false), significant(formatted, false), "changed meaning");
        compare(original, significant(original.text(), true), significant(formatted, true), "lost or reordered a comment");
    }

    private static void compare(SourceFile original, List<String> before, List<String> after, String what) {
        if (!before.equals(after)) {
            int i = 0;
            while (i < Math.min(before.size(), after.size()) && before.get(i).equals(after.get(i))) i++;
            throw new IllegalStateException("formatter bug: " + original.path() + " " + what + " at token " + i + ": "
                    + (i < before.size() ? before.get(i) : "<end>") + " became " + (i < after.size() ? after.get(i) : "<end>"));
        }
    }

    /** The code tokens (without optional commas), or the comments, in order. */
    private static List<String> significant(String text, boolean comments) {
        KgpLexer lexer = new KgpLexer(CharStreams.fromString(text));
        lexer.removeErrorListeners();
        List<String> out = new ArrayList<>();
        for (Token t = lexer.nextToken(); t.getType() != Token.EOF; t = lexer.nextToken()) {
            boolean comment = t.getType() == KgpLexer.BLOCK_COMMENT || t.getType() == KgpLexer.LINE_COMMENT;
            if (t.getType() == KgpLexer.WS || t.getType() == KgpLexer.COMMA || comment != comments) continue;
            out.add(comment ? t.getText().strip() : t.getType() + ":" + t.getText());
        }
        return out;
    }

    // ------------------------------------------------------------------ layout

    private void file(PolicyFile file) {
        boolean first = true;
        for (Item item : file.items()) {
            if (!first) blankLine();
            first = false;
            commentsBefore(item.span().start(), !first);
            item(item);
        }
        commentsBefore(Integer.MAX_VALUE, false);
        flush();
        while (out.length() > 1 && out.charAt(out.length() - 1) == '\n' && out.charAt(out.length() - 2) == '\n') out.setLength(out.length() - 1);
        if (!out.isEmpty() && out.charAt(out.length() - 1) != '\n') out.append('\n');
        if (out.toString().isBlank()) out.setLength(0);
    }

    private void item(Item item) {
        switch (item) {
            case Item.Provider p -> {
                text("provider " + p.name().text() + " {");
                settings(p.settings(), List.of(), p.span());
            }
            case Item.Model m -> {
                text("model " + m.quoted().span().text() + " {");
                settings(m.settings(), m.prices(), m.span());
            }
            case Item.Detector d -> {
                text("detector " + d.quoted().span().text() + " {");
                settings(d.settings(), List.of(), d.span());
            }
            case Item.Label l -> {
                text("label " + l.name().text() + " {");
                settings(l.settings(), List.of(), l.span());
            }
            case Item.Channel ch -> {
                text("channel " + ch.name().text() + " {");
                settings(ch.settings(), List.of(), ch.span());
            }
            case Item.OrgUnit o -> {
                text("org " + o.name().text() + " {");
                orgBody(o.settings(), o.body(), o.span());
            }
            case Item.Team t -> {
                text("team " + t.name().text() + " {");
                orgBody(t.settings(), t.body(), t.span());
            }
            case Item.Function f -> {
                StringBuilder sb = new StringBuilder("function " + f.language().text() + " " + f.name().text() + "(");
                for (int i = 0; i < f.params().size(); i++) {
                    Item.Param p = f.params().get(i);
                    if (i > 0) sb.append(", ");
                    sb.append(p.name().text()).append(": ").append(p.type().text());
                    if (p.defaultValue() != null) sb.append(" = ").append(expr(p.defaultValue()));
                }
                text(sb.append(") -> ").append(f.result().text()).append(" = ").append(value(f.body())).toString());
                newline();
            }
            case Item.Template t -> {
                StringBuilder sb = new StringBuilder("template " + t.name().text() + "(");
                for (int i = 0; i < t.params().size(); i++) {
                    Item.Param p = t.params().get(i);
                    if (i > 0) sb.append(", ");
                    sb.append(p.name().text()).append(": ").append(p.type().text());
                    if (p.defaultValue() != null) sb.append(" = ").append(expr(p.defaultValue()));
                }
                text(sb.append(") {").toString());
                body(t.body(), t.span());
            }
            case Item.Policy p -> {
                StringBuilder sb = new StringBuilder("policy " + p.name().text());
                if (p.base() != null) {
                    sb.append(" = ").append(p.base().text()).append('(');
                    for (int i = 0; i < p.args().size(); i++) {
                        if (i > 0) sb.append(", ");
                        sb.append(p.args().get(i).name().text()).append(": ").append(expr(p.args().get(i).value()));
                    }
                    sb.append(')');
                }
                boolean hasBody = !p.body().isEmpty() || p.span().text().stripTrailing().endsWith("}");
                if (!hasBody) {
                    text(sb.toString());
                    newline();
                } else {
                    text(sb.append(" {").toString());
                    body(p.body(), p.span());
                }
            }
            case Item.Tests t -> {
                text("tests " + t.name().text() + " {");
                newline();
                depth++;
                int prevEnd = -1;
                for (Item.TestCase c : t.cases()) {
                    if (prevEnd >= 0) blankLine();
                    commentsBefore(c.span().start(), true);
                    testCase(c);
                    prevEnd = c.span().end();
                }
                close(t.span());
            }
        }
    }

    private void settings(List<Setting> settings, List<PriceTerm> prices, Span block) {
        newline();
        depth++;
        record Line(int start, String key, String value, Span span) {}
        List<Line> lines = new ArrayList<>();
        for (Setting s : settings) lines.add(new Line(s.span().start(), s.name().text(), value(s.value()), s.span()));
        for (List<PriceTerm> group : priceGroups(prices)) {
            StringBuilder sb = new StringBuilder();
            for (PriceTerm t : group) {
                if (!sb.isEmpty()) sb.append(", ");
                sb.append(t.direction().text()).append(' ').append(t.amountRaw()).append(' ').append(t.currency().text())
                        .append(" per ").append(t.per()).append(' ').append(t.unit().text());
            }
            Span first = group.get(0).span();
            int start = first.start();
            String head = source.text().substring(0, start);
            int kw = head.lastIndexOf("price");
            lines.add(new Line(kw >= 0 ? kw : start, "price", sb.toString(), group.get(group.size() - 1).span()));
        }
        lines.sort(java.util.Comparator.comparingInt(Line::start));
        int width = 0;
        for (Line l : lines) width = Math.max(width, l.key().length());
        int prevEnd = -1;
        for (Line l : lines) {
            if (prevEnd >= 0 && blankBetween(prevEnd, l.start())) blankLine();
            commentsBefore(l.start(), true);
            text(pad(l.key(), width) + " " + l.value());
            commentsOnLineOf(l.span().end(), block.end() - 1);
            newline();
            prevEnd = l.span().end();
        }
        close(block);
    }

    /** Consecutive price terms separated only by a comma came from one {@code price} line. */
    private List<List<PriceTerm>> priceGroups(List<PriceTerm> prices) {
        List<List<PriceTerm>> groups = new ArrayList<>();
        for (PriceTerm t : prices) {
            if (!groups.isEmpty()) {
                List<PriceTerm> last = groups.get(groups.size() - 1);
                String between = source.text().substring(last.get(last.size() - 1).span().end(), t.span().start())
                        .replaceAll("(?s)/\\*.*?\\*/", " ").replaceAll("//[^\\n]*", " ").strip();
                if (between.equals(",")) {
                    last.add(t);
                    continue;
                }
            }
            groups.add(new ArrayList<>(List.of(t)));
        }
        return groups;
    }

    private void body(List<Statement> body, Span block) {
        newline();
        depth++;
        int prevEnd = -1;
        for (Statement s : body) {
            if (prevEnd >= 0 && blankBetween(prevEnd, s.span().start())) blankLine();
            commentsBefore(s.span().start(), true);
            statement(s);
            commentsOnLineOf(s.span().end(), block.end() - 1);
            newline();
            prevEnd = s.span().end();
        }
        close(block);
    }

    /** A unit's or team's settings and its limits and budgets, in the order written; settings aligned. */
    private void orgBody(List<Setting> settings, List<Statement> body, Span block) {
        newline();
        depth++;
        int width = 0;
        for (Setting st : settings) width = Math.max(width, st.name().text().length());
        List<Object> lines = new ArrayList<>(settings);
        lines.addAll(body);
        lines.sort(java.util.Comparator.comparingInt(o -> o instanceof Setting st ? st.span().start() : ((Statement) o).span().start()));
        int prevEnd = -1;
        for (Object line : lines) {
            Span span = line instanceof Setting st ? st.span() : ((Statement) line).span();
            if (prevEnd >= 0 && blankBetween(prevEnd, span.start())) blankLine();
            commentsBefore(span.start(), true);
            if (line instanceof Setting st) text(pad(st.name().text(), width) + " " + value(st.value()));
            else statement((Statement) line);
            commentsOnLineOf(span.end(), block.end() - 1);
            newline();
            prevEnd = span.end();
        }
        close(block);
    }

    private void close(Span block) {
        commentsBefore(block.end() - 1, true);
        depth--;
        text("}");
        commentsOnLineOf(block.end());
        newline();
    }

    private void statement(Statement s) {
        switch (s) {
            case Statement.Tags t -> text("tags " + entries(t.entries()));
            case Statement.Models m -> text((m.override() ? "override " : "") + "models " + m.verb().text() + (m.add() ? " += " : " ") + list(m.models()));
            case Statement.Limit l -> text((l.override() ? "override " : "") + "limit " + l.metric().text() + " " + l.amount().raw()
                    + (l.window() == null ? "" : " per " + l.window().text()) + (l.scope() == null ? "" : " by " + l.scope().text())
                    + (l.failMode() == null ? "" : " fail " + l.failMode().text()) + (l.mode() == null ? "" : " " + l.mode().text()) + alert(l.alert()));
            case Statement.Params pa -> text((pa.override() ? "override " : "") + "allow params " + list(pa.params()));
            case Statement.RequestTags rt -> {
                StringBuilder sb = new StringBuilder(rt.override() ? "override " : "").append("allow tags {");
                for (int i = 0; i < rt.tags().size(); i++) {
                    Statement.RequestTag t = rt.tags().get(i);
                    sb.append(i == 0 ? " " : ", ").append(t.quoted() ? t.keySpan().text() : t.key());
                    if (t.presence() != null) sb.append(' ').append(t.presence().text());
                    if (!t.values().isEmpty()) sb.append(" in ").append(list(t.values()));
                }
                text(sb.append(rt.tags().isEmpty() ? "}" : " }").toString());
            }
            case Statement.EndUsers eu -> {
                StringBuilder sb = new StringBuilder(eu.override() ? "override " : "").append("end_users {");
                for (Setting st : eu.settings()) sb.append(' ').append(st.name().text()).append(' ').append(value(st.value()));
                text(sb.append(eu.settings().isEmpty() ? "}" : " }").toString());
            }
            case Statement.Budget b -> text((b.override() ? "override " : "") + "budget " + b.amount().raw() + " " + b.currency().text()
                    + " per " + b.period().text() + (b.kind() == null ? "" : " " + b.kind().text())
                    + (b.warnPercent() == null ? "" : " warn at " + b.warnPercent().raw()) + (b.scope() == null ? "" : " by " + b.scope().text())
                    + alert(b.alert()));
            case Statement.Data d -> text((d.override() ? "override " : "") + "data " + d.level().text() + " " + d.dataClass().text()
                    + (d.violation() == null ? "" : " on " + d.violation().text() + " " + d.action().text())
                    + (d.target() == null ? "" : " " + d.target().span().text()));
            case Statement.Zone z -> text("zone " + z.zone().span().text());
            case Statement.On o -> text((o.override() ? "override " : "") + "on " + o.event().text() + " " + o.action().text());
            case Statement.Delegate dg -> text((dg.override() ? "override " : "") + "delegate " + dg.maxWord().text() + " " + dg.max().raw()
                    + (dg.depthWord() == null ? "" : " " + dg.depthWord().text() + " " + dg.depth().raw()));
            case Statement.Default df -> text((df.override() ? "override " : "") + "default " + df.setting().text() + " " + df.amount().raw());
            case Statement.Forbid f -> {
                for (Annotation a : f.annotations()) {
                    commentsBefore(a.span().start(), true);
                    text("@" + a.name().text() + "(" + a.value().span().text() + ")");
                    commentsOnLineOf(a.span().end());
                    newline();
                }
                int whenAt = f.when().span().start();
                commentsBefore(whenAt, true);
                text("forbid when { " + expr(f.when()) + " }");
                if (f.unless() != null) {
                    commentsOnLineOf(f.when().span().end());
                    newline();
                    commentsBefore(f.unless().span().start(), true);
                    text("       unless { " + expr(f.unless()) + " }");
                }
            }
        }
    }

    /** A limit's or budget's {@code alert} clause, with its leading space; empty for none. */
    private static String alert(Statement.Alert a) {
        if (a == null) return "";
        StringBuilder sb = new StringBuilder(" alert ").append(a.channel().text());
        if (!a.percents().isEmpty()) {
            sb.append(" at ");
            for (int i = 0; i < a.percents().size(); i++) sb.append(i == 0 ? "" : ", ").append(a.percents().get(i).raw());
        } else {
            sb.append(' ').append(a.after() == null ? "after" : a.after().text()).append(' ').append(a.count() == null ? "" : a.count().raw());
        }
        return sb.toString();
    }

    private void testCase(Item.TestCase c) {
        text("test " + c.name().span().text() + " {");
        newline();
        depth++;
        for (TestClause clause : c.clauses()) {
            commentsBefore(clause.span().start(), true);
            switch (clause) {
                case TestClause.Section s -> text(pad(s.section().text(), 7) + " " + entries(s.entries()));
                case TestClause.At a -> text(pad("at", 7) + " " + a.instant().span().text());
                case TestClause.Expect e -> text(pad("expect", 7) + " " + e.outcome().text()
                        + (e.rule() == null ? "" : " by " + e.rule().span().text())
                        + (e.tags() == null ? "" : " tags " + entries(e.tags())));
            }
            commentsOnLineOf(clause.span().end(), c.span().end() - 1);
            newline();
        }
        close(c.span());
    }

    // ------------------------------------------------------------------ pieces

    private String entries(List<MapEntry> entries) {
        if (entries.isEmpty()) return "{ }";
        StringBuilder sb = new StringBuilder("{ ");
        for (int i = 0; i < entries.size(); i++) {
            MapEntry e = entries.get(i);
            if (i > 0) sb.append(", ");
            sb.append(e.quoted() ? e.keySpan().text() : e.key()).append(": ").append(expr(e.value()));
        }
        return sb.append(" }").toString();
    }

    private String list(List<Expr> items) {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < items.size(); i++) {
            if (i > 0) sb.append(", ");
            sb.append(expr(items.get(i)));
        }
        return sb.append(']').toString();
    }

    private String value(Value v) {
        return switch (v) {
            case Value.Str s -> s.span().text();
            case Value.Num n -> n.raw();
            case Value.Suffixed s -> s.raw();
            case Value.Call c -> c.function().text() + "(" + c.arg().span().text() + ")";
            case Value.Word w -> w.word().text();
            case Value.ListV l -> list(l.items());
        };
    }

    static String expr(Expr e) {
        return switch (e) {
            case Expr.Str s -> s.span().text();
            case Expr.Int i -> i.raw();
            case Expr.Dec d -> d.raw();
            case Expr.Bool b -> Boolean.toString(b.value());
            case Expr.Not n -> "!" + expr(n.operand());
            case Expr.Neg n -> "-" + expr(n.operand());
            case Expr.Binary b -> expr(b.left()) + " " + b.op() + " " + expr(b.right());
            case Expr.In in -> expr(in.element()) + " in " + expr(in.collection());
            case Expr.Range r -> expr(r.low()) + ".." + expr(r.high());
            case Expr.ListExpr l -> {
                StringBuilder sb = new StringBuilder("[");
                for (int i = 0; i < l.items().size(); i++) {
                    if (i > 0) sb.append(", ");
                    sb.append(expr(l.items().get(i)));
                }
                yield sb.append(']').toString();
            }
            case Expr.Call c -> {
                StringBuilder sb = new StringBuilder(c.function().text()).append('(');
                for (int i = 0; i < c.args().size(); i++) {
                    if (i > 0) sb.append(", ");
                    sb.append(expr(c.args().get(i)));
                }
                yield sb.append(')').toString();
            }
            case Expr.Path p -> p.dotted();
            case Expr.Index ix -> expr(ix.target()) + "[" + expr(ix.index()) + "]";
            case Expr.Paren p -> "(" + expr(p.inner()) + ")";
        };
    }

    private static String pad(String s, int width) {
        return s.length() >= width ? s : s + " ".repeat(width - s.length());
    }

    // ------------------------------------------------------------------ comments and lines

    /** Emits every comment that starts before {@code offset}: trailing ones at the end of the current line. */
    private void commentsBefore(int offset, boolean indented) {
        PolicyFile.Comment lastOwnLine = null;
        while (nextComment < comments.size() && comments.get(nextComment).span().start() < offset) {
            PolicyFile.Comment c = comments.get(nextComment++);
            lastOwnLine = null;
            if (!c.ownLine() && (!line.isEmpty() || lastLineHasCode())) {
                if (line.isEmpty() && !lastFlushedEndsInLineComment) reopenLastLine();
                trailing(c.text());
                newline();
            } else {
                if (!line.isEmpty()) newline();
                if (nextComment > 1 && blankBefore(c)) blankLine();
                text(c.text());
                if (c.text().startsWith("//")) lineEndsInLineComment = true;
                newline();
                lastOwnLine = c;
            }
        }
        if (lastOwnLine != null && offset != Integer.MAX_VALUE && offset <= source.text().length()
                && source.text().substring(lastOwnLine.span().end(), offset).matches("(?s).*\\n[ \\t\\r]*\\n.*")) {
            blankLine();
        }
    }

    /** Emits comments that stand on the same source line as {@code offset}, after it. */
    private void commentsOnLineOf(int offset) {
        commentsOnLineOf(offset, Integer.MAX_VALUE);
    }

    /** The same, for a line inside a block: only comments before the block's closing brace at {@code limit}. */
    private void commentsOnLineOf(int offset, int limit) {
        int srcLine = source.line(Math.max(0, offset - 1));
        while (nextComment < comments.size()) {
            PolicyFile.Comment c = comments.get(nextComment);
            if (c.ownLine() || c.span().start() < offset || c.span().start() >= limit || source.line(c.span().start()) != srcLine) break;
            nextComment++;
            trailing(c.text());
        }
    }

    /** Appends a comment to the current line, or starts a new line if a {@code //} comment already ends it. */
    private void trailing(String comment) {
        if (lineEndsInLineComment || line.isEmpty()) {
            flush();
            text(comment);
        } else {
            line.append(' ').append(comment);
        }
        if (comment.startsWith("//")) lineEndsInLineComment = true;
    }

    private boolean blankBefore(PolicyFile.Comment c) {
        int start = c.span().start();
        int i = start - 1;
        while (i >= 0 && source.text().charAt(i) != '\n') i--;
        int j = i - 1;
        while (j >= 0 && (source.text().charAt(j) == ' ' || source.text().charAt(j) == '\t' || source.text().charAt(j) == '\r')) j--;
        return j >= 0 && source.text().charAt(j) == '\n' && out.length() > 0 && !endsWithBlank();
    }

    private boolean blankBetween(int from, int to) {
        String gap = source.text().substring(Math.min(from, to), to);
        int firstComment = Integer.MAX_VALUE;
        for (int k = nextComment; k < comments.size(); k++) {
            if (comments.get(k).span().start() >= from && comments.get(k).span().start() < to) {
                firstComment = comments.get(k).span().start();
                break;
            }
        }
        if (firstComment != Integer.MAX_VALUE) gap = source.text().substring(from, firstComment);
        return gap.matches("(?s).*\\n[ \\t\\r]*\\n.*");
    }

    private boolean lastLineHasCode() {
        return out.length() > 0 && !endsWithBlank();
    }

    private boolean endsWithBlank() {
        return out.length() >= 2 && out.charAt(out.length() - 1) == '\n' && out.charAt(out.length() - 2) == '\n';
    }

    private void reopenLastLine() {
        int end = out.length() - 1;
        int start = out.lastIndexOf("\n", end - 1) + 1;
        line.append(out, start, end);
        out.setLength(start);
        lineIndentKnown = true;
    }

    private boolean lineIndentKnown;
    private boolean lineEndsInLineComment;
    private boolean lastFlushedEndsInLineComment;

    private void text(String s) {
        if (lineEndsInLineComment) flush();
        if (line.isEmpty() && !lineIndentKnown) line.append(INDENT.repeat(Math.max(0, depth)));
        lineIndentKnown = true;
        line.append(s);
    }

    private void newline() {
        flush();
    }

    private void flush() {
        if (!line.isEmpty()) {
            int end = line.length();
            while (end > 0 && line.charAt(end - 1) == ' ') end--;
            out.append(line, 0, end).append('\n');
        }
        line.setLength(0);
        lineIndentKnown = false;
        lastFlushedEndsInLineComment = lineEndsInLineComment;
        lineEndsInLineComment = false;
    }

    private void blankLine() {
        flush();
        if (out.length() > 0 && !endsWithBlank()) out.append('\n');
    }
}
