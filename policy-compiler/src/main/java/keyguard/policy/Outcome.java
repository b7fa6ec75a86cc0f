package keyguard.policy;

import java.util.Locale;

public enum Outcome {
    ALLOW, DENY, THROTTLE;

    public String word() { return name().toLowerCase(Locale.ROOT); }
}
