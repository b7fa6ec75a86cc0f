package keyguard.admin;

import java.util.Map;
import java.util.Set;

/**
 * Admin access through the organisation's identity provider: bearer JWTs from
 * {@code issuer} for {@code audience}, roles from the {@code rolesClaim} (e.g. SSO groups).
 *
 * @param jwksUri where the signing keys are; null to read it from the issuer's discovery document
 * @param adminGroups groups that may do everything
 * @param auditorGroups groups that may read keys, spend and the audit log
 * @param teamAdminGroups groups that administer the keys of the named policies only
 */
public record OidcConfig(String issuer, String audience, String jwksUri, String rolesClaim, Set<String> adminGroups,
                         Set<String> auditorGroups, Map<String, Set<String>> teamAdminGroups) {}
