"""The loaded configuration: :class:`Config`, what :func:`finews.config.load_config` returns.

It holds every global setting's value and where it came from, the sources as
:class:`~finews.models.SourceSpec`, and the checked rules, with the lookups the rest of
finews uses (one setting, a section, a source, a rule, the database URL).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from finews.errors import ConfigError
from finews.models import SourceSpec
from finews.process.rules import Rule

__all__ = ["Config"]


@dataclass(frozen=True)
class Config:
    """The loaded configuration."""

    values: Mapping[str, Any]
    sources: tuple[SourceSpec, ...]
    path: Path | None = None
    origins: Mapping[str, str] = field(default_factory=dict)
    #: the ``[rules.NAME]`` tables, checked (finews.process.rules)
    rules: tuple[Rule, ...] = ()

    def rule(self, name: str) -> Rule:
        """One rule by name."""
        for rule in self.rules:
            if rule.name == name:
                return rule
        known = ", ".join(r.name for r in self.rules) or "none; add [rules.NAME] tables"
        raise ConfigError("rules", name, f"no such rule; configured: {known}")

    def get(self, name: str) -> Any:
        """One global setting by dotted name."""
        return self.values[name]

    def section(self, prefix: str) -> dict[str, Any]:
        """Every setting under ``prefix.`` as a dict without the prefix."""
        head = prefix + "."
        return {k[len(head) :]: v for k, v in self.values.items() if k.startswith(head)}

    @property
    def database_url(self) -> str:
        """The database URL, defaulting to SQLite in the data directory."""
        url = str(self.values["database_url"])
        if url:
            return url
        return "sqlite:///" + str(Path(self.values["data_dir"]) / "finews.db")

    def prepare_database(self) -> str:
        """:attr:`database_url`, after creating ``data_dir`` when the database goes there
        (only that folder: its parent must exist; any other folder is the operator's)."""
        if not self.values["database_url"]:
            folder = Path(self.values["data_dir"])
            try:
                folder.mkdir(exist_ok=True)
            except OSError as exc:
                raise ConfigError(
                    "data_dir",
                    str(folder),
                    f"cannot create this folder ({exc.strerror}); create it, "
                    "or set data_dir or database_url",
                    self.origins.get("data_dir", "default"),
                ) from exc
        return self.database_url

    def source(self, source_id: str) -> SourceSpec:
        """One source by id."""
        for spec in self.sources:
            if spec.id == source_id:
                return spec
        known = ", ".join(s.id for s in self.sources)
        raise ConfigError("sources", source_id, f"no such source; configured: {known}")

    def enabled_sources(self) -> list[SourceSpec]:
        """The sources to poll."""
        return [s for s in self.sources if s.enabled]

    def source_names(self) -> list[tuple[str, str]]:
        """(id, display name) of every configured source."""
        return [(s.id, s.name) for s in self.sources]

    def page_paths(self) -> dict[str, str]:
        """Category slug → page path for fixed-category sources with their own path."""
        return {
            str(s.settings["category"]): str(s.settings["page_path"])
            for s in self.sources
            if s.settings.get("category") and s.settings.get("page_path")
        }
