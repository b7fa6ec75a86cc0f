package keyguard.keys;

import java.nio.charset.StandardCharsets;
import java.security.InvalidKeyException;
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
        this.macs = ThreadLocal.withInitial(this::newMac);
    }

    private Mac newMac() {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(serverKey);
            return mac;
        } catch (NoSuchAlgorithmException | InvalidKeyException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A fresh key id and secret. */
    public record NewSecret(String id, String secret) {}

    public static NewSecret generate() {
        String id = random(ID_ALPHABET, 12);
        return new NewSecret(id, "kg-" + id + "-" + random(SECRET_ALPHABET, 43));
    }

    /**
     * The secret the {@code generation}-th rotation, with {@code requestId}, gives key
     * {@code id}: derived from the server secret, so a retried rotation returns the same
     * secret without it ever being stored; salted with the generation, so the same request
     * id in a later rotation never yields an earlier secret.
     */
    public String derive(String id, String requestId, long generation) {
        // Generation 0: a rotation recorded by version 0.1, whose secrets were not salted with it.
        String input = "rotate\u0000" + id + "\u0000" + requestId + (generation == 0 ? "" : "\u0000" + generation);
        byte[] mac = macs.get().doFinal(input.getBytes(StandardCharsets.UTF_8));
        java.math.BigInteger n = new java.math.BigInteger(1, mac);
        java.math.BigInteger base = java.math.BigInteger.valueOf(SECRET_ALPHABET.length);
        char[] out = new char[43];
        for (int i = 0; i < out.length; i++) {
            java.math.BigInteger[] qr = n.divideAndRemainder(base);
            out[i] = SECRET_ALPHABET[qr[1].intValue()];
            n = qr[0];
        }
        return "kg-" + id + "-" + new String(out);
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

    /**
     * A fingerprint of the server secret, for nodes of a fleet to check they share it (a
     * key created on one node must verify on every other) without sharing the secret: an
     * HMAC of a fixed label, which tells nothing about the secret.
     */
    public String fingerprint() {
        byte[] mac = newMac().doFinal("keyguard fleet: server secret check".getBytes(StandardCharsets.UTF_8));
        return HexFormat.of().formatHex(mac, 0, 16);
    }

    public String hash(String secret) {
        Mac mac = macs.get();
        return HexFormat.of().formatHex(mac.doFinal(secret.getBytes(StandardCharsets.UTF_8)));
    }

    /**
     * Constant-time comparison of a presented secret with a stored hash. Runs on every
     * request, so it reuses per-thread buffers: no hex string, no allocation.
     */
    public boolean matches(String presented, String storedHash) {
        int n = presented.length();
        if (storedHash.length() != 64 || n > 128) return false;
        Scratch s = scratch.get();
        for (int i = 0; i < n; i++) {
            char c = presented.charAt(i);
            if (c > 0x7f) return false; // key secrets are ASCII
            s.in[i] = (byte) c;
        }
        try {
            s.mac.update(s.in, 0, n);
            s.mac.doFinal(s.out, 0);
        } catch (javax.crypto.ShortBufferException e) {
            throw new IllegalStateException(e);
        }
        int diff = 0;
        for (int i = 0; i < 32; i++) {
            int hi = Character.digit(storedHash.charAt(2 * i), 16);
            int lo = Character.digit(storedHash.charAt(2 * i + 1), 16);
            diff |= ((hi << 4) | lo) ^ (s.out[i] & 0xff) | (hi >>> 31) | (lo >>> 31);
        }
        return diff == 0;
    }

    private static final class Scratch {
        final Mac mac;
        final byte[] in = new byte[128];
        final byte[] out = new byte[32];

        Scratch(Mac mac) { this.mac = mac; }
    }

    private final ThreadLocal<Scratch> scratch = ThreadLocal.withInitial(() -> new Scratch(newMac()));

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
