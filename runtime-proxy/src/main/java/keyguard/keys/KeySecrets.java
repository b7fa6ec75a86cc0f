package keyguard.keys;

import java.nio.charset.StandardCharsets;
import java.security.InvalidKeyException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.HexFormat;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Virtual-key secrets: {@code kg-<id>-<random>}, where the id (12 lowercase base-32
 * characters) names the record and the random part (43 base-62 characters, 256 bits)
 * is the secret. Only {@code HMAC-SHA-256(serverSecret, secret)} is ever stored, so a
 * stolen key file does not yield usable keys without the server secret.
 */
public final class KeySecrets {
    private static final char[] ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567".toCharArray();
    private static final char[] SECRET_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789".toCharArray();
    private static final SecureRandom RANDOM = new SecureRandom();

    private final SecretKeySpec serverKey;
    private final ThreadLocal<Mac> macs;

    public KeySecrets(byte[] serverSecret) {
        if (serverSecret.length < 32) throw new IllegalArgumentException("the server secret must be at least 32 bytes");
        this.serverKey = new SecretKeySpec(serverSecret.clone(), "HmacSHA256");
        this.macs = ThreadLocal.withInitial(() -> {
            try {
                Mac mac = Mac.getInstance("HmacSHA256");
                mac.init(serverKey);
                return mac;
            } catch (NoSuchAlgorithmException | InvalidKeyException e) {
                throw new IllegalStateException(e);
            }
        });
    }

    /** A fresh key id and secret. */
    public record NewSecret(String id, String secret) {}

    public static NewSecret generate() {
        String id = random(ID_ALPHABET, 12);
        return new NewSecret(id, "kg-" + id + "-" + random(SECRET_ALPHABET, 43));
    }

    /** The id part of a presented secret, or null when it does not have the key shape. */
    public static String idOf(String presented) {
        if (presented == null || presented.length() != 3 + 12 + 1 + 43 || !presented.startsWith("kg-") || presented.charAt(15) != '-') {
            return null;
        }
        for (int i = 3; i < 15; i++) {
            char c = presented.charAt(i);
            if (!((c >= 'a' && c <= 'z') || (c >= '2' && c <= '7'))) return null;
        }
        return presented.substring(3, 15);
    }

    public String hash(String secret) {
        Mac mac = macs.get();
        return HexFormat.of().formatHex(mac.doFinal(secret.getBytes(StandardCharsets.UTF_8)));
    }

    /** Constant-time comparison of a presented secret with a stored hash. */
    public boolean matches(String presented, String storedHash) {
        byte[] actual = hash(presented).getBytes(StandardCharsets.US_ASCII);
        return MessageDigest.isEqual(actual, storedHash.getBytes(StandardCharsets.US_ASCII));
    }

    public static byte[] newServerSecret() {
        byte[] b = new byte[32];
        RANDOM.nextBytes(b);
        return b;
    }

    private static String random(char[] alphabet, int n) {
        char[] out = new char[n];
        for (int i = 0; i < n; i++) out[i] = alphabet[RANDOM.nextInt(alphabet.length)];
        return new String(out);
    }
}
