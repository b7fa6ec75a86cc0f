package keyguard.counters;

/**
 * The single-node ledger: every counter is a row of this process's memory-mapped words,
 * checked and added in one CAS ({@link SlidingWindow}, {@link PeriodTotal}, a gauge for
 * concurrency). Never misses: the rows are the authority.
 */
public final class LocalLedger implements Ledger {
    public static final LocalLedger INSTANCE = new LocalLedger();

    private LocalLedger() {}

    @Override
    public Object bind(long id, long row, Spec spec) {
        return spec;
    }

    @Override
    public int tryTake(Object handle, long row, long tag, long amount, long now) {
        Spec s = (Spec) handle;
        long cap = s.cap();
        boolean ok = switch (s.kind()) {
            case Lease.SPEND -> PeriodTotal.tryAdd(row, tag, amount, cap);
            case Lease.CONCURRENT -> {
                while (true) {
                    long v = Cell.get(row, 0);
                    if (amount > cap - Math.max(0, v)) yield false;
                    if (Cell.cas(row, 0, v, v + amount)) yield true;
                }
            }
            default -> SlidingWindow.tryAdd(row, tag, amount, cap);
        };
        return ok ? OK : NO_ROOM;
    }

    @Override
    public int acquire(Object handle, long row, long tag, long amount, long now) {
        return tryTake(handle, row, tag, amount, now);
    }

    @Override
    public void give(long id, long row, int kind, long tag, long amount, boolean rollback) {
        switch (kind & Lease.KIND_MASK) {
            case Lease.REQUESTS -> { if (rollback) SlidingWindow.remove(row, tag, amount); }
            case Lease.TOKENS -> SlidingWindow.remove(row, tag, amount);
            case Lease.CONCURRENT -> Cell.subtractFloorZero(row, 0, amount);
            case Lease.SPEND -> PeriodTotal.remove(row, tag, amount);
            default -> { }
        }
    }

    @Override
    public void addLate(Object handle, long row, long tag, long amount) {
        switch (((Spec) handle).kind()) {
            case Lease.SPEND -> PeriodTotal.add(row, tag, amount);
            case Lease.CONCURRENT -> { }
            default -> SlidingWindow.add(row, tag, amount);
        }
    }

    @Override
    public long used(Object handle, long row, long tag, long now) {
        return switch (((Spec) handle).kind()) {
            case Lease.SPEND -> PeriodTotal.used(row, tag);
            case Lease.CONCURRENT -> Math.max(0, Cell.get(row, 0));
            default -> SlidingWindow.used(row, tag);
        };
    }

    @Override
    public long millisUntilFits(Object handle, long row, long now, long need) {
        Spec s = (Spec) handle;
        return switch (s.kind()) {
            case Lease.SPEND -> s.calendar().at(now).endMillis() - now;
            case Lease.CONCURRENT -> 1000;
            default -> SlidingWindow.millisUntilFits(row, now, s.windowMillis(), need, s.cap());
        };
    }

    @Override
    public long millisUntilEmpty(Object handle, long row, long now) {
        Spec s = (Spec) handle;
        return switch (s.kind()) {
            case Lease.SPEND -> s.calendar().at(now).endMillis() - now;
            case Lease.CONCURRENT -> 0;
            default -> SlidingWindow.millisUntilEmpty(row, now, s.windowMillis());
        };
    }
}
