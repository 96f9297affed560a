"""The footage the poles say they recorded: each camera's chain of segment records, the pole's
signed heads, and the pole's pinned public key. They join the archive's `metadata`; migration
0004 makes the first three.

`footage_files`, `clip_requests` and `clip_segments` (migration 0005) are the clips pulled:
what was asked for, and the station's copy of each segment as it arrives.

The rows are what the poles sent over MQTT, checked as they came: a record's `link` says whether
its `prev` is the hash of the record before it (`ok`), is not (`broken`), is the chain's first
(`first`), or cannot be told yet because that record has not come (`waiting`). A head's `status`
says whether the pole's pinned key signed it over the record the station has (`ok`), or what is
wrong (`bad`, with the sentence in `problem`), or `no key` until the pole's key is known.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, ForeignKey, Index, LargeBinary, String, Table, Text

from edge_agent.station.store.schema import Key, metadata

footage_segments = Table(
    "footage_segments",
    metadata,
    Column("device", String(64), primary_key=True),
    Column("camera", String(64), primary_key=True),
    Column("chain", String(16), primary_key=True),  # the chain's id, made when it began at 0
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("name", String(128), nullable=False),
    Column("bytes", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("start_us", BigInteger, nullable=False),
    Column("end_us", BigInteger, nullable=False),
    Column("clock_synced", Boolean, nullable=False),
    Column("record_hash", String(64), nullable=False),  # sha256 of the canonical record
    Column("prev", String(64), nullable=False),
    Column("link", String(8), nullable=False),  # ok | broken | first | waiting
    Column("received_us", BigInteger, nullable=False),
    Column("raw", LargeBinary, nullable=False),  # the record's canonical JSON, as the pole hashed it
    Index("ix_footage_segments_time", "device", "camera", "start_us"),
)

footage_heads = Table(
    "footage_heads",
    metadata,
    Column("device", String(64), primary_key=True),
    Column("camera", String(64), primary_key=True),
    Column("chain", String(16), primary_key=True),  # the chain's id, made when it began at 0
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("head", String(64), nullable=False),
    Column("key", String(16), nullable=False),  # the fingerprint the head names
    Column("status", String(8), nullable=False),  # ok | bad | no key | waiting
    Column("problem", Text, nullable=False),
    Column("received_us", BigInteger, nullable=False),
    Column("raw", LargeBinary, nullable=False),
)

# The key a pole's footage is signed with, pinned the first time the station sees it (in the
# pole's stats); another key later is kept beside it as `offered_*` and alerted, never pinned
# by itself.
pole_keys = Table(
    "pole_keys",
    metadata,
    Column("device", String(64), primary_key=True),
    Column("fingerprint", String(16), nullable=False),
    Column("public_key", String(64), nullable=False),  # base64 of the 32 raw bytes
    Column("pinned_us", BigInteger, nullable=False),
    Column("offered_fingerprint", String(16)),
    Column("offered_public_key", String(64)),
    Column("offered_us", BigInteger),
)

# The station's copy of each segment it asked for: how many bytes have come (in order, from 0),
# and what became of it: wanted (asked, nothing yet) | arriving | verified (its sha256 is the
# record's) | mismatch (kept, flagged, never shown as good) | unavailable (the pole said why).
footage_files = Table(
    "footage_files",
    metadata,
    Column("device", String(64), primary_key=True),
    Column("camera", String(64), primary_key=True),
    Column("chain", String(16), primary_key=True),
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("name", String(128), nullable=False),
    Column("state", String(12), nullable=False),
    Column("have_bytes", BigInteger, nullable=False),
    Column("reason", Text, nullable=False),
    Column("asked_us", BigInteger),  # when the pole was last asked for it
    Column("updated_us", BigInteger, nullable=False),
    Index("ix_footage_files_state", "state", "device"),
)

# A clip someone asked for: an event (with the margins) or a time range on one camera.
clip_requests = Table(
    "clip_requests",
    metadata,
    Column("id", Key, primary_key=True, autoincrement=True),
    Column("device", String(64), nullable=False),
    Column("camera", String(64), nullable=False),
    Column("event_id", String(96)),
    Column("from_us", BigInteger, nullable=False),
    Column("to_us", BigInteger, nullable=False),
    Column("requested_by", String(128), nullable=False),
    Column("requested_us", BigInteger, nullable=False),
    Column("detail", Text, nullable=False),  # why there is nothing to pull, when there is not
    Column("closed_us", BigInteger),  # every segment verified or said unavailable
    Index("ix_clip_requests_event", "device", "event_id"),
    Index("ix_clip_requests_open", "closed_us"),
)

# The segments that cover a request (from the chain records the station had when it was made).
clip_segments = Table(
    "clip_segments",
    metadata,
    Column("request_id", BigInteger, ForeignKey("clip_requests.id"), primary_key=True),
    Column("chain", String(16), primary_key=True),
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
)
