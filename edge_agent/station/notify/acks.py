"""Acknowledge links and escalation.

Every alarm message carries a link `<base_url>/notify/ack/<token>`: the outbox row's id and an
expiry, signed with HMAC-SHA256 under a key made once on the station (`notify-ack.key`, 0600).
Opening it shows a button (a link preview in Telegram or a mail scanner only GETs, and must not
acknowledge); pressing it acknowledges the alarm for every subscription told of it. A token
works once; reused, expired or forged ones are refused, and every try is in the audit log.
An alarm nobody acknowledged within `escalate_after_s` is told to the `escalate_to` subscription.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, select, update
from sqlalchemy.orm import aliased

from edge_agent.station.evidence import auditlog
from edge_agent.station.store.notify_tables import notify_acks, notify_outbox
from edge_agent.station.store.ops import insert_ignore


def load_key(path: Path) -> bytes:
    """The signing key, made on first use (0600, never shown)."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_bytes(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key)
        return key


def _sig(key: bytes, text: str) -> str:
    mac = hmac.new(key, text.encode(), hashlib.sha256).digest()[:18]
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def make_token(key: bytes, outbox_id: int, expires_s: int) -> str:
    body = f"{outbox_id}.{expires_s}"
    return f"{body}.{_sig(key, body)}"


@dataclass(frozen=True)
class AckResult:
    status: str  # ok | reused | expired | forged
    row: Any = None  # the outbox row the token names (ok, reused, expired)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def check_token(conn: Connection, key: bytes, token: str, now_s: float) -> AckResult:
    parts = token.split(".")
    if len(parts) != 3 or not all(p.isascii() and p.isdigit() and len(p) <= 18 for p in parts[:2]):
        return AckResult("forged")
    given = parts[2].encode("utf-8", "replace")  # compare_digest takes ASCII str or bytes only
    if not hmac.compare_digest(_sig(key, f"{parts[0]}.{parts[1]}").encode(), given):
        return AckResult("forged")
    row = conn.execute(select(notify_outbox).where(notify_outbox.c.id == int(parts[0]))).first()
    if row is None:
        return AckResult("forged")
    used = conn.execute(select(notify_acks.c.at_us).where(notify_acks.c.token_sha256 == _hash(token))).first()
    if used is not None:
        return AckResult("reused", row)
    if now_s > int(parts[1]):
        return AckResult("expired", row)
    return AckResult("ok", row)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def acknowledge(engine: Engine, key: bytes, token: str, ip: str, now_us: int) -> AckResult:
    """Use a token: the alarm acknowledged (every row of its source), or refused; both audited."""
    with engine.begin() as conn:
        result = check_token(conn, key, token, now_us / 1e6)
        row = result.row
        who = row.subscription if row is not None else "?"
        detail: dict[str, Any] = {"ip": ip[:64], "token": _hash(token)[:16]}
        if row is not None:
            detail |= {"pole": row.device, "camera": row.camera, "alarm": row.source, "outbox": int(row.id)}
        if not result.ok:
            auditlog.append(conn, who, "alarm-ack-refused", detail | {"why": result.status})
            return result
        if not insert_ignore(
            conn,
            notify_acks,
            {
                "token_sha256": _hash(token),
                "outbox_id": int(row.id),
                "at_us": now_us,
                "by": who,
                "ip": ip[:64],
            },
        ):
            auditlog.append(conn, who, "alarm-ack-refused", detail | {"why": "reused"})
            return AckResult("reused", row)
        conn.execute(
            update(notify_outbox)
            .where(notify_outbox.c.source == row.source, notify_outbox.c.ack_us.is_(None))
            .values(ack_us=now_us, ack_by=who)
        )
        auditlog.append(conn, who, "alarm-acknowledged", detail)
    return result


def unacknowledged(conn: Connection, subscription: str, older_than_us: int, since_us: int) -> list[Any]:
    """Alarm rows of `subscription` sent before `older_than_us` (and after `since_us`) that nobody
    has acknowledged (an acknowledgement marks every row of its alarm) and that have not been
    escalated yet: the ones to escalate."""
    o = notify_outbox.c
    escalated = aliased(notify_outbox)
    return list(
        conn.execute(
            select(notify_outbox).where(
                o.subscription == subscription,
                o.kind == "alarm",
                o.state == "sent",
                o.ack_us.is_(None),
                o.sent_us <= older_than_us,
                o.sent_us >= since_us,
                ~o.key.endswith("|esc"),
                ~select(escalated.c.id)
                .where(escalated.c.source == o.source, escalated.c.key.endswith("|esc"))
                .exists(),
            )
        )
    )
