"""Evidence: the station's signing key, BagIt exports of a case, and the hash-chained audit trail.

- `signing`: the station's Ed25519 key (created once, kept 0600) and its public fingerprint.
- `bag`: `write_bag` writes a case as a signed BagIt bag (RFC 8493); `verify_bag` says what changed.
- `audit`: each audit row carries the hash of the one before; `verify_chain` finds what was altered.
"""
