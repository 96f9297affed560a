"""The archive's tables (SQLAlchemy 2 Core), the same on SQLite and PostgreSQL.

Times are integer microseconds since the Unix epoch, UTC (`*_us`): compact, exact, and ordered the
same way on both backends. Pictures live on disk by sha256; the tables hold their hashes.
Every change here needs an Alembic migration in `edge_agent/station/store/migrations/versions/`.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

# The ward a row belongs to, for a city that receives many wards' rows (`station city-publish`
# stamps the station's id into the column and its default): (station, key) is the row's global key.
WARD = "ward"
CITY_TABLES = ("events", "devices", "cameras", "seq_gaps")

# An auto-incrementing 64-bit key (SQLite only auto-increments an INTEGER PRIMARY KEY).
Key = BigInteger().with_variant(Integer(), "sqlite")

# One row per event message received, exactly as received: the dedupe key is (device, seq).
event_messages = Table(
    "event_messages",
    metadata,
    Column("id", Key, primary_key=True, autoincrement=True),
    Column("device", String(64), nullable=False),
    Column("camera", String(64), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("event_id", String(96), nullable=False),
    Column("type", String(8), nullable=False),
    Column("pole_us", BigInteger, nullable=False),  # the event's start (end on an end message)
    Column("received_us", BigInteger, nullable=False),
    Column("broker", String(64), nullable=False),
    Column("thumb_sha256", String(64)),
    Column("clock_synced", Boolean, nullable=False),
    Column("raw", LargeBinary, nullable=False),
    UniqueConstraint("device", "seq", name="uq_event_messages_device_seq"),
    Index("ix_event_messages_event", "device", "event_id"),
    Index("ix_event_messages_received", "received_us", postgresql_using="brin"),
)

# One row per event (one object pass), the latest state of its messages: what search returns.
events = Table(
    "events",
    metadata,
    Column("station", String(64), nullable=False, server_default=WARD),  # the ward, for a city
    Column("id", Key, primary_key=True, autoincrement=True),
    Column("device", String(64), nullable=False),
    Column("camera", String(64), nullable=False),
    Column("event_id", String(96), nullable=False),
    Column("label", String(32), nullable=False),
    Column("start_us", BigInteger, nullable=False),
    Column("end_us", BigInteger),
    Column("last_type", String(8), nullable=False),
    Column("last_seq", BigInteger, nullable=False),
    Column("score", Float, nullable=False),  # the best score seen
    Column("stationary", Boolean, nullable=False),
    Column("zones", Text, nullable=False),  # ",a,b," so one LIKE finds a zone
    Column("lines", Text, nullable=False),
    Column("clock_synced", Boolean, nullable=False),  # false once any message said unsynced
    Column("thumb_sha256", String(64)),  # the thumbnail the latest message names
    Column("thumb_status", String(12), nullable=False),  # ok | pending | missing | mismatch | none
    Column("first_received_us", BigInteger, nullable=False),
    Column("last_received_us", BigInteger, nullable=False),
    Column("messages", Integer, nullable=False),
    UniqueConstraint("device", "event_id", name="uq_events_device_event"),
    Index("ix_events_start", "start_us", "id"),
    Index("ix_events_device_start", "device", "start_us", "id"),
    Index("ix_events_device_label_start", "device", "label", "start_us", "id"),
    Index("ix_events_label_start", "label", "start_us", "id"),
    Index("ix_events_thumb_status", "thumb_status", "last_received_us"),
    Index("ix_events_received", "first_received_us"),
)

# Every picture ever received, by content.
pictures = Table(
    "pictures",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("size", Integer, nullable=False),
    Column("first_received_us", BigInteger, nullable=False),
    Column("last_used_us", BigInteger, nullable=False),
)

# Every version of every event's thumbnail and every snapshot, pointing at a picture.
picture_uses = Table(
    "picture_uses",
    metadata,
    Column("id", Key, primary_key=True, autoincrement=True),
    Column("kind", String(12), nullable=False),  # thumbnail | snapshot
    Column("device", String(64), nullable=False),
    Column("camera", String(64), nullable=False),
    Column("event_id", String(96), nullable=False),  # "" for a snapshot
    Column("sha256", String(64), ForeignKey("pictures.sha256"), nullable=False),
    Column("received_us", BigInteger, nullable=False),
    Column("broker", String(64), nullable=False),
    UniqueConstraint("kind", "device", "camera", "event_id", "sha256", name="uq_picture_uses"),
    Index("ix_picture_uses_event", "device", "event_id"),
    Index("ix_picture_uses_received", "received_us", postgresql_using="brin"),
)

# Status, stats, health, counts, alarm and motion messages as received.
device_messages = Table(
    "device_messages",
    metadata,
    Column("id", Key, primary_key=True, autoincrement=True),
    Column("device", String(64), nullable=False),
    Column("camera", String(64), nullable=False),  # "" for device-level topics
    Column("kind", String(12), nullable=False),
    Column("received_us", BigInteger, nullable=False),
    Column("broker", String(64), nullable=False),
    Column("dedupe", String(64)),  # sha256 of topic+payload for alarms, counts, health
    Column("raw", LargeBinary, nullable=False),
    UniqueConstraint("dedupe", name="uq_device_messages_dedupe"),
    Index("ix_device_messages_device", "device", "kind", "received_us"),
    Index("ix_device_messages_received", "received_us", postgresql_using="brin"),
)

# The fleet: one row per pole, one per camera.
devices = Table(
    "devices",
    metadata,
    Column("station", String(64), nullable=False, server_default=WARD),  # the ward, for a city
    Column("device", String(64), primary_key=True),
    Column("broker", String(64), nullable=False),
    Column("status", String(16)),  # online | offline, as the pole (or its will) said
    Column("status_us", BigInteger),
    Column("stats_us", BigInteger),
    Column("stats", LargeBinary),
    Column("last_event_us", BigInteger),
    Column("max_seq", BigInteger),
    Column("alerted_us", BigInteger),  # when the current offline alert was raised
    Column("first_seen_us", BigInteger, nullable=False),
)

cameras = Table(
    "cameras",
    metadata,
    Column("station", String(64), nullable=False, server_default=WARD),  # the ward, for a city
    Column("device", String(64), primary_key=True),
    Column("camera", String(64), primary_key=True),
    Column("health", LargeBinary),
    Column("health_us", BigInteger),
    Column("motion", String(8)),
    Column("last_event_us", BigInteger),
    Column("snapshot_sha256", String(64)),
)

# Missing seq numbers per pole: [first, last], shrunk when a late message fills them.
seq_gaps = Table(
    "seq_gaps",
    metadata,
    Column("station", String(64), nullable=False, server_default=WARD),  # the ward, for a city
    Column("id", Key, primary_key=True, autoincrement=True),
    Column("device", String(64), nullable=False),
    Column("first_seq", BigInteger, nullable=False),
    Column("last_seq", BigInteger, nullable=False),
    Column("detected_us", BigInteger, nullable=False),
    Index("ix_seq_gaps_device", "device", "first_seq"),
)

# Messages refused, with the reason; the payload's head only.
rejects = Table(
    "rejects",
    metadata,
    Column("id", Key, primary_key=True, autoincrement=True),
    Column("received_us", BigInteger, nullable=False),
    Column("broker", String(64), nullable=False),
    Column("topic", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("size", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("head", LargeBinary, nullable=False),
    Index("ix_rejects_received", "received_us", postgresql_using="brin"),
)

counters = Table(
    "counters",
    metadata,
    Column("name", String(96), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

cases = Table(
    "cases",
    metadata,
    Column("id", Key, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("reason", Text, nullable=False),
    Column("opened_by", String(128), nullable=False),
    Column("opened_us", BigInteger, nullable=False),
    Column("held", Boolean, nullable=False),
)

case_events = Table(
    "case_events",
    metadata,
    Column("case_id", BigInteger, ForeignKey("cases.id"), primary_key=True),
    Column("device", String(64), primary_key=True),
    Column("event_id", String(96), primary_key=True),
    Column("added_by", String(128), nullable=False),
    Column("added_us", BigInteger, nullable=False),
    Index("ix_case_events_event", "device", "event_id"),
)

audit = Table(
    "audit",
    metadata,
    Column("id", Key, primary_key=True, autoincrement=True),
    Column("at", String(32), nullable=False),
    Column("actor", String(128), nullable=False),
    Column("action", String(32), nullable=False),
    Column("detail", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)
