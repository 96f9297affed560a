"""The audit trail's hash chain: an altered, deleted, inserted or reordered row is named."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json

from hypothesis import given
from hypothesis import strategies as st

from edge_agent.station.evidence.audit import (
    GENESIS,
    AuditAnchor,
    AuditRow,
    next_row,
    row_hash,
    verify_chain,
)

ACTIONS = [
    ("si.rao", "search", '{"pole": "pole17", "label": "motorcycle", "from": "2026-11-22T21:00"}'),
    ("si.rao", "view", '{"events": ["pole17/42"]}'),
    ("si.rao", "hold", '{"case": "2026-117"}'),
    ("hc.das", "search", '{"pole": "pole03"}'),
    ("si.rao", "export", '{"case": "2026-117", "events": 12}'),
    ("admin", "view", '{"events": ["pole03/7"]}'),
]


def chain(count: int = 6) -> list[AuditRow]:
    rows: list[AuditRow] = []
    for i in range(count):
        actor, action, detail = ACTIONS[i % len(ACTIONS)]
        rows.append(
            next_row(rows[-1] if rows else None, i + 1, f"2026-11-23T08:{i:02d}:00Z", actor, action, detail)
        )
    return rows


def test_an_intact_chain_has_no_problems() -> None:
    rows = chain()
    assert rows[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(rows))
    assert verify_chain(rows) == []
    assert verify_chain([]) == []
    assert verify_chain(rows, [AuditAnchor(6, rows[-1].hash), AuditAnchor(3, rows[2].hash)]) == []


def test_the_hash_is_sha256_of_canonical_json() -> None:
    expected = json.dumps(["edge-agent-audit/1", GENESIS, "t", "a", "view", "d"], separators=(",", ":"))
    assert row_hash(GENESIS, "t", "a", "view", "d") == hashlib.sha256(expected.encode()).hexdigest()


def test_an_altered_row_is_named() -> None:
    rows = chain()
    rows[2] = dataclasses.replace(rows[2], detail='{"case": "another"}')
    assert verify_chain(rows) == ["row 3 was altered: its hash does not match what it records"]


def test_an_altered_and_rehashed_row_breaks_the_link_to_the_next() -> None:
    rows = chain()
    forged = dataclasses.replace(rows[2], actor="nobody")
    rows[2] = dataclasses.replace(
        forged, hash=row_hash(forged.prev_hash, forged.at, "nobody", forged.action, forged.detail)
    )
    assert verify_chain(rows) == [
        "row 4 does not follow row 3: its previous hash is not row 3's hash, "
        "so a row was removed, inserted or replaced between them"
    ]


def test_a_deleted_row_is_named() -> None:
    rows = chain()
    del rows[3]
    assert verify_chain(rows) == ["row 4 is missing between ids 3 and 5"]
    del rows[1:3]
    assert verify_chain(rows) == ["rows 2 to 4 are missing between ids 1 and 5"]


def test_deleted_first_rows_are_named() -> None:
    rows = chain()[2:]
    assert verify_chain(rows) == [
        "the chain does not start at GENESIS: row 3 follows a row that is missing, "
        "so rows before it were deleted"
    ]


def test_deleted_last_rows_show_only_against_an_anchor() -> None:
    rows = chain()
    anchor = AuditAnchor(6, rows[-1].hash)
    assert verify_chain(rows[:4]) == []  # a chain cannot know what came after its end
    assert verify_chain(rows[:4], [anchor]) == [
        "rows are missing after the last row: row 6 was anchored, but the last row present is 4"
    ]


def test_a_chain_rewritten_from_an_anchored_row_is_named() -> None:
    rows = chain()
    rewritten = rows[:2]
    for old in rows[2:]:
        rewritten.append(next_row(rewritten[-1], old.id, old.at, old.actor, "view", old.detail))
    assert verify_chain(rewritten) == []  # consistent in itself
    assert verify_chain(rewritten, [AuditAnchor(5, rows[4].hash)]) == [
        "row 5 is not the row anchored with that id: the chain was rewritten from there"
    ]


def test_an_inserted_row_is_named() -> None:
    rows = chain()
    inserted = next_row(rows[2], 4, "2026-11-23T08:02:30Z", "si.rao", "view", '{"events": []}')
    renumbered = [dataclasses.replace(r, id=r.id + 1) for r in rows[3:]]
    tampered = [*rows[:3], inserted, *renumbered]
    assert verify_chain(tampered) == [
        "row 5 does not follow row 4: its previous hash is not row 4's hash, "
        "so a row was removed, inserted or replaced between them"
    ]
    assert verify_chain([*rows[:3], dataclasses.replace(inserted, id=3), *rows[3:]]) == [
        "row 3 appears twice: a row was inserted with an id already taken"
    ]


def test_reordered_rows_are_named() -> None:
    rows = chain()
    swapped = [rows[0], rows[2], rows[1], *rows[3:]]
    assert verify_chain(swapped) == [
        "row 2 is missing between ids 1 and 3",
        "row 2 is out of order: it comes after row 3",
    ]
    # The rows' contents swapped but their ids kept in order: the links break.
    contents = [rows[0], dataclasses.replace(rows[2], id=2), dataclasses.replace(rows[1], id=3), *rows[3:]]
    problems = verify_chain(contents)
    assert "row 2 does not follow row 1" in problems[0] and len(problems) == 3


def test_a_row_with_a_null_field_is_altered_not_a_crash() -> None:
    rows = chain(3)
    rows[1] = dataclasses.replace(rows[1], detail=None)  # type: ignore[arg-type]
    assert verify_chain(rows) == ["row 2 was altered: its hash does not match what it records"]


FIELD = st.text(max_size=12)


@given(a=st.tuples(FIELD, FIELD, FIELD, FIELD, FIELD), b=st.tuples(FIELD, FIELD, FIELD, FIELD, FIELD))
def test_different_rows_never_share_a_hash(a: tuple[str, ...], b: tuple[str, ...]) -> None:
    assert (row_hash(*a) == row_hash(*b)) == (a == b)


@given(
    left=st.text(alphabet='ab|,"\\:[] \x00é\ud800', max_size=6),
    right=st.text(alphabet='ab|,"\\:[] \x00é\ud800', max_size=6),
    cut=st.integers(min_value=0, max_value=12),
)
def test_moving_text_between_fields_changes_the_hash(left: str, right: str, cut: int) -> None:
    joined = left + right
    other_left, other_right = joined[:cut], joined[cut:]
    same = (other_left, other_right) == (left, right)
    assert (
        row_hash(GENESIS, "t", left, right, "d") == row_hash(GENESIS, "t", other_left, other_right, "d")
    ) == same
    assert (
        row_hash(GENESIS, left, right, "x", "d") == row_hash(GENESIS, other_left, other_right, "x", "d")
    ) == same


def test_separator_lookalikes_do_not_collide() -> None:
    assert row_hash(GENESIS, "t", "a|b", "c", "d") != row_hash(GENESIS, "t", "a", "b|c", "d")
    assert row_hash(GENESIS, "t", 'a","b', "c", "d") != row_hash(GENESIS, "t", "a", 'b","c', "d")


def test_rows_are_read_once_as_a_stream() -> None:
    assert verify_chain(row for row in chain(50)) == []


@given(
    size=st.integers(min_value=2, max_value=12),
    tamper=st.sampled_from(["alter", "delete", "insert", "swap"]),
    where=st.integers(min_value=0, max_value=100),
    text=st.text(max_size=8),
)
def test_any_single_tampering_is_found(size: int, tamper: str, where: int, text: str) -> None:
    rows = chain(size)
    i = where % size
    if tamper == "alter":
        rows[i] = dataclasses.replace(rows[i], detail=rows[i].detail + text + "!")
    elif tamper == "delete":
        if i == size - 1:
            i -= 1  # a deleted last row shows only against an anchor (tested above)
        del rows[i]
    elif tamper == "insert":
        prev = rows[i - 1] if i else None
        rows.insert(i, next_row(prev, rows[i].id, "2026-11-23T09:00:00Z", "x", "view", text))
        rows[i + 1 :] = [dataclasses.replace(r, id=r.id + 1) for r in rows[i + 1 :]]
    else:
        j = (i + 1) % size
        rows[i], rows[j] = (
            dataclasses.replace(rows[j], id=rows[i].id),
            dataclasses.replace(rows[i], id=rows[j].id),
        )
    assert verify_chain(rows) != []
