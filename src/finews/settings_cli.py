"""``finews config``: every setting, its value and where the value came from, as TOML
a settings file could hold; ``--markdown`` prints the settings reference the README
carries (:func:`settings_markdown`, made from the option table and the adapters'
settings).
"""

from __future__ import annotations

from typing import Any

import click

from finews.cli_context import CliContext, pass_ctx
from finews.config import SETTINGS
from finews.configfile import toml_value
from finews.redact import redact

__all__ = ["commands", "settings_markdown", "show_config"]


@click.command("config")
@click.option("--markdown", is_flag=True, help="Print the settings reference as Markdown.")
@pass_ctx
def show_config(obj: CliContext, markdown: bool) -> None:
    """Show every setting, its value and where the value came from.

    \b
    Examples:
      finews config
      finews --config prod.toml config
      finews config --markdown      (the tables in the README)
    """
    if markdown:
        click.echo(settings_markdown())
        return
    config = obj.config
    # TOML a settings file could hold; passwords in URLs and secret query values are
    # shown as *** (finews.redact)
    click.echo(f"# file: {config.path or '(none; defaults)'}")
    click.echo(redact(f"# database: {config.database_url}"))
    for option in SETTINGS:
        origin = config.origins.get(option.name, "default")
        value = toml_value(config.get(option.name))
        click.echo(redact(f"{option.name} = {value}    # {origin}"))
    for spec in config.sources:
        click.echo(f"\n[sources.{spec.id}]")
        click.echo(f"adapter = {toml_value(spec.adapter)}")
        click.echo(f"enabled = {toml_value(spec.enabled)}")
        click.echo(redact(f"name = {toml_value(spec.name)}"))
        for key, value in sorted(spec.settings.items()):
            click.echo(redact(f"{key} = {toml_value(value)}"))


def settings_markdown() -> str:
    """The settings reference (global, per-source, per-adapter) as Markdown tables."""
    from finews.config import SOURCE_SETTINGS, allowed_values
    from finews.sources import adapters

    def cell(value: Any) -> str:
        return "(empty)" if value in ("", [], None) else f"`{value!r}`".replace("|", "\\|")

    def row(o: Any) -> str:
        return f"| `{o.name}` | {cell(o.default)} | {allowed_values(o)} | {o.help} |"

    head = "| {} | default | allowed | meaning |"
    rule = "|---|---|---|---|"
    lines = [head.format("setting"), rule, *map(row, SETTINGS)]
    lines += ["", "Every source (`[sources.<id>]`):", ""]
    lines += [head.format("source setting"), rule, *map(row, SOURCE_SETTINGS)]
    for name, adapter in adapters().items():
        lines += ["", f"Adapter `{name}`: {adapter.description}", ""]
        lines += [head.format("setting"), rule, *map(row, adapter.settings)]
    return "\n".join(lines)


#: the commands of this module, added to ``finews`` by ``cli.py``
commands: list[click.Command] = [show_config]
