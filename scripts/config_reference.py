"""Print the configuration reference (every key, its default and what it means) as Markdown.

Used to write the key table of docs/configuration.md: `python scripts/config_reference.py`.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from edge_agent.config import Settings


def _default(field: Any) -> str:
    if field.default_factory is not None:
        try:
            value = field.default_factory()
        except TypeError:
            return "(computed)"
        if isinstance(value, BaseModel):
            return ""
        if isinstance(value, str):
            return "(computed)"
        return json.dumps(value, default=str)
    if field.default is PydanticUndefined:
        return "(required)"
    if field.default is None:
        return ""
    return json.dumps(field.default, default=str)


def rows(model: type[BaseModel], prefix: str = "") -> list[tuple[str, str, str]]:
    out = []
    for name, field in model.model_fields.items():
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            out += rows(ann, f"{prefix}{name}.")
            continue
        item = getattr(ann, "__args__", (None,))[0]
        if isinstance(item, type) and issubclass(item, BaseModel):
            out += rows(item, f"{prefix}{name}[].")
            continue
        out.append((prefix + name, _default(field).replace("|", "\\|"), field.description or ""))
    return out


def main() -> None:
    print("| key | default | meaning |")
    print("|---|---|---|")
    for key, default, meaning in rows(Settings):
        print(f"| `{key}` | `{default}` | {meaning} |" if default else f"| `{key}` | | {meaning} |")


if __name__ == "__main__":
    main()
