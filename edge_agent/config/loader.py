"""`load()`: the TOML file, systemd credentials and the environment, validated into `Settings`.

Every problem becomes a `ConfigError` with one line per problem naming the key (or the
environment variable that set it), every line redacted; nothing else ever escapes, whatever the
file holds (`tests/test_fuzz_config.py`). `effective()` is the settings as `check-config` prints
them, secrets masked.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_settings import SettingsError

from edge_agent.config import environment
from edge_agent.config.errors import MIN_LITERAL_SECRET, ConfigError, format_errors, key_of, mask_url
from edge_agent.config.files import check_files
from edge_agent.config.settings import ENV_PREFIX, Settings
from edge_agent.config.source import read_secret, read_toml
from edge_agent.contract import redact, redact_secret

CREDENTIALS = {"mqtt_password": ("mqtt", "password")}
MASK = "********"


def _read_credentials(data: dict[str, Any]) -> None:
    """Secrets from systemd's LoadCredential= (`$CREDENTIALS_DIRECTORY/<name>`) fill unset keys."""
    directory = os.environ.get("CREDENTIALS_DIRECTORY")
    if not directory:
        return
    for name, (section, key) in CREDENTIALS.items():
        path = Path(directory) / name
        try:
            present = path.is_file()
        except (OSError, ValueError):
            present = False
        if not present:
            continue
        value = read_secret(path, "credential file (edge-agent.secret)")
        sect = data.setdefault(section, {})
        if value and isinstance(sect, dict) and not sect.get(key):
            sect[key] = value


def _secrets(data: dict[str, Any]) -> tuple[str, ...]:
    """Every literal secret the configuration holds (the broker password, the password of the
    camera and broker URLs, from the file or the environment), to be masked in any message."""
    found: list[str] = []
    urls: list[Any] = []
    environ = {k.upper(): v for k, v in os.environ.items()}
    secret_keys = (("mqtt", "password"), ("mqtt", "url"), ("camera", "source"), ("recording", "source"))
    for section, key in secret_keys:
        sect = data.get(section)
        value = sect.get(key) if isinstance(sect, dict) else None
        env = environ.get(f"{ENV_PREFIX}{section.upper()}__{key.upper()}")
        for v in (value, env):
            if isinstance(v, str):
                (found if key == "password" else urls).append(v)
    for url in urls:
        if "://" in url and "@" in url:
            userinfo = url.partition("://")[2].rsplit("@", 1)[0]
            found.append(userinfo.partition(":")[2] or userinfo)
    return tuple(found)


def _private_keys(data: dict[str, Any]) -> list[str]:
    """Top-level keys starting with '_' are init options of pydantic-settings (`_env_file`,
    `_cli_parse_args`, …), never settings: drop them as unknown keys before they are obeyed."""
    allowed = ", ".join(sorted(Settings.model_fields))
    bad = [k for k in data if k.startswith("_")]
    for k in bad:
        del data[k]
    return [f"{key_of((k,))}: unknown key; allowed here: {allowed}" for k in bad]


def load(path: Path | None, overrides: dict[str, Any] | None = None) -> Settings:
    """Read the TOML file (None: defaults only), credentials and environment; validate."""
    name = str(path) if path else "configuration"
    data: dict[str, Any] = {}
    try:
        data = read_toml(path) if path is not None else {}
        _read_credentials(data)
        data.update(overrides or {})
        return _validate(data, name)
    except ConfigError as exc:
        raise ConfigError(exc.source, exc.problems, _secrets(data)) from None


def _validate(data: dict[str, Any], name: str) -> Settings:
    fields = list(Settings.model_fields)
    origin = environment.origins(ENV_PREFIX, fields)
    problems = _private_keys(data) + environment.strays(ENV_PREFIX, fields)
    settings: Settings | None = None
    try:
        settings = Settings(**data)
    except ValidationError as exc:
        problems += format_errors(exc, Settings, origin)
    except SettingsError as exc:
        problems.append(environment.parse_failure(str(exc), ENV_PREFIX, origin))
    except (RecursionError, MemoryError):
        env = f" (from {', '.join(origin.values())})" if origin else ""
        problems.append(f"(top level){env}: values nested too deeply")
    if settings is not None and not problems:
        problems += check_files(settings)
    if problems or settings is None:
        env_vars = {
            *origin.values(),
            *(p.split(":")[0] for p in problems if p.upper().startswith(ENV_PREFIX)),
        }
        from_env = bool(problems) and all(
            any(f"(from {v}" in p or p.startswith(v) for v in env_vars) for p in problems
        )
        raise ConfigError("the environment" if from_env else name, problems)
    return settings


def effective(settings: Settings) -> dict[str, Any]:
    """The settings as plain data, secrets masked, for `check-config`."""
    data = settings.model_dump(mode="json")
    if settings.mqtt.password is not None:
        data["mqtt"]["password"] = MASK
    data["camera"]["source"] = mask_url(settings.camera.source)
    if settings.recording.source is not None:
        data["recording"]["source"] = mask_url(settings.recording.source)
    return data


def effective_text(settings: Settings) -> str:
    """`effective()` as indented JSON, with every URL password and the broker password masked."""
    secret = settings.mqtt.password.get_secret_value() if settings.mqtt.password else ""
    text = json.dumps(effective(settings), indent=2)
    return redact_secret(text, secret) if len(secret) >= MIN_LITERAL_SECRET else redact(text)
