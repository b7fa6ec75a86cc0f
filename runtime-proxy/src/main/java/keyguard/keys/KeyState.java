package keyguard.keys;

public enum KeyState { ACTIVE, REVOKED }
