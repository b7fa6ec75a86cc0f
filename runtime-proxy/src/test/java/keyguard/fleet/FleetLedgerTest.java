package keyguard.fleet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import keyguard.counters.Lease;
import keyguard.counters.Ledger;
import keyguard.testing.RedisServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Fleet ledgers of three "nodes" in this JVM against one real Redis, driven directly (a
 * row is plain off-heap memory here): what the gateway tests show end to end, pinned where
 * the timing can be steered.
 */
class FleetLedgerTest {
    static final long HOUR = 3_600_000;

    RedisServer redis;
    final List<FleetRedis> clients = new ArrayList<>();
    final List<FleetLedger> ledgers = new ArrayList<>();
    final Arena arena = Arena.ofShared();

    @BeforeEach
    void start(@TempDir Path tmp) throws Exception {
        redis = RedisServer.start(tmp, false);
    }

    @AfterEach
    void stop() throws Exception {
        for (FleetLedger l : ledgers) l.close();
        for (FleetRedis c : clients) c.close();
        arena.close();
        redis.close();
    }

    FleetLedger ledger(String node) {
        FleetRedis r = new FleetRedis(redis.uri(), null, Duration.ofMillis(500));
        clients.add(r);
        FleetLedger l = new FleetLedger(r, node, 3000, 100, () -> 3);
        ledgers.add(l);
        return l;
    }

    /** One counter on one node: its row and handle. */
    record Bound(FleetLedger ledger, long row, Object handle) {
        int take(long tag, long amount) {
            long now = System.currentTimeMillis();
            int r = ledger.tryTake(handle, row, tag, amount, now);
            return r == Ledger.MISS ? ledger.acquire(handle, row, tag, amount, now) : r;
        }
    }

    Bound bind(FleetLedger l, Ledger.Spec spec) {
        long row = arena.allocate(64, 8).address();
        return new Bound(l, row, l.bind(1, row, spec));
    }

    static Ledger.Spec requests(String name, long cap) {
        return new Ledger.Spec(name, Lease.REQUESTS, cap, HOUR, null, false);
    }

    @Test
    void roomIdleNodesHoldComesBackWhenAnotherNodeNeedsItSoExactlyTheCapIsAdmitted() throws Exception {
        Ledger.Spec spec = requests("k/test/requests.key.1h", 100);
        long tag = System.currentTimeMillis() / (HOUR / 10);
        Bound a = bind(ledger("a"), spec);
        Bound b = bind(ledger("b"), spec);
        Bound c = bind(ledger("c"), spec);
        // a and c take some with a burst (their slices grow with their rate), then go idle.
        for (int i = 0; i < 20; i++) {
            assertEquals(Ledger.OK, a.take(tag, 1));
            assertEquals(Ledger.OK, c.take(tag, 1));
        }
        Thread.sleep(300);
        // b takes everything that is left, one request at a time.
        int more = 0;
        while (b.take(tag, 1) == Ledger.OK) more++;
        assertEquals(60, more, "b gets exactly the rest of the cap, headroom a and c held included");
        assertEquals(Ledger.NO_ROOM, a.take(tag, 1));
        assertEquals(Ledger.NO_ROOM, c.take(tag, 1));
    }

    @Test
    void concurrentTakersOnThreeNodesNeverPassTheCapAndUseAllOfIt() throws Exception {
        Ledger.Spec spec = requests("k/race/requests.key.1h", 500);
        long tag = System.currentTimeMillis() / (HOUR / 10);
        List<Bound> nodes = List.of(bind(ledger("a"), spec), bind(ledger("b"), spec), bind(ledger("c"), spec));
        AtomicLong ok = new AtomicLong();
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < 12; t++) {
            Bound n = nodes.get(t % 3);
            threads.add(Thread.ofPlatform().start(() -> {
                while (n.take(tag, 1) == Ledger.OK) ok.incrementAndGet();
            }));
        }
        for (Thread t : threads) t.join(60_000);
        assertEquals(500, ok.get());
    }

    @Test
    void concurrencySlotsTakenAndGivenBackOnThreeNodesWithPausesNeverPassTheCapAndAllComeBack() throws Exception {
        Ledger.Spec spec = new Ledger.Spec("k/gauge/concurrent.key", Lease.CONCURRENT, 4, 0, null, false);
        List<Bound> nodes = List.of(bind(ledger("a"), spec), bind(ledger("b"), spec), bind(ledger("c"), spec));
        AtomicLong inFlight = new AtomicLong();
        AtomicLong most = new AtomicLong();
        AtomicLong admitted = new AtomicLong();
        long end = System.nanoTime() + Duration.ofSeconds(4).toNanos();
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < 9; t++) {
            Bound n = nodes.get(t % 3);
            java.util.SplittableRandom random = new java.util.SplittableRandom(t);
            threads.add(Thread.ofPlatform().start(() -> {
                try {
                    while (System.nanoTime() < end) {
                        if (n.take(0, 1) == Ledger.OK) {
                            admitted.incrementAndGet();
                            most.accumulateAndGet(inFlight.incrementAndGet(), Math::max);
                            Thread.sleep(random.nextInt(0, 20));
                            inFlight.decrementAndGet();
                            n.ledger().give(1, n.row(), Lease.CONCURRENT, 0, 1, false);
                        }
                        Thread.sleep(random.nextInt(0, 3) == 0 ? random.nextInt(100, 400) : 1); // now and then a pause: slices go idle
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }));
        }
        for (Thread t : threads) t.join(60_000);
        assertTrue(admitted.get() > 100, "the test admitted only " + admitted.get());
        assertTrue(most.get() <= 4, "at most 4 in flight fleet-wide, saw " + most.get());
        // Every slot came back: one node can hold all four again (waiting for the others' idle headroom).
        Bound a = nodes.get(0);
        for (int i = 0; i < 4; i++) assertEquals(Ledger.OK, a.take(0, 1), "slot " + (i + 1) + " of 4");
        assertEquals(Ledger.NO_ROOM, nodes.get(1).take(0, 1));
    }

    @Test
    void anEndUsersSlotLeftByACrashedProcessIsGivenBackToItsRowNotToRedis() throws Exception {
        // A fresh process: nothing bound yet when the reaper releases what the dead one held.
        FleetLedger fresh = ledger("after-restart");
        long row = arena.allocate(128, 8).address();
        keyguard.counters.Cell.set(row, 0, 1); // one request in flight, counted in the node's own row
        fresh.give(77, row, Lease.CONCURRENT | Lease.LOCAL, 0, 1, false);
        assertEquals(0, keyguard.counters.Cell.get(row, 0), "the end user's concurrency slot is free again");
    }
}
