package keyguard.lang.parse;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import keyguard.lang.antlr.KgpLexer;
import org.antlr.v4.runtime.Token;
import org.antlr.v4.runtime.misc.IntervalSet;

/** Token kinds in the words of the language reference, never ANTLR's. */
final class TokenNames {
    /** Keywords that the grammar's {@code ident} rule also accepts as names. */
    private static final Set<Integer> SOFT_KEYWORDS = Set.of(
            KgpLexer.MODEL, KgpLexer.PROVIDER, KgpLexer.POLICY, KgpLexer.TEMPLATE, KgpLexer.TEST,
            KgpLexer.TESTS, KgpLexer.DATA, KgpLexer.TAGS, KgpLexer.MODELS, KgpLexer.LIMIT,
            KgpLexer.BUDGET, KgpLexer.ZONE, KgpLexer.WHEN, KgpLexer.UNLESS, KgpLexer.EXPECT, KgpLexer.DEFAULT, KgpLexer.DETECTOR,
            KgpLexer.FUNCTION, KgpLexer.LABEL, KgpLexer.ALLOW, KgpLexer.PARAMS, KgpLexer.ORG, KgpLexer.TEAM, KgpLexer.END_USERS, KgpLexer.CHANNEL, KgpLexer.ALERT, KgpLexer.DELEGATE);

    private TokenNames() {}

    static String describe(Token t) {
        return switch (t.getType()) {
            case KgpLexer.IDENT -> "name `" + t.getText() + "`";
            case KgpLexer.STRING -> "string " + shorten(t.getText());
            case KgpLexer.INT, KgpLexer.DECIMAL -> "number `" + t.getText() + "`";
            case KgpLexer.SUFFIXED -> "duration `" + t.getText() + "`";
            case KgpLexer.PERCENT -> "percentage `" + t.getText() + "`";
            default -> "`" + shorten(t.getText()) + "`";
        };
    }

    static String describe(IntervalSet expected) {
        Set<String> names = new LinkedHashSet<>();
        boolean anyName = expected.contains(KgpLexer.IDENT);
        for (int type : expected.toList()) {
            if (anyName && SOFT_KEYWORDS.contains(type)) continue;
            String n = name(type);
            if (n != null) names.add(n);
        }
        List<String> list = new ArrayList<>(names);
        if (list.isEmpty()) return "";
        if (list.size() > 6) {
            return String.join(", ", list.subList(0, 6)) + " or another";
        }
        if (list.size() == 1) return list.get(0);
        return String.join(", ", list.subList(0, list.size() - 1)) + " or " + list.get(list.size() - 1);
    }

    static String hint(Token t, IntervalSet expected) {
        if (t.getType() == KgpLexer.ASSIGN && expected.contains(KgpLexer.EQ)) return "compare with `==`";
        if (t.getType() == KgpLexer.STRING && expected.contains(KgpLexer.IDENT) && !expected.contains(KgpLexer.STRING)) {
            return "a name is written without quotes";
        }
        if (expected.contains(KgpLexer.COMMA) && (t.getType() == KgpLexer.STRING || t.getType() == KgpLexer.INT)) {
            return "separate list items with `,`";
        }
        return "";
    }

    private static String name(int type) {
        return switch (type) {
            case Token.EOF -> "end of file";
            case KgpLexer.IDENT -> "a name";
            case KgpLexer.STRING -> "a string";
            case KgpLexer.INT, KgpLexer.DECIMAL -> "a number";
            case KgpLexer.SUFFIXED -> "a duration such as `1m`";
            case KgpLexer.PERCENT -> "a percentage such as `80%`";
            case KgpLexer.ERROR_CHAR, KgpLexer.UNTERMINATED_STRING, KgpLexer.UNTERMINATED_COMMENT,
                 KgpLexer.LINE_COMMENT, KgpLexer.BLOCK_COMMENT, KgpLexer.WS -> null;
            default -> {
                String literal = KgpLexer.VOCABULARY.getLiteralName(type);
                yield literal == null ? null : "`" + literal.substring(1, literal.length() - 1) + "`";
            }
        };
    }

    private static String shorten(String s) {
        return s.length() > 40 ? s.substring(0, 37) + "..." : s;
    }
}
