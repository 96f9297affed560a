"""The alerts' tables: the outbox of messages to people, the watcher's cursors and pole states,
snoozes and used acknowledge links. They join the archive's `metadata`; migration 0003 makes them.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table, Text, UniqueConstraint

from edge_agent.station.store.schema import Key, metadata

# One row per message to one channel of one subscription. `key` makes a message once only:
# the same fact (an alarm, a pole going down) fanned out twice finds its rows already there.
notify_outbox = Table(
    "notify_outbox",
    metadata,
    Column("id", Key, primary_key=True, autoincrement=True),
    Column("key", String(255), nullable=False),
    Column("source", String(200), nullable=False),  # the fact: alarm:<device-message id>, ...
    Column("kind", String(24), nullable=False),
    Column("subscription", String(64), nullable=False),
    Column("channel", String(64), nullable=False),
    Column("device", String(64), nullable=False),
    Column("camera", String(64), nullable=False),
    Column("facts", Text, nullable=False),  # JSON: what the templates fill in
    Column("picture_sha256", String(64)),
    Column("event_id", String(96)),  # whose thumbnail to attach when it comes
    # pending | sending | sent | dead | skipped | grouped
    Column("state", String(12), nullable=False),
    Column("reason", Text, nullable=False),  # why skipped or grouped, or the last error
    Column("group_key", String(255)),  # a grouped row: the summary that counts it
    Column("attempts", Integer, nullable=False),
    Column("created_us", BigInteger, nullable=False),
    Column("due_us", BigInteger, nullable=False),
    Column("sent_us", BigInteger),
    Column("ack_us", BigInteger),
    Column("ack_by", String(128)),
    UniqueConstraint("key", name="uq_notify_outbox_key"),
    Index("ix_notify_outbox_due", "state", "due_us"),
    Index("ix_notify_outbox_recent", "subscription", "kind", "device", "created_us"),
    Index("ix_notify_outbox_source", "source"),
    Index("ix_notify_outbox_group", "group_key"),
)

# How far the watcher has read each stored stream (device messages, gaps): its position.
notify_cursors = Table(
    "notify_cursors",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

# What the watcher last told of each pole: down since when, told or not, reminders, flaps.
notify_poles = Table(
    "notify_poles",
    metadata,
    Column("device", String(64), primary_key=True),
    Column("down_since_us", BigInteger),  # null while up
    Column("state", String(16), nullable=False),  # up | offline | silent
    Column("alerted_us", BigInteger),  # when the offline message was made (null: not yet)
    Column("reminders", Integer, nullable=False),
    Column("alerts", Text, nullable=False),  # JSON list of recent offline-alert times (flapping)
    Column("flapping_us", BigInteger),  # said to be flapping at; quiet until it settles
)

notify_snoozes = Table(
    "notify_snoozes",
    metadata,
    Column("id", Key, primary_key=True, autoincrement=True),
    Column("device", String(64), nullable=False),
    Column("camera", String(64), nullable=False),  # "" = every camera of the pole
    Column("until_us", BigInteger, nullable=False),
    Column("by", String(128), nullable=False),
    Column("note", Text, nullable=False),
    Column("created_us", BigInteger, nullable=False),
    Index("ix_notify_snoozes_device", "device", "until_us"),
)

# An acknowledge link works once: its token's hash is kept when used.
notify_acks = Table(
    "notify_acks",
    metadata,
    Column("token_sha256", String(64), primary_key=True),
    Column("outbox_id", BigInteger, nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Column("by", String(128), nullable=False),
    Column("ip", String(64), nullable=False),
)
