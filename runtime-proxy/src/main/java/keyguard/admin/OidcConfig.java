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
 * @param clientId the console's client at the identity provider (authorization code with
 *     PKCE), or null when the console signs in with tokens only
 * @param clientSecret the client's secret for a confidential client, or null for a public one
 */
public record OidcConfig(String issuer, String audience, String jwksUri, String rolesClaim, Set<String> adminGroups,
                         Set<String> auditorGroups, Map<String, Set<String>> teamAdminGroups, String clientId, String clientSecret) {

    /** Admin API access only: the console signs in with tokens. */
    public OidcConfig(String issuer, String audience, String jwksUri, String rolesClaim, Set<String> adminGroups,
                      Set<String> auditorGroups, Map<String, Set<String>> teamAdminGroups) {
        this(issuer, audience, jwksUri, rolesClaim, adminGroups, auditorGroups, teamAdminGroups, null, null);
    }

    /** The same configuration with the console's client at the identity provider. */
    public OidcConfig withClient(String id, String secret) {
        return new OidcConfig(issuer, audience, jwksUri, rolesClaim, adminGroups, auditorGroups, teamAdminGroups, id, secret);
    }

    @Override
    public String toString() { // never the client secret
        return "OidcConfig[issuer=" + issuer + ", audience=" + audience + ", clientId=" + clientId + "]";
    }
}
