package keyguard.tokens;

import java.util.Base64;

/**
 * Prompt tokens of what is not text, by the providers' published rules, and a conservative
 * bound where the size cannot be known (an image or document given by URL).
 *
 * <ul>
 *   <li>OpenAI images: {@code detail: low} is 85 tokens; otherwise the image is scaled to fit
 *       2048x2048, then its shortest side to 768, and costs 85 + 170 per 512-pixel tile
 *       (at most 8 tiles: 1,445).</li>
 *   <li>Anthropic images: scaled so the long edge is at most 1568 pixels, then
 *       width x height / 750 tokens (at most about 1,600).</li>
 *   <li>PDF documents: each page is sent as its text and as an image: up to 3,000 + 1,600
 *       tokens a page; pages are counted from the file, and a file whose pages cannot be
 *       counted is taken to have 100 (the most Anthropic accepts).</li>
 * </ul>
 */
public final class MediaTokens {
    public static final long OPENAI_IMAGE_MAX = 85 + 170 * 8;
    public static final long ANTHROPIC_IMAGE_MAX = 1_600;
    public static final long PDF_PAGE_TOKENS = 3_000 + 1_600;
    public static final int PDF_MAX_PAGES = 100;

    private MediaTokens() {}

    /** OpenAI's tile rule; {@code width}/{@code height} below 1 when unknown. */
    public static long openAiImage(String detail, int width, int height) {
        if ("low".equals(detail)) return 85;
        if (width < 1 || height < 1) return OPENAI_IMAGE_MAX;
        double w = width;
        double h = height;
        if (w > 2048 || h > 2048) {
            double s = 2048 / Math.max(w, h);
            w *= s;
            h *= s;
        }
        double shortest = Math.min(w, h);
        if (shortest > 768) {
            double s = 768 / shortest;
            w *= s;
            h *= s;
        }
        long tiles = (long) Math.ceil(w / 512) * (long) Math.ceil(h / 512);
        return 85 + 170 * tiles;
    }

    /** Anthropic's area rule; {@code width}/{@code height} below 1 when unknown. */
    public static long anthropicImage(int width, int height) {
        if (width < 1 || height < 1) return ANTHROPIC_IMAGE_MAX;
        double w = width;
        double h = height;
        double longEdge = Math.max(w, h);
        if (longEdge > 1568) {
            w = w * 1568 / longEdge;
            h = h * 1568 / longEdge;
        }
        return Math.min(ANTHROPIC_IMAGE_MAX, (long) Math.ceil(w * h / 750));
    }

    /** Tokens of a PDF given as base64 (null or undecodable: the bound of {@link #PDF_MAX_PAGES} pages). */
    public static long pdf(String base64) {
        byte[] bytes = decode(base64);
        int pages = bytes == null ? 0 : pdfPages(bytes);
        return (pages > 0 ? Math.min(pages, PDF_MAX_PAGES) : PDF_MAX_PAGES) * PDF_PAGE_TOKENS;
    }

    /**
     * The pages of a PDF: the {@code /Type /Page} objects or the largest page-tree
     * {@code /Count}, whichever is more; 0 (unknown) when the file has compressed object
     * streams ({@code /ObjStm}), where page objects cannot be seen without inflating them.
     */
    static int pdfPages(byte[] b) {
        if (indexOf(b, "/ObjStm") >= 0) return 0;
        int pages = Math.max(pageObjects(b), maxCount(b));
        return pages;
    }

    private static int maxCount(byte[] b) {
        int max = 0;
        for (int i = indexOf(b, "/Count", 0); i >= 0; i = indexOf(b, "/Count", i + 6)) {
            int j = i + 6;
            while (j < b.length && (b[j] == ' ' || b[j] == '\r' || b[j] == '\n' || b[j] == '\t')) j++;
            long n = 0;
            while (j < b.length && b[j] >= '0' && b[j] <= '9' && n < 1_000_000) n = n * 10 + (b[j++] - '0');
            max = (int) Math.max(max, n);
        }
        return max;
    }

    private static int indexOf(byte[] b, String s) {
        return indexOf(b, s, 0);
    }

    private static int indexOf(byte[] b, String s, int from) {
        outer:
        for (int i = Math.max(0, from); i + s.length() <= b.length; i++) {
            for (int k = 0; k < s.length(); k++) if (b[i + k] != s.charAt(k)) continue outer;
            return i;
        }
        return -1;
    }

    private static int pageObjects(byte[] b) {
        int pages = 0;
        for (int i = 0; i + 5 < b.length; i++) {
            if (b[i] != '/' || b[i + 1] != 'T' || b[i + 2] != 'y' || b[i + 3] != 'p' || b[i + 4] != 'e') continue;
            int j = i + 5;
            while (j < b.length && (b[j] == ' ' || b[j] == '\r' || b[j] == '\n' || b[j] == '\t')) j++;
            if (j + 5 <= b.length && b[j] == '/' && b[j + 1] == 'P' && b[j + 2] == 'a' && b[j + 3] == 'g' && b[j + 4] == 'e'
                    && (j + 5 == b.length || !Character.isLetterOrDigit(b[j + 5]))) {
                pages++;
            }
        }
        return pages;
    }

    /** Base64 characters decoded to find an image's size: its header, and a JPEG's frame after its metadata. */
    private static final int HEADER_BASE64_CHARS = 256 * 1024;

    /** Width and height of a PNG, GIF, JPEG or WebP image, or null when they cannot be read. */
    public static int[] dimensions(String base64) {
        if (base64 == null) return null;
        int comma = base64.startsWith("data:") ? base64.indexOf(',') : -1;
        String data = comma >= 0 ? base64.substring(comma + 1) : base64;
        if (data.length() > HEADER_BASE64_CHARS) data = data.substring(0, HEADER_BASE64_CHARS);
        byte[] b = decode(data);
        return b == null ? null : dimensions(b);
    }

    static int[] dimensions(byte[] b) {
        if (b.length >= 24 && (b[0] & 0xff) == 0x89 && b[1] == 'P' && b[2] == 'N' && b[3] == 'G') {
            return new int[] {be32(b, 16), be32(b, 20)};
        }
        if (b.length >= 10 && b[0] == 'G' && b[1] == 'I' && b[2] == 'F') {
            return new int[] {(b[6] & 0xff) | (b[7] & 0xff) << 8, (b[8] & 0xff) | (b[9] & 0xff) << 8};
        }
        if (b.length >= 4 && (b[0] & 0xff) == 0xFF && (b[1] & 0xff) == 0xD8) return jpeg(b);
        if (b.length >= 30 && b[0] == 'R' && b[1] == 'I' && b[2] == 'F' && b[3] == 'F' && b[8] == 'W' && b[9] == 'E' && b[10] == 'B' && b[11] == 'P') {
            String chunk = new String(b, 12, 4, java.nio.charset.StandardCharsets.ISO_8859_1);
            switch (chunk) {
                case "VP8X" -> { return new int[] {1 + le24(b, 24), 1 + le24(b, 27)}; }
                case "VP8 " -> { return new int[] {((b[26] & 0xff) | (b[27] & 0xff) << 8) & 0x3fff, ((b[28] & 0xff) | (b[29] & 0xff) << 8) & 0x3fff}; }
                case "VP8L" -> {
                    int bits = (b[21] & 0xff) | (b[22] & 0xff) << 8 | (b[23] & 0xff) << 16 | (b[24] & 0xff) << 24;
                    return new int[] {(bits & 0x3fff) + 1, ((bits >>> 14) & 0x3fff) + 1};
                }
                default -> { return null; }
            }
        }
        return null;
    }

    private static int[] jpeg(byte[] b) {
        int i = 2;
        while (i + 9 < b.length) {
            if ((b[i] & 0xff) != 0xFF) return null;
            int marker = b[i + 1] & 0xff;
            int len = (b[i + 2] & 0xff) << 8 | (b[i + 3] & 0xff);
            boolean sof = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
            if (sof) return new int[] {(b[i + 7] & 0xff) << 8 | (b[i + 8] & 0xff), (b[i + 5] & 0xff) << 8 | (b[i + 6] & 0xff)};
            if (len < 2) return null;
            i += 2 + len;
        }
        return null;
    }

    private static int be32(byte[] b, int at) {
        return (b[at] & 0xff) << 24 | (b[at + 1] & 0xff) << 16 | (b[at + 2] & 0xff) << 8 | (b[at + 3] & 0xff);
    }

    private static int le24(byte[] b, int at) {
        return (b[at] & 0xff) | (b[at + 1] & 0xff) << 8 | (b[at + 2] & 0xff) << 16;
    }

    /** Base64 (or a {@code data:...;base64,} URL) to bytes; null when it is not base64. */
    static byte[] decode(String s) {
        if (s == null) return null;
        int comma = s.startsWith("data:") ? s.indexOf(',') : -1;
        String data = comma >= 0 ? s.substring(comma + 1) : s;
        try {
            return Base64.getMimeDecoder().decode(data);
        } catch (IllegalArgumentException e) {
            return null;
        }
    }
}
