package keyguard.counters;

import java.util.concurrent.ConcurrentHashMap;

/**
 * The places of one key's end users ({@code by user} counters, {@link keyguard.policy.EndUsers}):
 * a table of {@code capacity} slots, each with its own set of the policy's {@code by user}
 * counters, and one overflow set.
 *
 * <p>Invariants: a key never has more than {@code capacity} slots, so a caller sending a
 * new end-user id with every request grows neither memory nor the counter store beyond
 * {@code capacity + 2} sets of counters per key (the slots, the overflow, and the set of
 * requests that name no end user). A slot belongs to the end user whose 64-bit hash its
 * owner word holds (0: free); an end user probes {@link #PROBES} slots from the one its
 * hash names, takes its own, a free one, or one whose counters are all idle (nothing in
 * its windows, its budget periods or in flight), and otherwise shares the overflow set or
 * is refused. Owner words live in the counter store's rows, so a restart, or another
 * process on the same data directory, finds every end user in the slot it had.
 */
final class EndUserSlots {
    /** How many slots an end user looks at before it overflows. */
    static final int PROBES = 8;

    final int capacity;
    final boolean overflowShared;
    private final ConcurrentHashMap<Integer, Slot> slots = new ConcurrentHashMap<>();
    private volatile KeyCounters overflow;

    /** One end user's place: its owner word's row and its counters. */
    record Slot(long ownerRow, KeyCounters counters) {}

    EndUserSlots(int capacity, boolean overflowShared) {
        this.capacity = capacity;
        this.overflowShared = overflowShared;
    }

    Slot slot(int index, java.util.function.IntFunction<Slot> bind) {
        return slots.computeIfAbsent(index, bind::apply);
    }

    KeyCounters overflow(java.util.function.Supplier<KeyCounters> bind) {
        KeyCounters o = overflow;
        if (o == null) {
            synchronized (this) {
                if (overflow == null) overflow = bind.get();
                o = overflow;
            }
        }
        return o;
    }

    /** Slots an end user holds (at most {@link #capacity}), of those this process has looked at. */
    int held() {
        int n = 0;
        for (Slot s : slots.values()) if (Cell.get(s.ownerRow(), 0) != 0) n++;
        return n;
    }

    /**
     * A 64-bit hash of an end-user id keyed with the store's salt, never 0 (FNV-1a from the
     * salt over its chars, then a 64-bit finaliser). Not a MAC: it keeps ids from being aimed
     * at a place without the salt, which never leaves the data directory.
     */
    static long hash(String endUser, long salt) {
        long h = 0xcbf29ce484222325L ^ salt;
        for (int i = 0; i < endUser.length(); i++) {
            h ^= endUser.charAt(i);
            h *= 0x100000001b3L;
        }
        h ^= h >>> 33;
        h *= 0xff51afd7ed558ccdL;
        h ^= h >>> 33;
        h *= 0xc4ceb9fe1a85ec53L;
        h ^= h >>> 33;
        h ^= Long.rotateLeft(salt, 17);
        h *= 0xff51afd7ed558ccdL;
        h ^= h >>> 29;
        return h == 0 ? 1 : h;
    }
}
