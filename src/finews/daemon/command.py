"""``finews run``: the always-on poller, as a command."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Sequence

import click

from finews.cli_context import CliContext, only_sources, pass_ctx
from finews.config import Config
from finews.daemon.runner import run_daemon
from finews.models import SourceSpec

__all__ = ["commands", "run_cmd"]


async def _run_until_signalled(config: Config, specs: Sequence[SourceSpec]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGTERM, signal.SIGINT)
    for number in signals:
        loop.add_signal_handler(number, stop.set)
    try:
        await run_daemon(config, config.prepare_database(), stop_event=stop, specs=specs)
    finally:
        for number in signals:
            loop.remove_signal_handler(number)


@click.command("run")
@only_sources
@pass_ctx
def run_cmd(obj: CliContext, only: Sequence[str]) -> None:
    """Poll every enabled source continuously, until SIGTERM or Ctrl-C.

    Each source is polled on its own `interval` (30 s for 快讯 feeds, 5 min for article
    lists by default) with some jitter, and walks back through older pages until it meets
    stored items, so a restart after a pause catches up on everything the upstream still
    lists. A failing source backs off (doubling its wait up to daemon.backoff_cap, obeying
    Retry-After) and shows it in `finews sources`; it is never dropped. New items are
    stored at once with their digest; their full text is fetched in the background,
    with retries, and the item updated. One log line per poll (--log-format json for JSON
    lines). Stops within a few seconds on SIGTERM or SIGINT; nothing committed is lost,
    even on kill -9.

    \b
    Examples:
      finews run
      finews run -s em_fast
      finews --log-format json run 2>> finews.log
      finews --set daemon.metrics_port=9108 run     # Prometheus metrics of this process
      FINEWS_SOURCE_EM_FAST_INTERVAL=10 finews run  # every setting: `finews config`
    """
    config = obj.config
    specs = [config.source(s) for s in only] if only else config.enabled_sources()
    if not specs:
        raise click.UsageError("no source is enabled: enable one in finews.toml or use -s ID")
    asyncio.run(_run_until_signalled(config, specs))


#: the commands this module adds to ``finews``
commands = [run_cmd]
