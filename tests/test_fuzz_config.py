"""Property-based fuzz test of the config loader: whatever a file or the environment holds, `load()`
gives a valid `Settings` or a clean `ConfigError` (one line per problem), never another exception.

Documents are built from the real schema's keys with hostile values (huge, negative, inf and nan
numbers, wrong types, unicode, nested junk), then written with BOMs, CRLF or UTF-16; arbitrary
bytes and mutated valid files go in too, and hostile `EDGE_AGENT_…` variables beside them.
"""

from __future__ import annotations

import codecs
import math
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from edge_agent import config

# About 150 examples a test keeps the file under ~30 s in CI; FUZZ_EXAMPLES=5000 for a long hunt.
FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def schema(model: type[BaseModel]) -> dict[str, Any]:
    """Section → its keys (None for a plain key), from the real models."""
    out: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        ann = field.annotation
        item = getattr(ann, "__args__", (None,))[0]
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            out[name] = schema(ann)
        elif isinstance(item, type) and issubclass(item, BaseModel):
            out[name] = [schema(item)]
        else:
            out[name] = None
    return out


SCHEMA = schema(config.Settings)
KEYS = [k for k, v in SCHEMA.items() if v is None]
ENV_NAMES = [
    f"EDGE_AGENT_{section.upper()}__{key.upper()}"
    for section, keys in SCHEMA.items()
    if isinstance(keys, dict)
    for key in keys
] + [f"EDGE_AGENT_{k.upper()}" for k in SCHEMA]

numbers = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 1e300, -1e300, 1e-300, math.inf, -math.inf, math.nan, 2**63 - 1]),
)
texts = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "",
            "12:60",
            "25:00",
            "ha/+",
            "#",
            "a//b",
            "\x00",
            "mqtt://u:p@h:1883",
            "mqtt://h\n",
            "rtsp://a:b c@h",
            "usb:x",
            "/dev/zero",
            "/",
            "\ufeff",
            "person",
            "persn",
            "picamera2",
            "../../etc/shadow",
        ]
    ),
)
scalars = st.one_of(
    numbers,
    texts,
    st.booleans(),
    st.just(date(2026, 12, 2)),
    st.just(time(7, 30)),
    st.just(datetime(2026, 12, 2, 7, 30)),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.dictionaries(st.text(min_size=1, max_size=8), inner, max_size=4),
    ),
    max_leaves=12,
)


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    """A TOML document from the schema's keys, each with a plausible or hostile value."""
    doc: dict[str, Any] = {}
    for key in draw(st.lists(st.sampled_from(sorted(SCHEMA)), max_size=6, unique=True)):
        shape = SCHEMA[key]
        if isinstance(shape, dict):
            names = draw(st.lists(st.sampled_from([*sorted(shape), "bogus"]), max_size=5, unique=True))
            doc[key] = {n: draw(values) for n in names}
        elif isinstance(shape, list):
            tables = []
            for _ in range(draw(st.integers(0, 3))):
                names = draw(st.lists(st.sampled_from(sorted(shape[0])), max_size=5, unique=True))
                tables.append({n: draw(values) for n in names})
            doc[key] = tables
        else:
            doc[key] = draw(values)
    if draw(st.booleans()):
        doc[draw(st.text(min_size=1, max_size=12))] = draw(values)  # a junk key, maybe "_env_file"
    return doc


def toml_string(s: str) -> str:
    out = []
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        elif 0xD800 <= ord(ch) <= 0xDFFF:
            out.append("\\ufffd")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(v, str):
        return toml_string(v)
    if isinstance(v, datetime | date | time):
        return v.isoformat()
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return "{" + ", ".join(f"{toml_string(k)} = {toml_value(x)}" for k, x in v.items()) + "}"


def to_toml(doc: dict[str, Any]) -> str:
    return "".join(f"{toml_string(k)} = {toml_value(v)}\n" for k, v in doc.items())


@contextmanager
def config_file(data: bytes) -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "edge-agent.toml"
        path.write_bytes(data)
        yield path


def assert_clean(path: Path) -> None:
    """`load()` gives Settings or a ConfigError of single lines; any other exception fails."""
    try:
        s = config.load(path)
    except config.ConfigError as err:
        assert err.problems and all(isinstance(p, str) and p for p in err.problems)
        assert all("\n" not in p for p in err.problems), err.problems
        assert str(err)
    else:
        assert isinstance(s, config.Settings)
        config.effective_text(s)  # what check-config prints


def encode(text: str, how: str) -> bytes:
    if how == "crlf":
        return text.replace("\n", "\r\n").encode()
    if how == "bom":
        return codecs.BOM_UTF8 + text.encode()
    if how == "utf16":
        return text.encode("utf-16", "surrogatepass")
    return text.encode("utf-8", "surrogatepass")


@FUZZ
@given(doc=documents(), how=st.sampled_from(["utf8", "crlf", "bom", "utf16"]))
def test_any_document_from_the_schema_loads_or_is_a_clean_config_error(doc: dict[str, Any], how: str) -> None:
    with config_file(encode('device_id = "pole17"\n' * ("device_id" not in doc) + to_toml(doc), how)) as path:
        assert_clean(path)


@FUZZ
@given(
    data=st.one_of(
        st.binary(max_size=400),
        st.tuples(
            st.sampled_from([b"", codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE]), st.binary()
        ).map(lambda t: t[0] + t[1]),
    )
)
def test_arbitrary_bytes_are_a_clean_config_error(data: bytes) -> None:
    with config_file(data) as path:
        assert_clean(path)


GOOD = Path(__file__).resolve().parents[1] / "deploy" / "edge-agent.toml"


@FUZZ
@given(at=st.integers(min_value=0), junk=st.binary(min_size=1, max_size=8), cut=st.booleans())
def test_a_damaged_valid_file_is_a_clean_config_error(at: int, junk: bytes, cut: bool) -> None:
    good = GOOD.read_bytes()
    at %= len(good)
    data = good[:at] if cut else good[:at] + junk + good[at:]
    with config_file(data) as path:
        assert_clean(path)


@FUZZ
@given(
    env=st.dictionaries(
        st.sampled_from([*ENV_NAMES, "EDGE_AGENT_CAMERA_FPS", "EDGE_AGENT_ZONES"]),
        st.one_of(
            st.text(
                alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30
            ),
            st.sampled_from(["inf", "nan", "1e300", "[" * 5000, '{"fps": "x"}', "[[[0,0]]]", "{}", "null"]),
        ),
        max_size=3,
    )
)
def test_hostile_environment_overrides_are_a_clean_config_error(env: dict[str, str]) -> None:
    with pytest.MonkeyPatch.context() as mp, config_file(b'device_id = "pole17"\n') as path:
        for name in [n for n in os.environ if n.upper().startswith("EDGE_AGENT_")]:
            mp.delenv(name)
        for name, value in env.items():
            mp.setenv(name, value)
        assert_clean(path)
