"""The pages' catalogues: every message in the code has its Vietnamese translation, the English
catalogue lists the same messages, and both compile."""

from __future__ import annotations

from edge_agent.station.web.catalogue import messages, read
from edge_agent.station.web.i18n import LANGUAGES, gettext, translations


def test_every_message_of_the_pages_is_translated_into_vietnamese() -> None:
    found = messages()
    assert len(found) > 100
    vi = read("vi")
    untranslated = sorted(m for m in found if not (vi.get(m) and vi.get(m).string))
    assert untranslated == [], "run `python -m edge_agent.station.web.catalogue` and translate these"


def test_the_catalogues_list_exactly_the_messages_of_the_code() -> None:
    found = messages()
    for lang in LANGUAGES:
        listed = {m.id for m in read(lang) if m.id}
        assert listed == found, f"{lang}: stale {sorted(listed - found)}, missing {sorted(found - listed)}"


def test_the_catalogues_compile_and_keep_their_placeholders() -> None:
    for lang in LANGUAGES:
        assert translations(lang) is not None
    assert gettext("vi", "Fleet") == "Các cột camera" and gettext("en", "Fleet") == "Fleet"
    vi = read("vi")
    for m in vi:
        if m.id and m.string:
            for mark in ("%(n)d", "%(name)s", "%(who)s", "%(since)s", "{minutes}"):
                assert (mark in m.id) == (mark in m.string), (m.id, m.string)
