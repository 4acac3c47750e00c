"""deploy/github-actions/finews.yml, the recipe a user of the original copies: its shape
(every 5 minutes, the archive kept in the cache, the site published to Pages), and every
`run:` step of it run here in order, as the runner would, twice (the second run as after
a cache restore), with finews.toml pointing the sources at the bundled demo feeds.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from finews.demo.replay import (
    ReplayServer,
    demo_routes,
    demo_source_overrides,
    demo_unserved_sources,
)
from finews.derive import open_store
from finews.publish.static_site import MANIFEST

REPO = Path(__file__).resolve().parent.parent
WORKFLOW = REPO / "deploy" / "github-actions" / "finews.yml"
BIN = Path(sys.executable).parent


def workflow() -> dict[Any, Any]:
    loaded = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def job() -> dict[str, Any]:
    (only,) = workflow()["jobs"].values()
    assert isinstance(only, dict)
    return only


def test_workflow_runs_every_5_minutes_and_publishes_to_pages() -> None:
    document = workflow()
    # PyYAML reads the key `on` as True (YAML 1.1)
    triggers = document[True]
    assert triggers["schedule"] == [{"cron": "*/5 * * * *"}]
    assert "workflow_dispatch" in triggers
    assert document["permissions"] == {"contents": "read", "pages": "write", "id-token": "write"}
    assert document["concurrency"]["cancel-in-progress"] is False
    steps = job()["steps"]
    uses = [step["uses"].split("@")[0] for step in steps if "uses" in step]
    assert uses == [
        "actions/checkout",
        "actions/setup-python",
        "actions/cache/restore",
        "actions/cache/save",
        "actions/configure-pages",
        "actions/upload-pages-artifact",
        "actions/deploy-pages",
    ]
    restore, save = [step for step in steps if "actions/cache/" in step.get("uses", "")]
    # the cache holds the folder of the SQLite archive (and the site, for incremental builds)
    database = job()["env"]["FINEWS_DATABASE_URL"]
    assert database.startswith("sqlite:///archive/")
    assert restore["with"]["path"].split() == save["with"]["path"].split() == ["archive", "site"]
    assert restore["with"]["key"] == save["with"]["key"]
    assert save["with"]["key"].startswith(restore["with"]["restore-keys"])
    (upload,) = [s for s in steps if "upload-pages-artifact" in s.get("uses", "")]
    assert upload["with"]["path"] == "site"


def run_steps(workspace: Path, env: dict[str, str]) -> list[str]:
    """Every `run:` step but the install (finews is installed here already), in order,
    with the runner's shell options; their output."""
    outputs = []
    for step in job()["steps"]:
        if "run" not in step:
            continue
        if step["name"] == "Install finews":
            assert step["run"].startswith("python -m pip install")
            assert '"$FINEWS_PACKAGE"' in step["run"]
            continue
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
            cwd=workspace,
            env={**env, **step.get("env", {})},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, f"{step['name']}: {done.stderr}"
        outputs.append(done.stdout)
    return outputs


@pytest.mark.slow
def test_workflow_steps_fetch_keep_and_build(tmp_path: Path) -> None:
    workspace = tmp_path / "checkout"
    workspace.mkdir()
    with ReplayServer(demo_routes()) as upstream:
        # the user's finews.toml, here pointing every demo source at the replay upstream
        lines = ["[http]", "retries = 0", ""]
        for source, values in demo_source_overrides(upstream.url).items():
            lines.append(f"[sources.{source}]")
            lines.append("enabled = true")
            for key, value in values.items():
                lines.append(f"{key} = {value!r}".replace("'", '"'))
            lines.append("")
        for source in demo_unserved_sources():  # on by default, not served: never the internet
            lines.extend((f"[sources.{source}]", "enabled = false", ""))
        (workspace / "finews.toml").write_text("\n".join(lines), encoding="utf-8")
        env = {
            "PATH": f"{BIN}:/usr/bin:/bin",
            "HOME": str(tmp_path),
            "GITHUB_REPOSITORY": "someone/market-news",
            **{k: str(v) for k, v in job()["env"].items()},
        }
        first = run_steps(workspace, env)
        database = workspace / "archive" / "finews.db"
        assert database.is_file()
        with open_store(f"sqlite:///{database}") as store:
            stored = store.count_items()
        assert stored > 0
        assert "em_fast" in first[0]
        home = (workspace / "site" / "index.html").read_text(encoding="utf-8")
        assert 'href="/market-news/' in home  # the project site's path
        assert (workspace / "site" / MANIFEST).is_file()
        # the next run, after the cache restored archive/ and site/: nothing new upstream,
        # the archive is kept, the build is incremental
        second = run_steps(workspace, env)
        with open_store(f"sqlite:///{database}") as store:
            assert store.count_items() == stored
        assert "incremental build" in second[1]
