"""`ConfigError` and the one-line-per-problem text of pydantic's validation errors.

Every problem line passes through `contract.redact_secret`: the password of any URL, and any
literal secret the loader knows (the broker password), never reaches a printout, the journal,
`config.rejected.txt` or a `cmd/reload` reply.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ValidationError

from edge_agent.contract import redact_secret

SECRET_KEYS = ("password",)
# Secrets shorter than this are not replaced literally (a 1-letter password would mask every
# such letter of the message); the URL form `user:pw@` is always masked.
MIN_LITERAL_SECRET = 4
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\x85]")


class ConfigError(Exception):
    """The configuration is unusable. `problems` holds one line per problem, naming the key."""

    def __init__(self, source: str, problems: list[str], secrets: tuple[str, ...] = ()) -> None:
        hidden = tuple(s for s in secrets if s and len(s) >= MIN_LITERAL_SECRET)
        self.source = redact_secret(source, *hidden)
        lines = [_one_line(redact_secret(p, *hidden)) for p in problems]
        self.problems = lines or ["invalid configuration"]
        super().__init__(f"{self.source}: " + "; ".join(self.problems))


def mask_url(url: str) -> str:
    """`url` with everything between `scheme://` and its last '@' but the user replaced by ***,
    whatever the password holds (quotes, spaces, '@' or '/'); other text unchanged."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    userinfo, host = rest.rsplit("@", 1)
    user, colon, _ = userinfo.partition(":")
    return f"{scheme}://{user}:***@{host}" if colon else f"{scheme}://***@{host}"


def _one_line(text: str) -> str:
    """`text` with control characters escaped, so that one problem is one line."""
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


def key_of(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for p in loc:
        if isinstance(p, int):
            parts.append(f"[{p}]")
        else:
            name = str(p) if re.fullmatch(r"[A-Za-z0-9_-]+", str(p)) else repr(str(p))
            parts.append(("." if parts else "") + name)
    return "".join(parts) or "(top level)"


def allowed_keys(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """The keys allowed beside the unknown key at `loc`, found by walking the models."""
    current: Any = model
    for p in loc[:-1]:
        if isinstance(p, int):
            continue
        fields = getattr(current, "model_fields", {})
        if p not in fields:
            return []
        ann = fields[p].annotation
        args = getattr(ann, "__args__", ())
        current = next((a for a in (ann, *args) if isinstance(a, type) and issubclass(a, BaseModel)), None)
        if current is None:
            return []
    return sorted(getattr(current, "model_fields", {}))


def _shown(given: Any, key: str) -> str:
    if isinstance(given, dict | list | tuple) or given is None:
        return ""
    if any(s in key for s in SECRET_KEYS):
        return ""
    if isinstance(given, str):
        given = mask_url(given)
    text = repr(given)
    return f" (got {text[:80]}…)" if len(text) > 80 else f" (got {text})"


def format_errors(
    err: ValidationError, model: type[BaseModel], origin: dict[tuple[str, ...], str] | None = None
) -> list[str]:
    """One line per problem: `key: what is wrong (got value)`. `origin` maps a key path to the
    environment variable that set it, so the line names the variable instead of the file."""
    lines = []
    for e in err.errors(include_url=False):
        loc = tuple(e["loc"])
        key = key_of(loc)
        var = _origin(loc, origin or {})
        where = f"{key} (from {var})" if var else key
        if e["type"] == "extra_forbidden":
            allowed = allowed_keys(model, loc)
            hint = f"; allowed here: {', '.join(allowed)}" if allowed else ""
            lines.append(f"{where}: unknown key{hint}")
            continue
        msg = str(e["msg"]).removeprefix("Value error, ")
        if not loc:  # the cross-section rules: lines that start with their key
            for line in msg.splitlines():
                head, sep, rest = line.partition(": ")
                var = _origin(tuple(re.sub(r"\[\d+\]", "", head).split(".")), origin or {})
                lines.append(f"{head} (from {var}): {rest}" if var and sep else line)
            continue
        lines.append(f"{where}: {msg}{_shown(e.get('input'), key)}")
    return lines


def _origin(loc: tuple[int | str, ...], origin: dict[tuple[str, ...], str]) -> str | None:
    names = tuple(str(p).lower() for p in loc if isinstance(p, str))
    for path, var in origin.items():
        if names[: len(path)] == path:
            return var
    return None
