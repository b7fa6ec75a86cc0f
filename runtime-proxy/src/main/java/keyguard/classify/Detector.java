package keyguard.classify;

import keyguard.policy.DataClass;

/**
 * A kind of sensitive value: its name in decisions, logs and error messages
 * ({@code email}, {@code aws_access_key}, or a custom detector's name), the label of its
 * redaction placeholders ({@code [EMAIL_1]}) and the data class a prompt containing it has.
 */
public record Detector(String name, String label, DataClass dataClass) {
    public static final Detector EMAIL = new Detector("email", "EMAIL", DataClass.CONFIDENTIAL);
    public static final Detector PHONE = new Detector("phone", "PHONE", DataClass.CONFIDENTIAL);
    public static final Detector CARD_NUMBER = new Detector("card_number", "CARD", DataClass.RESTRICTED);
    public static final Detector IBAN = new Detector("iban", "IBAN", DataClass.RESTRICTED);
    public static final Detector US_SSN = new Detector("us_ssn", "SSN", DataClass.RESTRICTED);
    public static final Detector IP_ADDRESS = new Detector("ip_address", "IP", DataClass.INTERNAL);
    public static final Detector PRIVATE_KEY = new Detector("private_key", "PRIVATE_KEY", DataClass.RESTRICTED);
    public static final Detector AWS_ACCESS_KEY = new Detector("aws_access_key", "AWS_KEY", DataClass.RESTRICTED);
    public static final Detector GITHUB_TOKEN = new Detector("github_token", "GITHUB_TOKEN", DataClass.RESTRICTED);
    public static final Detector OPENAI_KEY = new Detector("openai_key", "OPENAI_KEY", DataClass.RESTRICTED);
    public static final Detector ANTHROPIC_KEY = new Detector("anthropic_key", "ANTHROPIC_KEY", DataClass.RESTRICTED);
    public static final Detector JWT = new Detector("jwt", "JWT", DataClass.RESTRICTED);
    public static final Detector KEYGUARD_KEY = new Detector("keyguard_key", "KEYGUARD_KEY", DataClass.RESTRICTED);
    public static final Detector HIGH_ENTROPY = new Detector("high_entropy", "SECRET", DataClass.CONFIDENTIAL);

    /** Every built-in detector, in the order they are documented. */
    public static final java.util.List<Detector> BUILT_IN = java.util.List.of(EMAIL, PHONE, CARD_NUMBER, IBAN, US_SSN, IP_ADDRESS,
            PRIVATE_KEY, AWS_ACCESS_KEY, GITHUB_TOKEN, OPENAI_KEY, ANTHROPIC_KEY, JWT, KEYGUARD_KEY, HIGH_ENTROPY);
}
