package keyguard.wire;

/** Which vendor's JSON a route speaks: requests, responses, streams and errors. */
public enum ApiShape { OPENAI, ANTHROPIC }
