package keyguard.compiler.testing;

import java.util.List;
import java.util.Locale;

/** Writes test outcomes as JUnit XML, the format CI systems read. */
public final class JUnitXml {
    private JUnitXml() {}

    public static String render(String suiteName, List<PolicyTestRunner.Outcome> outcomes) {
        long failures = outcomes.stream().filter(o -> !o.passed()).count();
        double seconds = outcomes.stream().mapToLong(PolicyTestRunner.Outcome::nanos).sum() / 1e9;
        StringBuilder sb = new StringBuilder("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        sb.append(String.format(Locale.ROOT, "<testsuite name=\"%s\" tests=\"%d\" failures=\"%d\" errors=\"0\" skipped=\"0\" time=\"%.6f\">%n",
                esc(suiteName), outcomes.size(), failures, seconds));
        for (PolicyTestRunner.Outcome o : outcomes) {
            sb.append(String.format(Locale.ROOT, "  <testcase classname=\"%s\" name=\"%s\" file=\"%s\" line=\"%d\" time=\"%.6f\"",
                    esc("tests." + o.test().suite()), esc(o.test().name()), esc(o.test().span().file().path()), o.test().span().line(), o.nanos() / 1e9));
            if (o.passed()) {
                sb.append("/>\n");
            } else {
                sb.append(">\n    <failure message=\"").append(esc(o.failure())).append("\">")
                        .append(esc("decision: " + o.decision())).append("</failure>\n  </testcase>\n");
            }
        }
        return sb.append("</testsuite>\n").toString();
    }

    private static String esc(String s) {
        StringBuilder sb = new StringBuilder(s.length());
        for (char c : s.toCharArray()) {
            switch (c) {
                case '<' -> sb.append("&lt;");
                case '>' -> sb.append("&gt;");
                case '&' -> sb.append("&amp;");
                case '"' -> sb.append("&quot;");
                default -> {
                    if (c < 0x20 && c != '\n' && c != '\t') sb.append(' ');
                    else sb.append(c);
                }
            }
        }
        return sb.toString();
    }
}
