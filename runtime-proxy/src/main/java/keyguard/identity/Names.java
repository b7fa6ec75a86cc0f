package keyguard.identity;

/**
 * How names of people, groups and service accounts compare: without case, as SCIM says of
 * {@code userName} and {@code displayName}, but folding ASCII letters only. Java's
 * {@code equalsIgnoreCase} and {@code toLowerCase} fold more: the long s ({@code ſam}) and
 * {@code sam}, the Kelvin sign and {@code k}, the dotless ı and {@code i} would name one
 * person, and someone who may choose their name at the identity provider would become
 * someone else here.
 */
public final class Names {
    private Names() {}

    /** {@code s} with A–Z made a–z and every other character kept. */
    public static String fold(String s) {
        return keyguard.policy.OrgChart.foldGroup(s); // the operator's team groups compare the same way
    }

    /** Whether two names are one (null is nobody). */
    public static boolean same(String a, String b) {
        return a != null && b != null && a.length() == b.length() && fold(a).equals(fold(b));
    }
}
