package keyguard.counters;

import net.openhft.chronicle.values.Array;

/**
 * The off-heap value of one counter: a fixed row of 64-bit words. Chronicle generates the
 * native implementation; {@link OffHeapCell} binds to its memory once and updates the words
 * with real CAS and atomic add instructions (the generated accessors are not used on the
 * hot path).
 */
public interface CounterWords {
    int WORDS = 16;

    @Array(length = WORDS)
    long getWordAt(int index);

    void setWordAt(int index, long value);
}
