"""Extract the pages' messages (templates and Python) and keep the `.po` catalogues in step.

`python -m edge_agent.station.web.catalogue` rewrites `locale/*/LC_MESSAGES/messages.po` with every
message in the code, keeping the translations already there; the tests fail on an untranslated one.
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from edge_agent.station.web.i18n import HERE, LANGUAGES, LOCALES

METHODS = [("templates/**.html", "jinja2"), ("**.py", "python")]
OPTIONS = {"templates/**.html": {"trim_blocks": "true", "lstrip_blocks": "true"}}
KEYWORDS = {"_": None, "gettext": None, "N_": None, "t": (2,)}


def messages(root: Path = HERE) -> set[str]:
    found: set[str] = set()
    for _file, _line, msg, _comments, _context in extract_from_dir(
        str(root), method_map=METHODS, options_map=OPTIONS, keywords=KEYWORDS
    ):
        text = msg if isinstance(msg, str) else msg[0]
        if text:
            found.add(text)
    return found


def po_path(lang: str) -> Path:
    return LOCALES / lang / "LC_MESSAGES" / "messages.po"


def read(lang: str) -> Catalog:
    with po_path(lang).open("rb") as fh:
        return read_po(fh, locale=lang)


def update(translations: dict[str, dict[str, str]] | None = None) -> None:
    ids = sorted(messages())
    for lang in LANGUAGES:
        old = read(lang) if po_path(lang).exists() else Catalog(locale=lang)
        new = Catalog(locale=lang, project="edge-agent station", charset="utf-8")
        for msgid in ids:
            kept = old.get(msgid)
            text = (translations or {}).get(lang, {}).get(msgid) or (kept.string if kept else "")
            new.add(msgid, text if isinstance(text, str) else "")
        po_path(lang).parent.mkdir(parents=True, exist_ok=True)
        with po_path(lang).open("wb") as fh:
            write_po(fh, new, width=100, omit_header=False, sort_output=True)


if __name__ == "__main__":
    update()
