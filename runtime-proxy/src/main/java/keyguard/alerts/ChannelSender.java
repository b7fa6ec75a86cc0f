package keyguard.alerts;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Properties;
import java.util.function.Function;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import keyguard.policy.ChannelSpec;

/**
 * Sends one alert to one channel, or throws saying why not: a webhook gets the alert's JSON
 * with {@code X-Keyguard-Signature: t=SECONDS,v1=HEX} (HMAC-SHA-256 of {@code SECONDS.BODY}
 * with the channel's secret, the way Stripe signs, so a receiver can refuse a forged or
 * replayed POST); a Slack-compatible webhook gets {@code {"text": ...}}; an e-mail channel
 * one plain-text message per alert. Secrets are read from the environment at each send
 * (a rotated secret needs no reload) and never appear in an error.
 */
final class ChannelSender {
    static final String SIGNATURE_HEADER = "X-Keyguard-Signature";
    static final String ID_HEADER = "X-Keyguard-Alert-Id";
    private static final Duration TIMEOUT = Duration.ofSeconds(10);

    private final Function<String, String> env;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).followRedirects(HttpClient.Redirect.NEVER).build();

    ChannelSender(Function<String, String> env) {
        this.env = env;
    }

    /** Delivers {@code a} to {@code ch}; an exception's message says what failed, without a secret. */
    void send(ChannelSpec ch, Alert a, long nowMillis) throws IOException, InterruptedException {
        switch (ch.kind()) {
            case WEBHOOK -> {
                String body = a.json().toString();
                String t = Long.toString(nowMillis / 1000);
                post(url(ch), body, SIGNATURE_HEADER, "t=" + t + ",v1=" + hmac(secret(ch.secretEnv(), ch), t + "." + body), a.id());
            }
            case SLACK -> post(url(ch), Alert.JSON.createObjectNode().put("text", a.text()).toString(), null, null, a.id());
            case SMTP -> mail(ch, a);
        }
    }

    private String url(ChannelSpec ch) throws IOException {
        return ch.url() != null ? ch.url() : secret(ch.urlEnv(), ch);
    }

    private String secret(String variable, ChannelSpec ch) throws IOException {
        String v = env.apply(variable);
        if (v == null || v.isEmpty()) throw new IOException("`" + variable + "` (of channel " + ch.name() + ") is not set where the gateway runs");
        return v;
    }

    static String hmac(String secret, String signed) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
            return HexFormat.of().formatHex(mac.doFinal(signed.getBytes(StandardCharsets.UTF_8)));
        } catch (java.security.GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    private void post(String url, String body, String header, String value, String id) throws IOException, InterruptedException {
        HttpRequest.Builder b;
        try { // the URL may be a secret (a Slack webhook's): no exception may carry it
            b = HttpRequest.newBuilder(URI.create(url));
        } catch (IllegalArgumentException e) {
            throw new IOException("the channel's URL is not an http(s) URL with a host");
        }
        b = b.timeout(TIMEOUT).header("content-type", "application/json")
                .header("user-agent", "keyguard-alerts").header(ID_HEADER, id).POST(HttpRequest.BodyPublishers.ofString(body));
        if (header != null) b.header(header, value);
        HttpResponse<Void> r = http.send(b.build(), HttpResponse.BodyHandlers.discarding());
        if (r.statusCode() / 100 != 2) throw new IOException("the receiver answered HTTP " + r.statusCode());
    }

    private void mail(ChannelSpec ch, Alert a) throws IOException {
        URI server = URI.create(ch.server());
        boolean implicitTls = server.getScheme().equals("smtps");
        int port = server.getPort() > 0 ? server.getPort() : implicitTls ? 465 : 587;
        String protocol = implicitTls ? "smtps" : "smtp";
        Properties p = new Properties();
        p.put("mail.transport.protocol", protocol);
        p.put("mail." + protocol + ".host", server.getHost());
        p.put("mail." + protocol + ".port", Integer.toString(port));
        p.put("mail." + protocol + ".connectiontimeout", "5000");
        p.put("mail." + protocol + ".timeout", "10000");
        p.put("mail." + protocol + ".writetimeout", "10000");
        p.put("mail.smtp.starttls.enable", "true");
        // An alert names policies, teams and spend: no plain connection unless the operator said `tls optional` (never with a password).
        p.put("mail.smtp.starttls.required", Boolean.toString(!ch.tlsOptional()));
        p.put("mail." + protocol + ".ssl.checkserveridentity", "true");
        String user = ch.usernameEnv() == null ? null : secret(ch.usernameEnv(), ch);
        String password = ch.passwordEnv() == null ? null : secret(ch.passwordEnv(), ch);
        if (user != null) p.put("mail." + protocol + ".auth", "true");
        jakarta.mail.Session session = jakarta.mail.Session.getInstance(p);
        try {
            jakarta.mail.internet.MimeMessage m = new jakarta.mail.internet.MimeMessage(session);
            m.setFrom(new jakarta.mail.internet.InternetAddress(ch.from()));
            for (String to : ch.to()) m.addRecipient(jakarta.mail.Message.RecipientType.TO, new jakarta.mail.internet.InternetAddress(to));
            m.setSubject("[keyguard] " + a.subject(), "UTF-8");
            m.setText(a.text() + "\n\n" + a.json().toPrettyString() + "\n", "UTF-8");
            m.setHeader(ID_HEADER, a.id());
            try (jakarta.mail.Transport t = session.getTransport(protocol)) {
                t.connect(server.getHost(), port, user, password);
                t.sendMessage(m, m.getAllRecipients());
            }
        } catch (jakarta.mail.MessagingException e) {
            throw new IOException("the mail server refused or could not be reached: " + e.getClass().getSimpleName()
                    + (e.getMessage() == null ? "" : " " + keyguard.audit.UntrustedText.quote(e.getMessage(), 200)));
        }
    }
}
