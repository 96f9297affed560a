"""The ward's time zone: one formatter for every time a page shows, the config's `time_zone`, and
times typed without an offset read on the ward's clock (daylight saving included)."""

from __future__ import annotations

import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from edge_agent.station.config import ConfigError, load, system_zone
from edge_agent.station.query.localtime import iso_local, parse_time, shown
from edge_agent.station.query.search import QueryError
from edge_agent.station.query.search import parse_time as search_time
from tests.station.test_web_support import Ward, make_ward

HCM, BERLIN = ZoneInfo("Asia/Ho_Chi_Minh"), ZoneInfo("Europe/Berlin")
TEMPLATES = Path(__file__).resolve().parents[2] / "edge_agent/station/web/templates"


def test_an_instant_is_shown_on_the_wards_clock_with_its_offset() -> None:
    for lang, date in (("vi", "6 thg 12, 2026"), ("en", "Dec 6, 2026")):
        s = shown("2026-12-06T14:10:20Z", HCM, lang)
        assert (s.date, s.time, s.offset, s.utc) == (date, "21:10:20", "+07", "2026-12-06T14:10:20Z")
        assert s.text == f"{date} 21:10:20 · +07"
    assert iso_local("2026-12-06T14:10:20.5Z", HCM) == "2026-12-06T21:10:20+07:00"


def test_berlin_on_both_sides_of_a_daylight_saving_change() -> None:
    # 29 March 2026, 01:00 UTC: clocks go from 02:00 (+01) to 03:00 (+02)
    before, after = shown("2026-03-29T00:30:00Z", BERLIN, "en"), shown("2026-03-29T01:30:00Z", BERLIN, "en")
    assert (before.time, before.offset) == ("01:30:00", "+01")
    assert (after.time, after.offset) == ("03:30:00", "+02")
    # 25 October 2026, 01:00 UTC: back from 03:00 (+02) to 02:00 (+01); 02:30 happens twice
    first, second = shown("2026-10-25T00:30:00Z", BERLIN, "en"), shown("2026-10-25T01:30:00Z", BERLIN, "en")
    assert (first.time, first.offset, second.time, second.offset) == ("02:30:00", "+02", "02:30:00", "+01")
    # typed without an offset: the ward's clock, summer or winter
    assert parse_time("2026-07-01T12:00", "from", BERLIN) == parse_time("2026-07-01T10:00Z", "from")
    assert parse_time("2026-12-01T12:00", "from", BERLIN) == parse_time("2026-12-01T11:00Z", "from")


def test_typed_times_with_an_offset_are_that_instant_and_bad_ones_name_the_field() -> None:
    assert parse_time("2026-12-06T21:00", "from", HCM) == parse_time("2026-12-06T14:00Z", "from", HCM)
    assert parse_time("2026-12-06T21:00+07:00", "from", BERLIN) == parse_time("2026-12-06T14:00Z", "from")
    with pytest.raises(QueryError, match=r"^to: 'half past nine' is not an ISO 8601 time"):
        search_time("half past nine", "to", HCM)


@pytest.mark.parametrize("name", ["Asia/Hanoi2", "UTC+7", "../../etc/passwd", "", "Asia/Ho Chi Minh"])
def test_an_unknown_zone_is_a_clear_config_error(name: str) -> None:
    with pytest.raises(ConfigError) as err:
        load(None, {"time_zone": name})
    (line,) = err.value.problems
    assert line.startswith("time_zone: ") and "Asia/Ho_Chi_Minh" in line and "Traceback" not in line


def test_the_default_zone_is_the_servers_and_says_where_it_came_from(tmp_path: Path) -> None:
    assert load(None, {"time_zone": "Europe/Berlin"}).zone == (BERLIN, "time_zone in the config")
    assert system_zone({"TZ": "Asia/Ho_Chi_Minh"}, tmp_path) == (HCM, "$TZ")
    (tmp_path / "localtime").symlink_to("/usr/share/zoneinfo/Europe/Berlin")
    assert system_zone({}, tmp_path) == (BERLIN, f"{tmp_path / 'localtime'}")
    (tmp_path / "localtime").unlink()
    (tmp_path / "timezone").write_text("Asia/Ho_Chi_Minh\n")
    assert system_zone({}, tmp_path)[0] == HCM
    (tmp_path / "timezone").unlink()
    assert system_zone({"TZ": "Nowhere/Land"}, tmp_path)[0] == ZoneInfo("UTC")


def test_every_template_shows_times_through_the_one_formatter() -> None:
    for page in sorted(TEMPLATES.glob("*.html")):
        text = page.read_text()
        assert 'replace("T"' not in text, page.name
        assert not re.search(r"(start|end|_at|\bat|since|received)\s*\)?\s*\[:\d+\]", text), page.name
        for tag in re.findall(r"<time[^>]*>", text):  # a literal <time>: the wall's live caption only
            assert "data-tile-time" in tag, (page.name, tag)


@pytest.fixture(scope="module")
def berlin_ward(tmp_path_factory: pytest.TempPathFactory) -> Ward:
    return make_ward(tmp_path_factory.mktemp("berlin"), zone="Europe/Berlin")


def test_pages_show_the_configured_zone_and_mark_an_unsynced_pole_clock(berlin_ward: Ward) -> None:
    police = berlin_ward.client("police")
    page = police.get("/events", params={"device": "pole1", "label": "car"}).text
    # the seed's events are at 21:0x UTC on 22 November: 22:0x in Berlin (winter, +01)
    assert re.search(r"22:0\d:00 · \+01</time>", page) and 'datetime="2026-11-22T21:0' in page
    unsynced = police.get("/events", params={"device": "pole3", "label": "car"}).text
    assert "giờ của cột chưa đồng bộ" in unsynced and "nhận lúc" in unsynced
    link = re.search(r'href="(/events/pole3/[^"]+)"', unsynced)
    assert link
    event = police.get(link.group(1)).text
    assert "giờ của cột chưa đồng bộ" in event and "· +01" in event
    admin = berlin_ward.client("admin")
    assert "· +01</time>" in admin.get("/audit").text
    assert "Europe/Berlin" in admin.get("/fleet").text


def test_a_case_bag_names_the_wards_zone_beside_its_utc_instants(tmp_path: Path) -> None:
    import json

    from edge_agent.station.evidence.export import export_case

    ward = make_ward(tmp_path / "w", zone="Asia/Ho_Chi_Minh")
    bag = export_case(
        ward.engine, ward.store, tmp_path / "key.pem", "ward-test", "case-1", tmp_path / "bag", "police1", HCM
    )
    case = json.loads((bag / "case.json").read_text())
    assert case["time_zone"] == "Asia/Ho_Chi_Minh"
    assert case["opened_at"].endswith("Z") and case["opened_at_local"].endswith("+07:00")
    local, utc = parse_time(case["opened_at_local"], "x"), parse_time(case["opened_at"], "x")
    assert local // 1_000_000 == utc // 1_000_000
