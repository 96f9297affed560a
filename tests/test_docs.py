"""The docs are current: the README's links lead somewhere, every `edge-agent …` command shown in
a doc still parses, and every repository file a doc names exists.

A command is checked by its subcommand's `--help` (it must exist) and by its options (each
`--option` used must be one that subcommand has). `$S` stands for what the doc set it to
(`S="… edge-agent station"`).
"""

from __future__ import annotations

import functools
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

DOCS = sorted([REPO / "README.md", *(REPO / "docs").glob("*.md")])
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)
MADE = ("benchmarks/results/",)  # written by a run, not kept in the repository
PATHLIKE = re.compile(
    r"^(?:edge_agent|deploy|scripts|systemd|tests|benchmarks|models|demo|docs|\.ci)/[\w./-]+$"
)


@functools.cache
def help_of(path: tuple[str, ...]) -> str | None:
    proc = subprocess.run(
        [sys.executable, "-m", "edge_agent", *path, "--help"], capture_output=True, text=True, timeout=60
    )
    return proc.stdout if proc.returncode == 0 else None


def commands(doc: Path) -> list[list[str]]:
    """Every edge-agent invocation in the doc's shell blocks, as the words after `edge-agent`."""
    text = doc.read_text(encoding="utf-8")
    out = []
    for lang, block in FENCE.findall(text):
        if lang not in ("", "sh", "bash", "console"):
            continue
        s_value = re.search(r'^S="([^"]+)"', block, re.M)
        for line in block.splitlines():
            if s_value:
                line = line.replace("$S", s_value.group(1))
            line = line.replace("[", " ").replace("]", " ")
            try:
                words = shlex.split(line, comments=True)
            except ValueError:
                continue
            for part in " ".join(words).replace("&&", ";").split(";"):
                tokens = part.split()
                at = [i for i, w in enumerate(tokens) if w.endswith("edge-agent") and "=" not in w]
                if at:
                    out.append(tokens[at[0] + 1 :])
    return out


def test_every_doc_the_readme_links_exists() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    links = re.findall(r"\]\((docs/[^)#]+)", readme)
    assert len(links) >= 8, links
    for link in links:
        assert (REPO / link).exists(), f"README links {link}, which does not exist"
    for name in ("install-pole", "install-station", "configuration", "mqtt-contract", "evidence"):
        assert f"docs/{name}.md" in readme, f"the README does not link docs/{name}.md"
    assert len(readme.splitlines()) <= 120, "the README is for the first ten minutes: move the rest to docs/"


@pytest.mark.parametrize("doc", DOCS, ids=[d.name for d in DOCS])
def test_links_between_docs_resolve(doc: Path) -> None:
    for link in re.findall(r"\]\(([a-z0-9_-]+\.md)(?:#[^)]*)?\)", doc.read_text(encoding="utf-8")):
        assert (doc.parent / link).exists(), f"{doc.name} links {link}, which does not exist"


@pytest.mark.parametrize("doc", DOCS, ids=[d.name for d in DOCS])
def test_every_command_shown_still_parses(doc: Path) -> None:
    for words in commands(doc):
        path: tuple[str, ...] = ()
        text = help_of(path)
        assert text is not None
        for w in words:  # a subcommand has a help of its own; a positional argument has not
            deeper = None if w.startswith("-") else help_of((*path, w))
            if deeper is None or deeper == text:
                break
            path, text = (*path, w), deeper
        options = {w.split("=", 1)[0] for w in words if w.startswith("--")}
        for option in sorted(options):
            assert option in text, f"{doc.name}: `edge-agent {' '.join(path)}` has no {option} ({words})"


@pytest.mark.parametrize("doc", DOCS, ids=[d.name for d in DOCS])
def test_every_file_a_doc_names_exists(doc: Path) -> None:
    named = [n for n in re.findall(r"`([^`\s]+)`", doc.read_text(encoding="utf-8")) if PATHLIKE.match(n)]
    missing = [n for n in named if not n.startswith(MADE) and not (REPO / n.rstrip("/")).exists()]
    assert not missing, f"{doc.name} names files that do not exist: {missing}"
