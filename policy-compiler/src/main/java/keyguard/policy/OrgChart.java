package keyguard.policy;

import java.util.List;
import java.util.Map;
import keyguard.lang.source.Span;

/**
 * The operator's organisation ({@code org} and {@code team} declarations of the operator's
 * folder): org units, the teams in them, the identity-provider groups whose keys each team
 * holds, and the limits and budgets every key of a team or unit shares whatever its policy.
 *
 * <p>Invariants: every team's {@code unit} is one of {@link #units} or null; a group belongs
 * to at most one team ({@link #teamOfGroup} compares names case-insensitively, ASCII only, as
 * identity providers do); a team's limits count on {@link Scope#TEAM} counters, a unit's on
 * {@link Scope#ORG} counters, and no two limits of one team or unit share a counter.
 */
public record OrgChart(Map<String, Team> teams, Map<String, Unit> units, Map<String, String> teamByGroup) {
    public static final OrgChart NONE = new OrgChart(Map.of(), Map.of(), Map.of());

    /** An org unit and the limits and budgets it sets for all its teams' keys together, with their alerts. */
    public record Unit(String name, List<Limit> limits, List<AlertSpec> alerts, Span span) {
        public Unit {
            limits = List.copyOf(limits);
            alerts = List.copyOf(alerts);
        }
    }

    /** A team, its unit (null for none), its groups, and the limits and budgets its keys share. */
    public record Team(String name, Unit unit, List<String> groups, List<Limit> limits, List<AlertSpec> alerts, Span span) {
        public Team {
            groups = List.copyOf(groups);
            limits = List.copyOf(limits);
            alerts = List.copyOf(alerts);
        }

        /** The unit's name, or null. */
        public String unitName() { return unit == null ? null : unit.name(); }
    }

    public OrgChart {
        teams = Map.copyOf(teams);
        units = Map.copyOf(units);
        teamByGroup = Map.copyOf(teamByGroup);
    }

    public boolean isEmpty() { return teams.isEmpty() && units.isEmpty(); }

    public Team team(String name) { return name == null ? null : teams.get(name); }

    /** The team holding the identity-provider group {@code group}, or null. */
    public Team teamOfGroup(String group) {
        String team = group == null ? null : teamByGroup.get(foldGroup(group));
        return team == null ? null : teams.get(team);
    }

    /** How a group's name is compared: case folded in ASCII only, so no Unicode folding can make two names one. */
    public static String foldGroup(String group) {
        StringBuilder out = null;
        for (int i = 0; i < group.length(); i++) {
            char c = group.charAt(i);
            if (c >= 'A' && c <= 'Z') {
                if (out == null) out = new StringBuilder(group);
                out.setCharAt(i, (char) (c + 32));
            }
        }
        return out == null ? group : out.toString();
    }
}
