"""Property-based fuzz of the footage contract's readers: whatever a chain or heads line holds,
`parse_record` / `parse_head` give a model or a `FootageError` sentence, never another exception.

Lines are arbitrary bytes and text, valid lines with bytes flipped, cut, inserted or deleted, and
valid JSON objects with fields replaced by hostile values (huge and negative numbers, floats,
strings where numbers go, dates at the edge of the calendar in far time zones, nested junk) or
dropped or added. A valid record or head survives `canonical` → parse → `canonical` unchanged.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge_agent.contract.footage import (
    FootageError,
    SegmentRecord,
    SignedHead,
    canonical,
    parse_head,
    parse_record,
    record_hash,
)

FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "200")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

NAMES = st.from_regex(r"[a-z0-9_-]{1,64}", fullmatch=True)
HEX64 = st.from_regex(r"[0-9a-f]{64}", fullmatch=True)
CHAIN = st.from_regex(r"[0-9a-f]{16}", fullmatch=True)
ZONES = st.builds(lambda m: timezone(timedelta(minutes=m)), st.integers(-23 * 60 - 59, 23 * 60 + 59))
TIMES = st.datetimes(
    min_value=datetime(1970, 1, 2), max_value=datetime(9998, 12, 31), timezones=st.just(UTC) | ZONES
)
U53 = st.integers(0, 2**53 - 1)

RECORDS = st.builds(
    SegmentRecord,
    device=NAMES,
    camera=NAMES,
    chain=CHAIN,
    index=U53,
    prev=HEX64,
    name=st.from_regex(r"[A-Za-z0-9_.-]{1,128}", fullmatch=True),
    bytes=U53,
    sha256=HEX64,
    start=TIMES,
    end=TIMES,
    clock_synced=st.booleans(),
    start_mono_ns=st.integers(0, 2**63 - 1),
    end_mono_ns=st.integers(0, 2**63 - 1),
    boot=st.text(max_size=64),
    duration_ms=U53,
    frames=U53,
    keyframes=U53,
    codec=st.from_regex(r"[a-z0-9_]{0,32}", fullmatch=True),
    width=st.integers(0, 65535),
    height=st.integers(0, 65535),
)
HEADS = st.builds(
    SignedHead,
    device=NAMES,
    camera=NAMES,
    chain=CHAIN,
    index=U53,
    head=HEX64,
    time=TIMES,
    key=st.from_regex(r"[0-9a-f]{16}", fullmatch=True),
    signature=st.from_regex(r"[A-Za-z0-9+/]{86}==", fullmatch=True),
)

HOSTILE_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from([2**53, 2**63, -1, -(2**63), 10**400])
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=80)
    | st.sampled_from(
        [
            "0001-01-01T00:00:00+01:00",
            "9999-12-31T23:59:59-01:00",
            "9999-12-31T23:59:59.999999+00:00",
            "2024-02-30T00:00:00Z",
            "2024-01-01T00:00:00",
            "2024-01-01T25:00:00Z",
            "1e999",
            "NaN",
            "0" * 64,
            "A" * 86 + "==",
            "\ud800",
            "10",
        ]
    )
)
HOSTILE = st.recursive(
    HOSTILE_SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
RAW_TOKENS = ["1e999", "-1e999", "NaN", "Infinity", "1" * 5000, "[" * 3000 + "]" * 3000, '"\\ud800"']

PARSERS = (parse_record, parse_head)


def must_parse_or_refuse(line: bytes | str) -> None:
    for parse in PARSERS:
        try:
            model = parse(line)
        except FootageError as exc:
            text = str(exc)
            assert text and "\n" not in text and len(text) < 400, text
        else:
            assert isinstance(model, SegmentRecord | SignedHead)
            assert parse(canonical(model)) == model


@FUZZ
@given(st.binary(max_size=5000))
def test_arbitrary_bytes(line: bytes) -> None:
    must_parse_or_refuse(line)


@FUZZ
@given(st.text(max_size=2000))
def test_arbitrary_text(line: str) -> None:
    must_parse_or_refuse(line)


@st.composite
def mutated_bytes(draw: st.DrawFn) -> bytes:
    model = draw(RECORDS | HEADS)
    data = bytearray(canonical(model))
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["flip", "cut", "insert", "delete", "nul"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "cut":
            del data[at:]
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 16))]
        else:
            data[at:at] = b"\x00" * draw(st.integers(1, 64))
    return bytes(data)


@FUZZ
@given(mutated_bytes())
def test_mutated_valid_lines(line: bytes) -> None:
    must_parse_or_refuse(line)


@st.composite
def mutated_objects(draw: st.DrawFn) -> bytes:
    model = draw(RECORDS | HEADS)
    data: dict[str, Any] = json.loads(canonical(model))
    keys = sorted(data)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["replace", "drop", "add", "raw"]))
        key = draw(st.sampled_from(keys))
        if op == "replace":
            data[key] = draw(HOSTILE)
        elif op == "drop":
            data.pop(key, None)
        elif op == "add":
            data[draw(st.text(max_size=10))] = draw(HOSTILE)
    text = json.dumps(data, ensure_ascii=draw(st.booleans()))
    if draw(st.booleans()):  # a token json.dumps would not write
        key = draw(st.sampled_from(keys))
        token = draw(st.sampled_from(RAW_TOKENS))
        text = text.replace(json.dumps(key) + ": ", json.dumps(key) + ": " + token + ', "_": ', 1)
    return text.encode("utf-8", "surrogatepass")


@FUZZ
@given(mutated_objects())
def test_mutated_fields(line: bytes) -> None:
    must_parse_or_refuse(line)


def test_edge_of_the_calendar_is_a_sentence() -> None:
    """Year 1 at +01:00 is before year 1 in UTC: a FootageError, not an OverflowError."""
    good = json.loads(canonical(SignedHead(
        device="pole-17", camera="cam0", chain="1" * 16, index=3, head="a" * 64,
        time=datetime(2024, 5, 1, tzinfo=UTC),
        key="0" * 16, signature="A" * 86 + "==",
    )))  # fmt: skip
    for when in ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"):
        try:
            parse_head(json.dumps({**good, "time": when}))
        except FootageError as exc:
            assert "time" in str(exc) and "out of range" in str(exc)
        else:
            raise AssertionError(f"{when} was accepted")


@FUZZ
@given(RECORDS)
def test_record_round_trip(record: SegmentRecord) -> None:
    line = canonical(record)
    again = json.dumps(json.loads(line), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert again.encode() == line  # sorted keys, no spaces: one spelling for one record
    back = parse_record(line)
    assert back == record and canonical(back) == line and record_hash(back) == record_hash(record)
    assert back.start.tzinfo is not None and back.start.utcoffset() == timedelta(0)


@FUZZ
@given(HEADS)
def test_head_round_trip(head: SignedHead) -> None:
    line = canonical(head)
    back = parse_head(line)
    assert back == head and canonical(back) == line
