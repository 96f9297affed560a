"""The audit trail as a hash chain: each row carries the hash of the row before it.

A row's hash is the sha256 (lowercase hex) of the UTF-8 bytes of the canonical JSON array

    ["edge-agent-audit/1", prev_hash, at, actor, action, detail]

written with `json.dumps(..., ensure_ascii=True, separators=(",", ":"))`: every field is a JSON
string with its quotes and escapes, so no two different rows share an encoding (unlike joining
fields with a separator, where ("a|b", "c") and ("a", "b|c") would collide). The first row's
previous hash is `GENESIS`.

A chain proves its rows are unchanged and that none is missing between two rows still present;
it cannot show that rows after the last one were removed. For that, keep an anchor — the id and
hash of the newest row — somewhere the database's owner cannot rewrite (a bag, a log, a message)
and pass it to `verify_chain`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["GENESIS", "AuditAnchor", "AuditRow", "next_row", "row_hash", "verify_chain"]

GENESIS = "0" * 64
_DOMAIN = "edge-agent-audit/1"


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: str
    actor: str
    action: str
    detail: str
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class AuditAnchor:
    """The id and hash of a row known, from outside the database, to have been recorded."""

    id: int
    hash: str


def row_hash(prev_hash: str, at: str, actor: str, action: str, detail: str) -> str:
    """sha256 hex of the row's canonical JSON encoding (see the module's docstring)."""
    fields = (prev_hash, at, actor, action, detail)
    for name, value in zip(("prev_hash", "at", "actor", "action", "detail"), fields, strict=True):
        if not isinstance(value, str):
            raise TypeError(f"audit field {name} must be text, not {type(value).__name__}")
    encoded = json.dumps([_DOMAIN, *fields], ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(encoded.encode("ascii")).hexdigest()


def next_row(prev: AuditRow | None, id: int, at: str, actor: str, action: str, detail: str) -> AuditRow:
    """The row that follows `prev` (the first row of a chain when `prev` is None)."""
    prev_hash = GENESIS if prev is None else prev.hash
    return AuditRow(id, at, actor, action, detail, prev_hash, row_hash(prev_hash, at, actor, action, detail))


def verify_chain(rows: Iterable[AuditRow], anchors: Iterable[AuditAnchor] = ()) -> list[str]:
    """Problems with `rows` as plain sentences; empty when the chain is intact.

    `rows` come in id order (as `ORDER BY id` gives them) and are read once, one at a time, so a
    table of millions of rows is checked in constant memory. Finds a row altered (its hash does
    not match its fields), rows missing between two ids, a row removed, inserted or replaced (its
    previous hash is not the hash of the row before it), a row out of order or repeated, a chain
    that does not start at GENESIS, and — given `anchors` — rows missing after the last row
    present or a chain rewritten from an anchored row on.
    """
    problems: list[str] = []
    expected = {anchor.id: anchor.hash for anchor in anchors}
    found: set[int] = set()
    previous: AuditRow | None = None
    for row in rows:
        ident = row.id
        if not isinstance(ident, int) or isinstance(ident, bool):
            problems.append(f"a row has the id {ident!r}, which is not a number: the table was altered")
            continue
        if not _row_intact(row):
            problems.append(f"row {ident} was altered: its hash does not match what it records")
        if ident in expected and ident not in found:
            found.add(ident)
            if row.hash != expected[ident]:
                problems.append(
                    f"row {ident} is not the row anchored with that id: the chain was rewritten from there"
                )
        if previous is None:
            if row.prev_hash != GENESIS:
                problems.append(
                    f"the chain does not start at GENESIS: row {ident} follows a row that is missing, "
                    "so rows before it were deleted"
                )
        elif ident <= previous.id:
            if ident == previous.id:
                problems.append(f"row {ident} appears twice: a row was inserted with an id already taken")
            else:
                problems.append(f"row {ident} is out of order: it comes after row {previous.id}")
            continue  # the chain goes on from the row before it
        elif ident > previous.id + 1:
            first, last = previous.id + 1, ident - 1
            which = f"row {first} is" if first == last else f"rows {first} to {last} are"
            problems.append(f"{which} missing between ids {previous.id} and {ident}")
        elif row.prev_hash != previous.hash:
            problems.append(
                f"row {ident} does not follow row {previous.id}: its previous hash is not row "
                f"{previous.id}'s hash, so a row was removed, inserted or replaced between them"
            )
        previous = row
    last = previous.id if previous is not None else None
    for ident in sorted(set(expected) - found):
        if last is None or ident > last:
            after = "the chain is empty" if last is None else f"the last row present is {last}"
            problems.append(f"rows are missing after the last row: row {ident} was anchored, but {after}")
        else:
            problems.append(f"row {ident} was anchored but is missing")
    return problems


def _row_intact(row: AuditRow) -> bool:
    try:
        return row_hash(row.prev_hash, row.at, row.actor, row.action, row.detail) == row.hash
    except TypeError:
        return False
