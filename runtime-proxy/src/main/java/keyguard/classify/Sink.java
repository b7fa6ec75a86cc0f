package keyguard.classify;

/** Receives what a scan finds: the detector and the span {@code [start, end)} of the text. */
@FunctionalInterface
public interface Sink {
    void found(Detector detector, int start, int end);
}
