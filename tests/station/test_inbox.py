"""Whatever a sender puts on a topic, `classify` returns a record or a reject with a reason."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from edge_agent.station.ingest.inbox import DeviceRecord, EventRecord, PictureRecord, Reject, classify
from tests.station.factory import event, jpeg, thumbnail

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
topics = st.one_of(
    st.text(max_size=60),
    st.builds(
        lambda d, c, k: f"edge/{d}/{c}/{k}",
        st.text(max_size=8),
        st.text(max_size=8),
        st.sampled_from(["events", "snapshot", "health", "counts", "alarm", "motion", "thumbnails/x-000001"]),
    ),
)


@settings(max_examples=300, deadline=None)
@given(topic=topics, payload=st.binary(max_size=300))
def test_any_bytes_on_any_topic_classify_without_raising(topic: str, payload: bytes) -> None:
    rec = classify("edge", topic, payload, 4096)
    assert isinstance(rec, EventRecord | PictureRecord | DeviceRecord | Reject)
    if isinstance(rec, Reject):
        assert rec.reason


@settings(max_examples=200, deadline=None)
@given(body=json_values, kind=st.sampled_from(["events", "health", "counts", "alarm"]))
def test_any_json_on_a_pole_topic_is_stored_or_rejected_with_a_reason(body: object, kind: str) -> None:
    rec = classify("edge", f"edge/pole1/cam0/{kind}", json.dumps(body).encode(), 4096)
    if kind == "events":
        assert isinstance(rec, Reject) and rec.reason.startswith("not a valid event")
    else:
        assert isinstance(rec, DeviceRecord) == isinstance(body, dict)


def test_the_contracts_own_messages_are_accepted() -> None:
    pic = jpeg(1)
    assert isinstance(classify("edge", *event("pole1", 1, thumb=pic), 4096), EventRecord)
    assert isinstance(classify("edge", *thumbnail("pole1", 1, pic), 4096), PictureRecord)
    assert isinstance(classify("edge", "edge/pole1/status", b"offline", 4096), DeviceRecord)
    assert isinstance(classify("edge", "edge/pole1/stats", b'{"cpu_percent": 3}', 4096), DeviceRecord)
    assert isinstance(classify("edge", "edge/pole1/cam0/motion", b"ON", 4096), DeviceRecord)
