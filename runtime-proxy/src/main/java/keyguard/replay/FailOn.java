package keyguard.replay;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A {@code --fail-on} condition: comparisons of a report's numbers ({@link ReplayReport#variables})
 * with constants, joined by {@code or} and {@code and} ({@code and} binds tighter), e.g.
 * {@code changed > 0}, {@code denied > 100 or spend_refused_usd >= 50}. No parentheses.
 */
public final class FailOn {
    private static final Pattern COMPARISON = Pattern.compile("\\s*([a-z_]+)\\s*(>=|<=|==|!=|>|<)\\s*(-?[0-9]+(?:\\.[0-9]+)?)\\s*");
    private static final Pattern OR = Pattern.compile("\\s+or\\s+");
    private static final Pattern AND = Pattern.compile("\\s+and\\s+");

    private record Comparison(String name, String op, double value) {
        boolean holds(Map<String, Double> vars) {
            double v = vars.get(name);
            return switch (op) {
                case ">" -> v > value;
                case ">=" -> v >= value;
                case "<" -> v < value;
                case "<=" -> v <= value;
                case "==" -> v == value;
                default -> v != value;
            };
        }
    }

    /** Alternatives ({@code or}) of conjunctions ({@code and}). */
    private final List<List<Comparison>> alternatives;
    private final String text;

    private FailOn(List<List<Comparison>> alternatives, String text) {
        this.alternatives = alternatives;
        this.text = text;
    }

    /**
     * Parses a condition over {@code names}; throws {@link IllegalArgumentException} with
     * what is wrong and what is allowed.
     */
    public static FailOn parse(String text, java.util.Set<String> names) {
        List<List<Comparison>> alternatives = new ArrayList<>();
        for (String alternative : OR.split(text.strip(), -1)) {
            List<Comparison> all = new ArrayList<>();
            for (String part : AND.split(alternative, -1)) {
                Matcher m = COMPARISON.matcher(part);
                if (!m.matches()) {
                    throw new IllegalArgumentException("cannot read `" + part.strip() + "` in --fail-on: write NAME OP NUMBER (e.g. `changed > 0`), "
                            + "joined by `and` or `or`; OP is one of > >= < <= == !=");
                }
                if (!names.contains(m.group(1))) {
                    throw new IllegalArgumentException("--fail-on: no number called `" + m.group(1) + "`; there are " + String.join(", ", names));
                }
                all.add(new Comparison(m.group(1), m.group(2), Double.parseDouble(m.group(3))));
            }
            alternatives.add(all);
        }
        return new FailOn(alternatives, text.strip());
    }

    public boolean holds(Map<String, Double> vars) {
        for (List<Comparison> all : alternatives) {
            boolean ok = true;
            for (Comparison c : all) ok &= c.holds(vars);
            if (ok) return true;
        }
        return false;
    }

    @Override
    public String toString() { return text; }
}
