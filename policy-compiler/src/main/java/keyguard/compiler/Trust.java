package keyguard.compiler;

import java.net.URI;
import java.util.List;
import java.util.Locale;

/**
 * What a policy repository is trusted with, set by the operator of the gateway (its command
 * line), never by the repository itself.
 *
 * <p>A repository has two parts. Files under {@code operatorDir} (by default
 * {@code platform/}) belong to the operator: only they may declare providers (with their
 * credentials and base URLs), models, detectors and labels. Everything else belongs to
 * teams, which write policies, templates, tests and functions. Git's CODEOWNERS decides who
 * may change which folder; the compiler refuses a team file that declares an operator's
 * thing ({@code KG0605}).
 *
 * <p>Even the operator part can only name the credentials and reach the base URLs allowed
 * here: a credential is an environment variable whose name matches one of
 * {@code credentialEnv} ({@code PREFIX*}, {@code *SUFFIX} or an exact name) and is never one
 * of the gateway's own {@code KEYGUARD_} variables other than {@code KEYGUARD_PROVIDER_*}
 * ({@code KG0606}); a base URL must start with one of {@code baseUrls} when that list is not
 * empty ({@code KG0607}).
 *
 * @param operatorDir the folder of the operator part, relative to the policy directory
 * @param credentialEnv patterns of environment variables a provider credential may name
 * @param baseUrls URL prefixes a provider may point at; empty for any
 */
public record Trust(String operatorDir, List<String> credentialEnv, List<String> baseUrls) {
    /** The prefix every credential variable may use. */
    public static final String PROVIDER_PREFIX = "KEYGUARD_PROVIDER_";

    public static final Trust DEFAULT = new Trust("platform", List.of(PROVIDER_PREFIX + "*", "*_API_KEY"), List.of());

    public Trust {
        operatorDir = trimSlashes(operatorDir);
        if (operatorDir.isEmpty() || operatorDir.contains("..")) throw new IllegalArgumentException("the operator folder must be a folder of the policy directory, not `" + operatorDir + "`");
        credentialEnv = List.copyOf(credentialEnv);
        baseUrls = List.copyOf(baseUrls);
        for (String u : baseUrls) {
            URI parsed;
            try {
                parsed = URI.create(u);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("`" + u + "` is not a URL: " + e.getMessage());
            }
            if (!(u.startsWith("http://") || u.startsWith("https://")) || parsed.getHost() == null) {
                throw new IllegalArgumentException("an allowed base URL is an http:// or https:// URL with a host, not `" + u + "`");
            }
        }
    }

    public Trust withCredentialEnv(List<String> v) { return new Trust(operatorDir, v, baseUrls); }

    public Trust withBaseUrls(List<String> v) { return new Trust(operatorDir, credentialEnv, v); }

    public Trust withOperatorDir(String v) { return new Trust(v, credentialEnv, baseUrls); }

    /**
     * Whether the file at {@code relative} (a path below the policy directory) is the
     * operator's: its leading folders are exactly {@link #operatorDir}'s, name by name. Names
     * are compared as the file system gives them, never rewritten: a top-level file named
     * {@code platform\evil.kgp} on Linux is one name, and a team's.
     */
    public boolean isOperatorFile(java.nio.file.Path relative) {
        String[] dir = operatorDir.split("/");
        if (relative.isAbsolute() || relative.getNameCount() <= dir.length) return false;
        for (int i = 0; i < dir.length; i++) {
            if (!relative.getName(i).toString().equals(dir[i])) return false;
        }
        return true;
    }

    /**
     * Whether a top-level name of the policy directory could pass for the operator's folder
     * without being it: the same name in another case (one folder on a case-insensitive disk,
     * two in git), or a name with a backslash. Such names are refused.
     */
    public boolean impersonatesOperatorDir(String topLevelName) {
        String first = operatorDir.split("/")[0];
        return !topLevelName.equals(first) && (topLevelName.equalsIgnoreCase(first) || topLevelName.contains("\\"));
    }

    /** Whether a provider credential may name this environment variable. */
    public boolean allowsCredential(String variable) {
        if (variable.startsWith("KEYGUARD_") && !variable.startsWith(PROVIDER_PREFIX)) return false;
        for (String pattern : credentialEnv) {
            if (pattern.endsWith("*") ? variable.startsWith(pattern.substring(0, pattern.length() - 1))
                    : pattern.startsWith("*") ? variable.endsWith(pattern.substring(1)) : variable.equals(pattern)) {
                return true;
            }
        }
        return false;
    }

    /**
     * Whether a provider may point at {@code url}: any URL when no prefix is configured,
     * else one whose scheme, host and port equal a prefix's and whose path starts with the
     * prefix's path (so {@code https://api.openai.com/} does not admit
     * {@code https://api.openai.com.evil.example/}).
     */
    public boolean allowsBaseUrl(String url) {
        if (baseUrls.isEmpty()) return true;
        URI u;
        try {
            u = URI.create(url).normalize();
        } catch (IllegalArgumentException e) {
            return false;
        }
        // No user info, and no escapes in the path (`/v1/%2e%2e/` must not pass for `/v1/`).
        if (u.getHost() == null || u.getRawUserInfo() != null || (u.getRawPath() != null && u.getRawPath().contains("%"))) return false;
        for (String prefix : baseUrls) {
            URI p = URI.create(prefix).normalize();
            if (p.getScheme().equalsIgnoreCase(u.getScheme()) && p.getHost() != null && p.getHost().equalsIgnoreCase(u.getHost())
                    && port(p) == port(u) && path(u).startsWith(path(p))) {
                return true;
            }
        }
        return false;
    }

    private static int port(URI u) {
        return u.getPort() >= 0 ? u.getPort() : u.getScheme().toLowerCase(Locale.ROOT).equals("https") ? 443 : 80;
    }

    private static String path(URI u) {
        String p = u.getRawPath() == null || u.getRawPath().isEmpty() ? "/" : u.getRawPath();
        return p.endsWith("/") ? p : p + "/";
    }

    private static String trimSlashes(String dir) {
        String d = dir == null ? "" : dir.strip().replace('\\', '/');
        while (d.startsWith("./")) d = d.substring(2);
        while (d.startsWith("/")) d = d.substring(1);
        while (d.endsWith("/")) d = d.substring(0, d.length() - 1);
        return d;
    }
}
