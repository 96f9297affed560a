"""The store: what the station keeps, and the only room that talks SQL DDL or writes picture files.

In: rows and picture bytes from ingest; reads and deletes from the rooms above.
Out: an engine migrated to the newest schema (SQLite WAL or PostgreSQL), the tables, pictures on
disk by sha256, and retention's deletions.

- `engine`: opens SQLite or PostgreSQL and runs the Alembic migrations in `migrations/`.
- `schema`, `web_tables`, `notify_tables`, `footage_tables`: the archive's tables, the pages'
  (accounts, sessions, ...), the alerts', and the poles' footage chains and pinned keys.
- `statements`, `ops`: the ingest path's set-based statements; portable insert-if-new, counters.
- `pictures`: content-addressed picture files, fsync'd before any row names them.
- `retention`: by age and disk watermark, oldest first, a held case's events exempt.
"""
