package keyguard.counters;

import net.openhft.chronicle.values.Array;

/** The off-heap value of one reservation lease, see {@link Lease} for the layout. */
public interface LeaseWords {
    int WORDS = 64;

    @Array(length = WORDS)
    long getWordAt(int index);

    void setWordAt(int index, long value);
}
