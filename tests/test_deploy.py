"""The deploy recipes run as shipped: the static-site timer's build command as an
unprivileged user who owns only the output folder; `finews serve` logging one format.

(The checks of the deploy files themselves, Dockerfile, compose, nginx and the systemd
units, are in tests/test_deploy_files.py.)
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from finews.derive import open_store
from finews.publish.static_site import MANIFEST, STAGING_PREFIX
from serving import finews_serve, free_port
from site_data import fill, later_items, site_items

REPO = Path(__file__).resolve().parent.parent
UNITS = REPO / "deploy" / "systemd"
FINEWS = Path(sys.executable).parent / "finews"


def unit_settings(name: str) -> dict[str, list[str]]:
    """Every ``Key=value`` of a unit file, by key, in order (keys repeat: ExecStart)."""
    found: dict[str, list[str]] = {}
    for line in (UNITS / name).read_text(encoding="utf-8").splitlines():
        if line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            found.setdefault(key, []).append(value)
    return found


@pytest.fixture
def unprivileged() -> pwd.struct_passwd:
    if os.geteuid() != 0:
        pytest.skip("needs root: the test switches to the unprivileged user 'nobody'")
    if shutil.which("setpriv") is None:
        pytest.skip("needs setpriv (util-linux) to run a command as another user")
    return pwd.getpwnam("nobody")


@pytest.fixture
def system_root() -> Iterator[Path]:
    """A root-owned folder that others may enter but not write, like / and /var/www.
    (Not under tmp_path: pytest makes that readable by root only.)"""
    root = Path(tempfile.mkdtemp(prefix="finews-deploy-"))
    root.chmod(0o755)
    try:
        yield root
    finally:
        shutil.rmtree(root)


def test_static_timer_build_runs_as_its_user_owning_only_the_output_folder(
    unprivileged: pwd.struct_passwd, system_root: Path
) -> None:
    """finews-update.service's build line, run as a user who owns /var/www/finews but not
    /var/www (root's, mode 0755): it writes the site, stages nothing outside it and
    leaves no staging folder inside it."""
    unit = unit_settings("finews-update.service")
    (command,) = [line for line in unit["ExecStart"] if " build " in line]
    argv = shlex.split(command.lstrip("-"))
    assert argv[0] == "/opt/finews/venv/bin/finews"
    assert argv[1:] == ["build", "/var/www/finews"]
    assert "/var/www/finews" in unit["ReadWritePaths"][0].split()

    uid, gid = unprivileged.pw_uid, unprivileged.pw_gid
    www = system_root / "var" / "www"
    state = system_root / "var" / "lib" / "finews"
    for folder in (www, state):
        folder.mkdir(parents=True)
    out = www / "finews"
    out.mkdir()  # docs/deploy.md: install -d -o finews -g finews /var/www/finews
    database = state / "finews.db"
    with open_store(f"sqlite:///{database}") as store:
        fill(store, site_items())
    for path in (out, state, *state.iterdir()):
        os.chown(path, uid, gid)

    def run_as_user() -> subprocess.CompletedProcess[str]:
        (config,) = unit["Environment"]
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(state),
            # the unit's settings file, with the database the unit's state folder holds
            config.partition("=")[0]: str(REPO / "deploy" / "finews.toml.example"),
            "FINEWS_DATABASE_URL": f"sqlite:///{database}",
            "FINEWS_DATA_DIR": str(state),
            "FINEWS_LOG_FORMAT": "text",
        }
        replaced = [str(FINEWS), "build", str(system_root) + argv[2]]
        return subprocess.run(
            ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", *replaced],
            cwd=state,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    first = run_as_user()
    assert first.returncode == 0, first.stderr
    assert "full build" in first.stdout
    assert (out / "index.html").is_file()
    assert (out / MANIFEST).is_file()
    assert out.stat().st_uid == uid
    assert sorted(p.name for p in www.iterdir()) == ["finews"]
    assert not list(out.glob(f"{STAGING_PREFIX}*"))
    # the user really could not have written beside the output folder
    as_user = ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups"]
    denied = subprocess.run(
        [*as_user, "touch", str(www / "probe")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert denied.returncode != 0
    assert "Permission denied" in denied.stderr

    # the next timer run: incremental, still as the user
    with open_store(f"sqlite:///{database}") as store:
        fill(store, later_items())
    for path in state.iterdir():
        os.chown(path, uid, gid)
    second = run_as_user()
    assert second.returncode == 0, second.stderr
    assert "incremental build" in second.stdout
    assert sorted(p.name for p in www.iterdir()) == ["finews"]


def served_lines(tmp_path: Path, log_format: str) -> list[str]:
    """Every line `finews --log-format … serve` printed while it started, answered three
    requests (a page, the health check, a missing page) and stopped on SIGTERM."""
    port = free_port()
    argv = [str(FINEWS), "--log-format", log_format, "serve", "--port", str(port)]
    env = {"PATH": "/usr/bin:/bin", "FINEWS_DATABASE_URL": f"sqlite:///{tmp_path / 'f.db'}"}
    with finews_serve(argv, env, tmp_path, port) as served:
        for path in ("/", "/healthz"):
            with urllib.request.urlopen(served.url + path, timeout=10) as answer:
                assert answer.status == 200
        with pytest.raises(urllib.error.HTTPError, match="404"):
            urllib.request.urlopen(served.url + "/no/such/page.html", timeout=10)
    # uvicorn re-raises the SIGTERM it handled, once shut down cleanly
    assert served.process.returncode in (0, -signal.SIGTERM)
    text = served.stderr.read_text(encoding="utf-8") + served.stdout.read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line.strip()]


def test_serve_logs_every_line_as_json(tmp_path: Path) -> None:
    """`--log-format json` covers uvicorn's own lines and its access log, not only
    finews's."""
    lines = served_lines(tmp_path, "json")
    entries = [json.loads(line) for line in lines]  # each line is one JSON object
    loggers = {entry["logger"] for entry in entries}
    assert {"uvicorn.error", "uvicorn.access"} <= loggers
    assert any("Uvicorn running on" in entry["message"] for entry in entries)
    access = [entry for entry in entries if entry["logger"] == "uvicorn.access"]
    assert [(e["method"], e["path"], e["status"]) for e in access] == [
        ("GET", "/healthz", 200),  # finews_serve's readiness check
        ("GET", "/", 200),
        ("GET", "/healthz", 200),
        ("GET", "/no/such/page.html", 404),
    ]
    assert all(entry["time"].endswith("+00:00") for entry in entries)
    assert not [entry for entry in entries if "color_message" in entry]


def test_serve_logs_every_line_as_text_by_default(tmp_path: Path) -> None:
    lines = served_lines(tmp_path, "text")
    stamped = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (INFO|WARNING|DEBUG|ERROR) ")
    assert [line for line in lines if not stamped.match(line)] == []
    assert any('"GET /healthz HTTP/1.1" 200' in line for line in lines)


_WITHOUT_PSYCOPG = """
import sys
sys.modules["psycopg"] = None  # as in an install without the postgres extra
from starlette.testclient import TestClient
from finews.errors import StoreError
from finews.publish.settings import SiteSettings
from finews.publish.web import create_app
from finews.derive import open_store
try:
    open_store("postgresql://finews@127.0.0.1:5432/finews")
except StoreError as exc:
    print(exc)
# SQLite needs no psycopg, live site included
open_store(sys.argv[1]).close()
with TestClient(create_app(sys.argv[1], SiteSettings())) as client:
    assert client.get("/").status_code == 200
print("sqlite ok")
"""


def test_without_the_postgres_extra_sqlite_works_and_postgres_says_what_to_install(
    tmp_path: Path,
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _WITHOUT_PSYCOPG, f"sqlite:///{tmp_path / 'f.db'}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    first, second = done.stdout.splitlines()
    assert "PostgreSQL support is not installed" in first
    assert "pip install 'finews[postgres]'" in first
    assert second == "sqlite ok"


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (read from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # pid (comm) state ppid …: comm may hold spaces, so split after its ")"
            if int(stat.rpartition(")")[2].split()[1]) == pid:
                found.append(int(entry.name))
    return found


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="serve.workers forks (Linux)")
def test_serve_workers_share_one_port_and_every_reader_gets_live_updates(
    tmp_path: Path,
) -> None:
    """`serve.workers = 2` forks two servers on one port; readers connected to either get a
    new item's event (each worker follows the change log); SIGTERM ends them all."""
    import httpx

    from site_data import read_events

    database = f"sqlite:///{tmp_path / 'f.db'}"
    with open_store(database) as store:
        fill(store, site_items())
    port = free_port()
    argv = [str(FINEWS), "--set", "serve.workers=2", "serve", "--port", str(port)]
    env = {"PATH": "/usr/bin:/bin", "FINEWS_DATABASE_URL": database}
    with finews_serve(argv, env, tmp_path, port) as served:
        workers = _children(served.process.pid)
        assert len(workers) == 2, workers
        readers = 8  # the kernel spreads connections over both workers' accepts
        with contextlib.ExitStack() as open_streams:
            lines = []
            for _ in range(readers):
                client = open_streams.enter_context(httpx.Client(timeout=10))
                response = open_streams.enter_context(client.stream("GET", served.url + "/events"))
                lines.append(response.iter_lines())
            # each stream's headers came: its worker follows the change log from here on
            with open_store(database) as store:
                fill(store, later_items()[:1])
            for reader in lines:
                [event] = read_events(reader, 1, seconds=20)
                assert event["event"] == "item"
                assert json.loads(event["data"])["kind"] == "new"
    assert served.process.returncode in (0, -signal.SIGTERM)
    assert [pid for pid in workers if Path(f"/proc/{pid}").exists()] == []
