"""Loading the settings: defaults < ``finews.toml`` < ``FINEWS_*`` environment < CLI values.

:func:`load_config` reads the settings file (TOML, UTF-8), then the environment, then the
command line's ``--set`` values, checks every value as it is read (naming the key, the bad
value and where it came from) and returns a :class:`~finews.config.configuration.Config`.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from finews.config.configuration import Config
from finews.config.options import SETTINGS, unknown_setting
from finews.config.rules import read_rules
from finews.config.specs import DEFAULT_SOURCES, apply_source_env, apply_source_set, source_spec
from finews.config.values import coerce
from finews.errors import ConfigError

__all__ = ["load_config"]


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and name not in ("sources", "rules"):
            flat.update(_flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError("(file)", str(path), f"cannot be read: {exc.strerror}") from exc
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(
            "(file)",
            str(path),
            f"not UTF-8 text (byte {data[exc.start]:#04x} on line {line}); save the file as UTF-8",
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("(file)", str(path), f"not valid TOML: {exc}", str(path)) from exc


def load_config(
    path: str | Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    source_overrides: Mapping[str, Mapping[str, Any]] | None = None,
    read_file: bool = True,
) -> Config:
    """Load the configuration.

    ``path`` None means ``finews.toml`` in the working directory if it exists (a missing
    default file is fine; a missing file named explicitly is an error). ``overrides`` are
    CLI values by dotted name (text is converted as environment values are);
    ``source_overrides`` change or add sources (source id → settings). ``read_file`` False
    ignores every settings file (the demo runs on defaults whatever the folder holds).
    """
    env = os.environ if env is None else env
    by_name = {opt.name: opt for opt in SETTINGS}
    values: dict[str, Any] = {opt.name: opt.default for opt in SETTINGS}
    origins: dict[str, str] = {}
    raw_sources: dict[str, dict[str, Any]] = {k: dict(v) for k, v in DEFAULT_SOURCES.items()}
    source_origin: dict[str, str] = {}
    rule_tables: dict[str, Any] = {}
    rules_origin = "settings"

    explicit = path is not None or "FINEWS_CONFIG" in env
    file_path = Path(path if path is not None else env.get("FINEWS_CONFIG", "finews.toml"))
    if read_file and file_path.exists():
        data = _read_toml(file_path)
        origin = str(file_path)
        file_sources = data.pop("sources", {})
        rule_tables = data.pop("rules", {})
        rules_origin = origin
        if not isinstance(rule_tables, dict):
            raise ConfigError("rules", rule_tables, "expected tables [rules.NAME]", origin)
        if not isinstance(file_sources, dict):
            raise ConfigError("sources", file_sources, "expected tables [sources.<id>]", origin)
        for key, value in _flatten(data).items():
            option = by_name.get(key)
            if option is None:
                raise ConfigError(key, value, unknown_setting(key, by_name), origin)
            values[key] = coerce(option, value, key, origin, from_text=False)
            origins[key] = origin
        for sid, table in file_sources.items():
            if not isinstance(table, dict):
                raise ConfigError(f"sources.{sid}", table, "expected a table", origin)
            raw_sources.setdefault(sid, {}).update(table)
            source_origin[sid] = origin
    elif read_file and explicit:
        raise ConfigError(
            "--config", str(file_path), "no such file (create it, or leave --config out)"
        )

    for name, option in by_name.items():
        env_name = "FINEWS_" + name.upper().replace(".", "_")
        if env_name in env:
            values[name] = coerce(option, env[env_name], name, env_name, from_text=True)
            origins[name] = env_name
    apply_source_env(env, raw_sources, source_origin)

    for name, value in (overrides or {}).items():
        option = by_name.get(name)
        if option is None and name.startswith("sources."):
            apply_source_set(name, value, raw_sources, source_origin, overrides or {})
            continue
        if option is None:
            raise ConfigError(name, value, unknown_setting(name, by_name), "command line")
        values[name] = coerce(option, value, name, "command line", from_text=True)
        origins[name] = "command line"
    for sid, table in (source_overrides or {}).items():
        raw_sources.setdefault(sid, {}).update(table)
        source_origin[sid] = "command line"

    sources = tuple(
        source_spec(sid, table, source_origin.get(sid, "defaults"))
        for sid, table in raw_sources.items()
    )
    known = [spec.id for spec in sources]
    rules = read_rules(rule_tables, origin=rules_origin, known_sources=known)
    return Config(
        values=values,
        sources=sources,
        path=file_path if read_file and file_path.exists() else None,
        origins=origins,
        rules=rules,
    )
