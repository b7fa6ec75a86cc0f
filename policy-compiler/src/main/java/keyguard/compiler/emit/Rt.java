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
}
