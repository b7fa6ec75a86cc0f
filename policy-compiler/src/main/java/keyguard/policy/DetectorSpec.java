package keyguard.policy;

import java.util.List;
import keyguard.lang.source.Span;

/**
 * A custom detector from the policy files: {@code detector NAME { words [...] class C }}
 * (case-insensitive whole words or phrases) or {@code detector NAME { pattern "RE2" class C }}
 * (an RE2 regular expression: linear time whatever the input). Exactly one of
 * {@code words} and {@code pattern} is set.
 */
public record DetectorSpec(String name, List<String> words, com.google.re2j.Pattern pattern, DataClass dataClass, Span span) {}
