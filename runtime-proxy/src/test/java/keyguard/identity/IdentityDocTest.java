package keyguard.identity;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The configuration examples of docs/identity.md are what the gateway reads, and mean what the page says. */
class IdentityDocTest {
    static List<String> jsonBlocks() throws Exception {
        Path root = Path.of("").toAbsolutePath();
        while (!Files.exists(root.resolve("docs/identity.md"))) root = root.getParent();
        Matcher m = Pattern.compile("```json\\n(.*?)```", Pattern.DOTALL).matcher(Files.readString(root.resolve("docs/identity.md")));
        List<String> out = new ArrayList<>();
        while (m.find()) out.add(m.group(1));
        return out;
    }

    @Test
    void theSelfServiceExampleGrantsWhatThePageSays() throws Exception {
        String example = jsonBlocks().stream().filter(b -> b.contains("\"grants\"")).findFirst().orElseThrow();
        SelfService s = SelfService.parse(example, "docs/identity.md");
        Map<String, SelfService.Allowance> search = s.allowances(List.of("Search-Team"));
        assertEquals(Set.of("search-dev", "search-batch"), search.keySet());
        assertEquals(30L * 86_400, search.get("search-dev").maxLifetimeSeconds());
        assertEquals(5, search.get("search-dev").maxKeys());
        SelfService.Allowance support = s.allowances(List.of("support")).get("support");
        assertEquals(7L * 86_400, support.maxLifetimeSeconds());
        assertEquals(5, support.maxKeys(), "the default count");
        assertEquals(3, s.allowances(List.of("search-team", "support")).size(), "a person in both groups gets both");
    }

    @Test
    void theWorkloadExampleIsReadByTheGateway() throws Exception {
        String example = jsonBlocks().stream().filter(b -> b.contains("\"issuers\"")).findFirst().orElseThrow();
        Path file = Files.createTempFile("workloads", ".json");
        try {
            // The example's JWKS is elsewhere: read from a file instead, everything else as written.
            Path jwks = file.resolveSibling(file.getFileName() + ".jwks");
            Files.writeString(jwks, new com.nimbusds.jose.jwk.JWKSet(new com.nimbusds.jose.jwk.gen.RSAKeyGenerator(2048).keyID("k").generate().toPublicJWK()).toString());
            Files.writeString(file, example.replaceFirst("\"jwks_uri\": \"[^\"]+\"", "\"jwks_file\": \"" + jwks.getFileName() + "\""));
            WorkloadIdentity.load(file, java.time.Clock.systemUTC()).close();
            Files.delete(jwks);
        } finally {
            Files.delete(file);
        }
    }
}
