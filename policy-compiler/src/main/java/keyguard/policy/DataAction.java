package keyguard.policy;

import java.util.Locale;

/** What happens when a prompt's data class exceeds what the key and model may take. */
public enum DataAction {
    NONE, DENY, REDACT, REROUTE;

    public String word() { return name().toLowerCase(Locale.ROOT); }
}
