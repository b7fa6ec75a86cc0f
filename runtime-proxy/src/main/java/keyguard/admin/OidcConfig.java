package keyguard.admin;

import java.util.Map;
import java.util.Set;
import keyguard.identity.SelfService;

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
 * @param cliClientId the public client {@code keyguard login} signs in with (the device
 *     authorization flow), or null when the CLI signs in with tokens only
 * @param cliScope the scopes {@code keyguard login} asks for
 * @param selfService which groups may issue keys to themselves ({@link SelfService#NONE}: no
 *     self-service, and a token without a role is refused)
 * @param usernameClaim the claim naming the person (matched against SCIM's {@code userName}),
 *     or null for the first of {@code preferred_username}, {@code upn}, {@code email}, {@code sub};
 *     name one the identity provider controls, never one its users may edit
 */
public record OidcConfig(String issuer, String audience, String jwksUri, String rolesClaim, Set<String> adminGroups,
                         Set<String> auditorGroups, Map<String, Set<String>> teamAdminGroups, String clientId, String clientSecret,
                         String cliClientId, String cliScope, SelfService selfService, String usernameClaim) {
    /** The scopes {@code keyguard login} asks for unless told otherwise. */
    public static final String DEFAULT_CLI_SCOPE = "openid profile email offline_access";

    public OidcConfig {
        if (selfService == null) selfService = SelfService.NONE;
        if (cliScope == null || cliScope.isBlank()) cliScope = DEFAULT_CLI_SCOPE;
    }

    /** Admin API access only: the console signs in with tokens. */
    public OidcConfig(String issuer, String audience, String jwksUri, String rolesClaim, Set<String> adminGroups,
                      Set<String> auditorGroups, Map<String, Set<String>> teamAdminGroups) {
        this(issuer, audience, jwksUri, rolesClaim, adminGroups, auditorGroups, teamAdminGroups, null, null);
    }

    public OidcConfig(String issuer, String audience, String jwksUri, String rolesClaim, Set<String> adminGroups,
                      Set<String> auditorGroups, Map<String, Set<String>> teamAdminGroups, String clientId, String clientSecret) {
        this(issuer, audience, jwksUri, rolesClaim, adminGroups, auditorGroups, teamAdminGroups, clientId, clientSecret, null, null, null, null);
    }

    /** The same configuration with the console's client at the identity provider. */
    public OidcConfig withClient(String id, String secret) {
        return new OidcConfig(issuer, audience, jwksUri, rolesClaim, adminGroups, auditorGroups, teamAdminGroups, id, secret, cliClientId, cliScope, selfService, usernameClaim);
    }

    /** The same configuration with the CLI's client ({@code keyguard login}) and its scopes (null: the default). */
    public OidcConfig withCli(String id, String scope) {
        return new OidcConfig(issuer, audience, jwksUri, rolesClaim, adminGroups, auditorGroups, teamAdminGroups, clientId, clientSecret, id, scope, selfService, usernameClaim);
    }

    public OidcConfig withSelfService(SelfService s) {
        return new OidcConfig(issuer, audience, jwksUri, rolesClaim, adminGroups, auditorGroups, teamAdminGroups, clientId, clientSecret, cliClientId, cliScope, s, usernameClaim);
    }

    /** The same configuration reading the person's name from {@code claim} (null: the default order). */
    public OidcConfig withUsernameClaim(String claim) {
        return new OidcConfig(issuer, audience, jwksUri, rolesClaim, adminGroups, auditorGroups, teamAdminGroups, clientId, clientSecret, cliClientId, cliScope, selfService, claim);
    }

    @Override
    public String toString() { // never the client secret
        return "OidcConfig[issuer=" + issuer + ", audience=" + audience + ", clientId=" + clientId + ", cliClientId=" + cliClientId + "]";
    }
}
