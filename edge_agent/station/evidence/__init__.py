"""Evidence: cases, their signed exports, and the hash-chained audit log.

In: case requests (open, add events, hold), the events and pictures in the store, every audited
action. Out: case rows and holds that retention respects, BagIt bags signed with the station's
key, verify reports that name what changed, and the audit chain.

- `cases`: a name, a reason, a set of events and a hold.
- `export`: a case as a bag: each event's messages as received, every thumbnail version.
- `signing`: the station's Ed25519 key (created once, kept 0600) and its public fingerprint.
- `bag`, `layout`, `verify`: `write_bag` writes a BagIt bag (RFC 8493); `verify_bag` says what changed.
- `audit`, `auditlog`: each audit row carries the hash of the one before; `verify_chain` finds what
  was altered; `auditlog.append` writes a row in the caller's transaction.
"""
