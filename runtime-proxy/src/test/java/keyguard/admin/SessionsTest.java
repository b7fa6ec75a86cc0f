package keyguard.admin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Instant;
import java.util.Set;
import keyguard.counters.Fixtures.MovableClock;
import org.junit.jupiter.api.Test;

/** The console's sessions: how they end, and what their ids and CSRF tokens are worth. */
class SessionsTest {
    final MovableClock clock = new MovableClock(Instant.parse("2026-12-02T09:00:00Z"));
    final Sessions sessions = new Sessions(clock);

    @Test
    void aSessionEndsAfterThirtyIdleMinutesButUseKeepsItAlive() {
        Sessions.Created c = sessions.create(AdminPrincipal.bootstrap());
        clock.advance(Sessions.IDLE.toMillis() - 1000);
        assertNotNull(sessions.find(c.id()), "used just before the idle timeout");
        clock.advance(Sessions.IDLE.toMillis() - 1000);
        assertNotNull(sessions.find(c.id()), "each use restarts the idle time");
        clock.advance(Sessions.IDLE.toMillis());
        assertNull(sessions.find(c.id()), "idle for 30 minutes: ended");
        assertEquals(0, sessions.size(), "an ended session is dropped when found");
    }

    @Test
    void aSessionEndsTwelveHoursAfterSignInHoweverOftenItIsUsed() {
        Sessions.Created c = sessions.create(AdminPrincipal.bootstrap());
        for (int i = 0; i < 12 * 3 - 1; i++) {
            clock.advance(20 * 60_000);
            assertNotNull(sessions.find(c.id()));
        }
        clock.advance(20 * 60_000);
        assertNull(sessions.find(c.id()));
    }

    @Test
    void aSessionEndsNoLaterThanTheIdentityProvidersToken() {
        AdminPrincipal bob = new AdminPrincipal("bob", false, false, Set.of("search"), clock.instant().plusSeconds(300));
        Sessions.Created c = sessions.create(bob);
        assertEquals(clock.instant().plusSeconds(300), c.session().ends());
        clock.advance(300_000);
        assertNull(sessions.find(c.id()));
    }

    @Test
    void idsAndCsrfTokensAreUnguessableAndCompareOnlyWhenEqual() {
        Sessions.Created a = sessions.create(AdminPrincipal.bootstrap());
        Sessions.Created b = sessions.create(AdminPrincipal.bootstrap());
        assertNotEquals(a.id(), b.id());
        assertTrue(a.id().length() >= 43, "256 bits: " + a.id());
        assertNotEquals(a.session().csrf(), b.session().csrf());
        assertTrue(a.session().csrfMatches(a.session().csrf()));
        assertFalse(a.session().csrfMatches(b.session().csrf()));
        assertFalse(a.session().csrfMatches(null));
        assertFalse(a.session().csrfMatches(""));
        assertNull(sessions.find(a.id() + "x"));
        assertNull(sessions.find(""));
        assertNull(sessions.find("x".repeat(10_000)), "an oversized cookie is not even hashed");
        assertTrue(sessions.end(a.id()));
        assertNull(sessions.find(a.id()), "signed out");
        assertNotNull(sessions.find(b.id()), "the other session is untouched");
    }

    @Test
    void atMostTenThousandSessionsLiveAndTheLeastRecentlyUsedGoesFirst() {
        Sessions.Created first = sessions.create(user(0));
        clock.advance(1);
        Sessions.Created second = sessions.create(user(1));
        clock.advance(1);
        assertNotNull(sessions.find(first.id()), "the first is now used more recently than the second");
        for (int i = 2; i < Sessions.MAX_SESSIONS + 1; i++) sessions.create(user(i));
        assertEquals(Sessions.MAX_SESSIONS, sessions.size());
        assertNull(sessions.find(second.id()), "evicted: used least recently");
        assertNotNull(sessions.find(first.id()));
    }

    static AdminPrincipal user(int i) {
        return new AdminPrincipal("user-" + i, false, true, Set.of(), null);
    }

    @Test
    void theCookieIsHttpOnlyStrictAndSecureOnlyOverTls() {
        String plain = Sessions.cookie("abc", 60, false);
        assertEquals("kg_session=abc; Path=/; Max-Age=60; HttpOnly; SameSite=Strict", plain);
        assertEquals("__Host-kg_session=abc; Path=/; Max-Age=60; HttpOnly; SameSite=Strict; Secure", Sessions.cookie("abc", 60, true),
                "over TLS the __Host- prefix: no other origin can set it");
        assertTrue(Sessions.expiredCookie(false).contains("Max-Age=0"));
    }

    @Test
    void oneSubjectHoldsAtMostTwentySessionsAndItsOwnOldestGoesNotAnyoneElses() {
        Sessions.Created admin = sessions.create(AdminPrincipal.bootstrap());
        AdminPrincipal bob = new AdminPrincipal("bob", false, false, Set.of("search"), null);
        java.util.List<Sessions.Created> bobs = new java.util.ArrayList<>();
        for (int i = 0; i < Sessions.MAX_PER_SUBJECT + 5; i++) {
            clock.advance(1);
            bobs.add(sessions.create(bob));
        }
        assertEquals(Sessions.MAX_PER_SUBJECT + 1, sessions.size());
        assertNull(sessions.find(bobs.get(0).id()), "bob's oldest went");
        assertNotNull(sessions.find(bobs.get(bobs.size() - 1).id()));
        assertNotNull(sessions.find(admin.id()), "bob signing in again and again never signs anyone else out");
    }
}
