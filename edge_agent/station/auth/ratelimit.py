"""Failed logins, counted per account and per address over a sliding window (in the database,
so every station process and a restart see the same count)."""

from __future__ import annotations

from sqlalchemy import Connection, delete, func, insert, or_, select

from edge_agent.station.store.web_tables import login_failures


def record_failure(conn: Connection, name: str, ip: str, now_us: int) -> None:
    conn.execute(insert(login_failures).values(name=name[:64], ip=ip[:64], at_us=now_us))


def retry_after_s(
    conn: Connection, name: str, ip: str, now_us: int, max_failures: int, window_s: float
) -> int:
    """Seconds to wait before this account or address may try again (0: may try now)."""
    window_us = int(window_s * 1e6)
    since = now_us - window_us
    wait = 0
    for column, value, limit in (
        (login_failures.c.name, name[:64], max_failures),
        (login_failures.c.ip, ip[:64], max_failures * 4),  # one address trying many names
    ):
        rows = conn.execute(
            select(login_failures.c.at_us)
            .where(column == value, login_failures.c.at_us > since)
            .order_by(login_failures.c.at_us.desc())
            .limit(limit)
        ).all()
        if len(rows) >= limit:
            wait = max(wait, (rows[-1].at_us + window_us - now_us) // 1_000_000 + 1)
    return int(wait)


def forget(conn: Connection, name: str, now_us: int, window_s: float) -> None:
    """After a good login: the account's failures are forgotten; old rows are pruned."""
    conn.execute(
        delete(login_failures).where(
            or_(login_failures.c.name == name[:64], login_failures.c.at_us < now_us - int(window_s * 1e6))
        )
    )


def count(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(login_failures)).scalar() or 0)
