"""Vietnamese and English: gettext catalogues (Babel `.po`), compiled in memory when the app starts,
and one Jinja2 environment per language."""

from __future__ import annotations

import io
from datetime import UTC, tzinfo
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from jinja2 import Environment, FileSystemLoader, select_autoescape

from edge_agent.station.web.timefmt import filters

HERE = Path(__file__).resolve().parent
LOCALES = HERE / "locale"
LANGUAGES = ("vi", "en")


@cache
def translations(lang: str) -> Translations:
    """The compiled catalogue of `lang` (messages.po → .mo bytes in memory)."""
    with (LOCALES / lang / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        catalog = read_po(fh, locale=lang)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return Translations(fp=buf)


def environment(lang: str, zone: tzinfo = UTC) -> Environment:
    """The pages of `lang`, showing times in `zone` (web/timefmt.py)."""
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(translations(lang), newstyle=True)  # type: ignore[attr-defined]
    env.filters.update(filters(zone, lang))
    return env


def N_(message: str) -> str:
    """Marks a message for extraction; it is translated where it is shown."""
    return message


# Shown from data (a pole's state, a label, a thumbnail's status, a role): listed for extraction.
FROM_DATA = (
    *(N_("online"), N_("offline"), N_("silent"), N_("unknown")),
    *(N_("person"), N_("bicycle"), N_("motorcycle"), N_("car"), N_("bus"), N_("truck"), N_("motion")),
    *(N_("ok"), N_("pending"), N_("missing"), N_("mismatch"), N_("none")),
    *(N_("admin"), N_("police"), N_("volunteer"), N_("resident")),
    *(N_("sending"), N_("sent"), N_("dead"), N_("skipped"), N_("grouped")),  # an alert's state
)


def gettext(lang: str, message: str) -> str:
    return translations(lang).gettext(message)
