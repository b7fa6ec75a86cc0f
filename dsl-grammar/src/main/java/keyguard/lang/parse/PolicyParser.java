package keyguard.lang.parse;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import keyguard.lang.antlr.KgpLexer;
import keyguard.lang.antlr.KgpParser;
import keyguard.lang.diag.Code;
import keyguard.lang.diag.Diagnostic;
import keyguard.lang.diag.Diagnostics;
import keyguard.lang.source.SourceFile;
import keyguard.lang.source.Span;
import keyguard.lang.syntax.PolicyFile;
import org.antlr.v4.runtime.BailErrorStrategy;
import org.antlr.v4.runtime.BaseErrorListener;
import org.antlr.v4.runtime.CharStreams;
import org.antlr.v4.runtime.CommonTokenStream;
import org.antlr.v4.runtime.DefaultErrorStrategy;
import org.antlr.v4.runtime.Parser;
import org.antlr.v4.runtime.RecognitionException;
import org.antlr.v4.runtime.Recognizer;
import org.antlr.v4.runtime.Token;
import org.antlr.v4.runtime.atn.PredictionMode;
import org.antlr.v4.runtime.misc.IntervalSet;
import org.antlr.v4.runtime.misc.ParseCancellationException;

/**
 * Text in, syntax tree or diagnostics out. This is the only class that talks to ANTLR;
 * no ANTLR message ever reaches a user. A file with a syntax error yields exactly one
 * diagnostic (the first error), because recovery guesses produce noise, not help.
 *
 * <p>Guarantees: never throws on any input and never recurses deeper than {@link #MAX_DEPTH}
 * nesting levels, so random bytes, truncated files, megabyte lines and deep nesting all end
 * in a diagnostic.
 */
public final class PolicyParser {
    public static final int MAX_DEPTH = 64;
    /** Operators in one condition; keeps trees shallow enough for every later pass. */
    public static final int MAX_CONDITION_OPERATORS = 1_000;

    private PolicyParser() {}

    /** The result of parsing one file: a tree when there were no syntax errors. */
    public record Result(PolicyFile file, Diagnostics diagnostics) {
        public boolean ok() { return file != null && !diagnostics.hasErrors(); }
    }

    /** Decodes strictly as UTF-8, then parses. */
    public static Result parse(String path, byte[] bytes) {
        try {
            String text = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes)).toString();
            return parse(new SourceFile(path, text));
        } catch (CharacterCodingException e) {
            int bad = firstInvalidUtf8(bytes);
            String lossy = new String(bytes, 0, bad, StandardCharsets.UTF_8);
            SourceFile file = new SourceFile(path, lossy + "\uFFFD");
            Diagnostics d = new Diagnostics();
            d.add(Diagnostic.error(Code.KG0007, new Span(file, lossy.length(), lossy.length() + 1),
                            "invalid UTF-8 at byte " + bad)
                    .label("this byte does not start or continue a UTF-8 character")
                    .help("save the file as UTF-8"));
            return new Result(null, d);
        }
    }

    public static Result parse(SourceFile source) {
        Diagnostics diagnostics = new Diagnostics();
        KgpLexer lexer = new KgpLexer(CharStreams.fromString(source.text(), source.path()));
        lexer.removeErrorListeners();
        CommonTokenStream tokens = new CommonTokenStream(lexer);
        tokens.fill();

        Diagnostic lexical = lexicalError(source, tokens.getTokens());
        if (lexical != null) {
            diagnostics.add(lexical);
            return new Result(null, diagnostics);
        }

        KgpParser.FileContext tree;
        try {
            tree = parseTree(source, tokens);
        } catch (SyntaxError e) {
            diagnostics.add(e.diagnostic);
            return new Result(null, diagnostics);
        } catch (StackOverflowError e) {
            diagnostics.add(Diagnostic.error(Code.KG0006, new Span(source, 0, 1), "nesting too deep to parse"));
            return new Result(null, diagnostics);
        }

        SyntaxTreeBuilder builder = new SyntaxTreeBuilder(source, tokens, diagnostics);
        PolicyFile file = builder.build(tree);
        return new Result(diagnostics.hasErrors() ? null : file, diagnostics);
    }

    private static KgpParser.FileContext parseTree(SourceFile source, CommonTokenStream tokens) {
        KgpParser parser = new KgpParser(tokens);
        parser.removeErrorListeners();
        parser.setErrorHandler(new BailErrorStrategy());
        parser.getInterpreter().setPredictionMode(PredictionMode.SLL);
        try {
            return parser.file();
        } catch (ParseCancellationException sllFailed) {
            tokens.seek(0);
            parser.reset();
            parser.setErrorHandler(new DefaultErrorStrategy());
            parser.getInterpreter().setPredictionMode(PredictionMode.LL);
            parser.addErrorListener(new FirstErrorListener(source));
            return parser.file();
        }
    }

    private static Diagnostic lexicalError(SourceFile source, List<Token> tokens) {
        int depth = 0;
        int prefixRun = 0;
        int operators = 0;
        Token conditionStart = null;
        for (Token t : tokens) {
            switch (t.getType()) {
                case KgpLexer.WHEN, KgpLexer.UNLESS, KgpLexer.FORBID, KgpLexer.POLICY, KgpLexer.TEMPLATE, KgpLexer.TESTS,
                     KgpLexer.TEST, KgpLexer.TAGS, KgpLexer.LIMIT, KgpLexer.BUDGET, KgpLexer.MODELS -> {
                    operators = 0;
                    conditionStart = t;
                }
                case KgpLexer.AND, KgpLexer.OR, KgpLexer.EQ, KgpLexer.NE, KgpLexer.LT, KgpLexer.LE, KgpLexer.GT, KgpLexer.GE,
                     KgpLexer.IN, KgpLexer.DOTDOT -> {
                    if (++operators > MAX_CONDITION_OPERATORS) {
                        Span at = conditionStart == null ? span(source, t) : span(source, conditionStart);
                        return Diagnostic.error(Code.KG0010, at, "condition has more than " + MAX_CONDITION_OPERATORS + " operators")
                                .label("this block is too large")
                                .help("split the rule, or use `x in [...]` for long lists of alternatives");
                    }
                }
                default -> { }
            }
            switch (t.getType()) {
                case KgpLexer.ERROR_CHAR -> {
                    String ch = t.getText();
                    return Diagnostic.error(Code.KG0001, span(source, t), "unexpected character `" + printable(ch) + "`")
                            .label("not part of the language")
                            .help(ch.equals("'") ? "strings use double quotes: \"...\""
                                    : ch.equals("#") ? "comments start with `//`" : "remove it");
                }
                case KgpLexer.UNTERMINATED_STRING -> {
                    return Diagnostic.error(Code.KG0002, new Span(source, t.getStartIndex(), t.getStartIndex() + 1), "unterminated string")
                            .label("this string is never closed")
                            .help("add a closing `\"` on the same line");
                }
                case KgpLexer.UNTERMINATED_COMMENT -> {
                    return Diagnostic.error(Code.KG0003, new Span(source, t.getStartIndex(), t.getStartIndex() + 2), "unterminated block comment")
                            .label("this comment is never closed")
                            .help("add `*/` where the comment should end");
                }
                case KgpLexer.LBRACE, KgpLexer.LPAREN, KgpLexer.LBRACK -> depth++;
                case KgpLexer.RBRACE, KgpLexer.RPAREN, KgpLexer.RBRACK -> depth = Math.max(0, depth - 1);
                default -> { }
            }
            if (t.getChannel() == Token.DEFAULT_CHANNEL) {
                prefixRun = (t.getType() == KgpLexer.BANG || t.getType() == KgpLexer.MINUS) ? prefixRun + 1 : 0;
            }
            if (depth + prefixRun > MAX_DEPTH) {
                return Diagnostic.error(Code.KG0006, span(source, t), "nesting deeper than " + MAX_DEPTH + " levels")
                        .label("too deep here")
                        .help("split the condition or remove redundant brackets");
            }
        }
        return null;
    }

    static Span span(SourceFile source, Token t) {
        int start = Math.max(0, t.getStartIndex());
        int end = t.getType() == Token.EOF ? start : t.getStopIndex() + 1;
        return new Span(source, start, Math.max(start, end));
    }

    private static String printable(String s) {
        int cp = s.codePointAt(0);
        if (Character.isISOControl(cp) || Character.isWhitespace(cp) || !Character.isDefined(cp)) {
            return String.format("\\u{%04x}", cp);
        }
        return s;
    }

    private static int firstInvalidUtf8(byte[] bytes) {
        var decoder = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        ByteBuffer in = ByteBuffer.wrap(bytes);
        var out = java.nio.CharBuffer.allocate(bytes.length + 1);
        var result = decoder.decode(in, out, true);
        return result.isError() ? in.position() : bytes.length;
    }

    /** Carries the first syntax error out of the parser, stopping it. */
    static final class SyntaxError extends RuntimeException {
        final transient Diagnostic diagnostic;

        SyntaxError(Diagnostic diagnostic) {
            super(diagnostic.message(), null, false, false);
            this.diagnostic = diagnostic;
        }
    }

    private static final class FirstErrorListener extends BaseErrorListener {
        private final SourceFile source;

        FirstErrorListener(SourceFile source) { this.source = source; }

        @Override
        public void syntaxError(Recognizer<?, ?> recognizer, Object offendingSymbol, int line, int col, String msg, RecognitionException e) {
            Parser parser = (Parser) recognizer;
            Token t = (Token) offendingSymbol;
            IntervalSet expected;
            try {
                expected = e != null && e.getExpectedTokens() != null ? e.getExpectedTokens() : parser.getExpectedTokens();
            } catch (RuntimeException ignored) {
                expected = new IntervalSet();
            }
            String wanted = TokenNames.describe(expected);
            Diagnostic d;
            if (t.getType() == Token.EOF) {
                d = Diagnostic.error(Code.KG0005, span(source, t), "unexpected end of file")
                        .label(wanted.isEmpty() ? "the file ends here" : "expected " + wanted)
                        .help("a declaration is not finished; check for a missing `}` or `)`");
            } else {
                d = Diagnostic.error(Code.KG0004, span(source, t), "unexpected " + TokenNames.describe(t))
                        .label(wanted.isEmpty() ? "not allowed here" : "expected " + wanted);
                String hint = TokenNames.hint(t, expected);
                if (!hint.isEmpty()) d = d.help(hint);
            }
            throw new SyntaxError(d);
        }
    }
}
