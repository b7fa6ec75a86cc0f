package keyguard.compiler.emit;

import com.google.re2j.Pattern;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import keyguard.policy.ForbidRule;

/** Run-time support called from compiled policies. Public so hidden classes can link to it. */
public final class Rt {
    private Rt() {}

    public static String lookup(Map<String, String> map, String key) {
        String v = map.get(key);
        return v == null ? "" : v;
    }

    public static boolean matches(Pattern pattern, String text) {
        return pattern.matcher(text).find();
    }

    public static List<ForbidRule> newRuleList() { return new ArrayList<>(4); }

    /**
     * A function failed inside {@code rule}: note it on the input (for the audit event) and
     * say whether the rule fires, which is what the policy's {@code on error} chose.
     */
    public static boolean ruleFailed(keyguard.functions.FunctionFailure f, keyguard.policy.DecisionInput in, ForbidRule rule,
                                     keyguard.policy.Policy policy) {
        in.noteFunctionError(keyguard.policy.FunctionError.of(policy, rule, f));
        return !policy.allowOnFunctionError();
    }

    /**
     * The literal text every match of {@code regex} must start the input with: the plain
     * characters after a leading {@code ^}, up to the first metacharacter (minus the last
     * one if a quantifier follows it). Empty when there is none, e.g. with flags or
     * alternation at the top. Multi-line mode would let {@code ^} match later, so any
     * pattern with a flag group yields empty.
     */
    public static String literalPrefix(String regex) {
        if (!regex.startsWith("^") || regex.contains("|")) return "";
        StringBuilder sb = new StringBuilder();
        int i = 1;
        for (; i < regex.length(); i++) {
            char ch = regex.charAt(i);
            if ("\\.[]{}()*+?|^$".indexOf(ch) >= 0) break;
            sb.append(ch);
        }
        if (i < regex.length() && "*?{".indexOf(regex.charAt(i)) >= 0 && !sb.isEmpty()) sb.setLength(sb.length() - 1);
        return sb.toString();
    }
}
