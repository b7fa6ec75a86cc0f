package keyguard.policy;

import keyguard.lang.source.Span;

/** {@code data max <class> on violation deny|redact|reroute "<model>"}. */
public record DataRule(DataClass max, DataAction action, ModelInfo reroute, String origin, Span span) {
    /** The rule of a policy that says nothing about data: only the model ceilings apply, violations deny. */
    public static final DataRule UNRESTRICTED = new DataRule(DataClass.RESTRICTED, DataAction.DENY, null, "", null);
}
