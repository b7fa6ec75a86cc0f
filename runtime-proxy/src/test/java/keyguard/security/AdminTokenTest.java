package keyguard.security;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import keyguard.gateway.GatewayHarness;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Finding 1: a blank admin token opened the admin API to anyone. Now a token shorter than
 * 32 characters stops the start, secret files are written whole, and an absent credential
 * is never compared with anything.
 */
class AdminTokenTest {
    @TempDir Path tmp;
    GatewayHarness h;

    @AfterEach
    void stop() {
        if (h != null) h.close();
    }

    @Test
    void anEmptyAdminTokenFileStopsTheGatewayFromStarting() throws Exception {
        h = new GatewayHarness(tmp, false);
        Files.createDirectories(h.data);
        Files.writeString(h.data.resolve("admin.token"), "\n"); // an `echo "$T" >` with T unset
        IllegalStateException e = assertThrows(IllegalStateException.class, h::start);
        assertTrue(e.getMessage().contains("admin.token") && e.getMessage().contains("delete the file"), e.getMessage());
        assertEquals(null, h.gateway, "nothing listens");
    }

    @Test
    void aShortAdminTokenFromTheEnvironmentStopsTheGatewayFromStarting() throws Exception {
        h = new GatewayHarness(tmp, false);
        h.env.put("KEYGUARD_ADMIN_TOKEN", "hunter2");
        IllegalStateException e = assertThrows(IllegalStateException.class, h::start);
        assertTrue(e.getMessage().contains("KEYGUARD_ADMIN_TOKEN") && e.getMessage().contains("32"), e.getMessage());
        h.env.put("KEYGUARD_ADMIN_TOKEN", "");
        assertThrows(IllegalStateException.class, h::start, "an empty variable is no token either");
    }

    @Test
    void anAdminRequestWithoutACredentialNeverBecomesAnAdmin() throws Exception {
        h = new GatewayHarness(tmp);
        String admin = "http://127.0.0.1:" + h.gateway.adminAddress().getPort();
        for (String header : new String[] {null, "Bearer ", "Bearer    ", "bearer", "Basic Og=="}) {
            HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(admin + "/admin/keys"))
                    .POST(HttpRequest.BodyPublishers.ofString("{\"policy\":\"demo\",\"name\":\"x\"}"));
            if (header != null) b.header("authorization", header);
            HttpResponse<String> r = h.http.send(b.build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(401, r.statusCode(), header + " -> " + r.body());
        }
        assertTrue(h.gateway.keys().all().isEmpty(), "no key was created");
    }

    @Test
    void theGeneratedAdminTokenIsWrittenWholeAndPrivate() throws Exception {
        h = new GatewayHarness(tmp);
        Path token = h.data.resolve("admin.token");
        assertTrue(Files.readString(token).strip().length() >= 32);
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(token)));
        assertFalse(Files.exists(h.data.resolve("admin.token.tmp")), "written to a temporary file, forced, then renamed");
        h.close();
        h = new GatewayHarness(tmp.resolve("second"), false);
        Files.createDirectories(h.data);
        Files.writeString(h.data.resolve("server.secret"), "abc\n");
        IllegalStateException e = assertThrows(IllegalStateException.class, h::start, "a truncated server secret is never replaced silently");
        assertTrue(e.getMessage().contains("server.secret"), e.getMessage());
    }
}
