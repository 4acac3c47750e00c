"""Every file in deploy/ is checked as far as this machine allows: the systemd units with
``systemd-analyze verify`` and ``security``, nginx.conf with ``nginx -t``, compose.yaml
against the Compose Specification's JSON schema, the Dockerfile and .dockerignore by their
rules (there is no Docker daemon here), .gitignore with ``git check-ignore``.

The tools come from Debian (.ci/run installs them: systemd, nginx, docker-compose for its
schema file); a test whose tool is missing is skipped and says which.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import NoReturn

import pytest
import yaml

from serving import finews_serve, free_port

REPO = Path(__file__).resolve().parent.parent
DEPLOY = REPO / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
FINEWS = Path(sys.executable).parent / "finews"
#: Debian's docker-compose (1.29) ships the Compose Specification's schema
COMPOSE_SCHEMA = Path("/usr/lib/python3/dist-packages/compose/config/compose_spec.json")


def missing(what: str) -> NoReturn:
    """Skip, or fail where CI installed the tools (FINEWS_REQUIRE_DEPLOY_TOOLS=1)."""
    message = f"{what} (.ci/run installs it from Debian)"
    if os.environ.get("FINEWS_REQUIRE_DEPLOY_TOOLS") == "1":
        pytest.fail(message)
    pytest.skip(message)


def needs(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        missing(f"{tool} is not installed")
    return found


# --- systemd -----------------------------------------------------------------------------


def installed_units(folder: Path) -> list[Path]:
    """The units as an operator installs them, with ExecStart pointing at this checkout's
    finews (verify checks that the binary exists) and the template instantiated."""
    placed = []
    for unit in sorted((DEPLOY / "systemd").iterdir()):
        text = unit.read_text(encoding="utf-8").replace("/opt/finews/venv/bin/finews", str(FINEWS))
        name = unit.name.replace("@.", "@8001.")
        (folder / name).write_text(text, encoding="utf-8")
        placed.append(folder / name)
    return placed


def test_systemd_units_verify(tmp_path: Path) -> None:
    analyze = needs("systemd-analyze")
    units = installed_units(tmp_path)
    assert {u.name for u in units} >= {"finews-update.timer", "finews-serve@8001.service"}
    done = subprocess.run(
        [analyze, "verify", "--man=no", *[u.name for u in units]],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == ""


def test_systemd_verify_catches_a_broken_unit(tmp_path: Path) -> None:
    """The check above can fail: a unit whose program is missing does not verify."""
    analyze = needs("systemd-analyze")
    unit = tmp_path / "finews-run.service"
    unit.write_text((DEPLOY / "systemd" / "finews-run.service").read_text(encoding="utf-8"))
    done = subprocess.run(
        [analyze, "verify", "--man=no", unit.name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0
    assert "/opt/finews/venv/bin/finews" in done.stderr


@pytest.mark.parametrize("unit", [u.name for u in UNITS])
def test_systemd_unit_exposure_is_at_most_4(unit: str, tmp_path: Path) -> None:
    analyze = needs("systemd-analyze")
    (path,) = [u for u in installed_units(tmp_path) if u.name == unit.replace("@.", "@8001.")]
    done = subprocess.run(
        [analyze, "security", "--offline=true", "--no-pager", path.name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d)", done.stdout)
    assert found, done.stdout + done.stderr
    assert float(found.group(1)) <= 4.0, done.stdout
    # the figure the unit's own comment quotes is the one measured
    assert f"security`: {found.group(1)} " in path.read_text(encoding="utf-8")


@pytest.mark.parametrize("unit", [u.name for u in UNITS])
def test_systemd_documentation_points_at_a_page_that_exists(unit: str) -> None:
    text = (DEPLOY / "systemd" / unit).read_text(encoding="utf-8")
    (link,) = re.findall(r"^Documentation=(.*)$", text, re.MULTILINE)
    assert link.startswith("https://")
    assert link.endswith("/docs/deploy.md")
    assert (REPO / "docs" / "deploy.md").is_file()


# --- nginx -------------------------------------------------------------------------------


def test_nginx_config_passes_nginx_t_with_a_loopback_upstream(tmp_path: Path) -> None:
    nginx = needs("nginx")
    text = (DEPLOY / "nginx.conf").read_text(encoding="utf-8")
    assert "server web:8000" in text
    # as on one machine (docs/deploy.md); logs and pid in a scratch folder
    text = text.replace("server web:8000", "server 127.0.0.1:8000")
    text = text.replace("/var/log/nginx/", f"{tmp_path}/").replace(
        "/run/nginx.pid", f"{tmp_path}/pid"
    )
    conf = tmp_path / "nginx.conf"
    conf.write_text(text, encoding="utf-8")
    done = subprocess.run(
        [nginx, "-t", "-c", str(conf), "-p", str(tmp_path), "-e", str(tmp_path / "error.log")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "test is successful" in done.stderr
    broken = tmp_path / "broken.conf"
    broken.write_text(text.replace("least_conn;", "least_conn"), encoding="utf-8")
    refused = subprocess.run(
        [nginx, "-t", "-c", str(broken), "-p", str(tmp_path), "-e", str(tmp_path / "error.log")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert refused.returncode != 0


# --- compose -----------------------------------------------------------------------------


def compose() -> dict[str, object]:
    loaded = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def test_compose_file_follows_the_compose_specification_schema() -> None:
    import jsonschema

    if not COMPOSE_SCHEMA.is_file():
        missing(f"{COMPOSE_SCHEMA} is missing: apt-get install docker-compose")
    schema = json.loads(COMPOSE_SCHEMA.read_text(encoding="utf-8"))
    document = compose()
    # the top-level project name came to the specification after this (2021) schema
    assert document.pop("name") == "finews"
    # anchors only: merged into the services by the YAML loader
    for key in [k for k in document if k.startswith("x-")]:
        del document[key]
    validator = jsonschema.Draft201909Validator(schema)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]
    assert errors == []
    # and the schema is strict enough to catch a typo
    document["services"]["web"]["healtcheck"] = {"test": ["CMD", "true"]}  # type: ignore[index]
    assert not validator.is_valid(document)


def test_compose_services_fit_together() -> None:
    services = compose()["services"]
    assert isinstance(services, dict)
    assert set(services) == {"db", "migrate", "worker", "web", "nginx"}
    for name in ("migrate", "worker", "web"):
        service = services[name]
        assert service["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
        assert service["depends_on"]
        url = service["environment"]["FINEWS_DATABASE_URL"]
        assert "${POSTGRES_PASSWORD:?" in url
    # worker leases let several workers share the sources
    assert services["worker"]["deploy"]["replicas"] >= 2
    # only `finews serve` answers the image's HEALTHCHECK
    assert services["worker"]["healthcheck"] == {"disable": True}
    assert services["migrate"]["healthcheck"] == {"disable": True}
    text = (DEPLOY / "compose.yaml").read_text(encoding="utf-8")
    assert "leases land" not in text
    assert "until worker leases" not in (REPO / "docs" / "deploy.md").read_text(encoding="utf-8")


# --- Dockerfile, .dockerignore, .gitignore -------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of deploy/Dockerfile, continuation lines joined."""
    joined = re.sub(r"\\\n", " ", (DEPLOY / "Dockerfile").read_text(encoding="utf-8"))
    found = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def test_dockerfile_builds_a_wheel_then_a_slim_non_root_runtime() -> None:
    steps = dockerfile_instructions()
    starts = [n for n, (word, _) in enumerate(steps) if word == "FROM"]
    assert len(starts) == 2
    build, runtime = steps[starts[0] : starts[1]], steps[starts[1] :]
    assert build[0][1].endswith(" AS build")
    assert any(word == "RUN" and "pip wheel" in arg for word, arg in build)
    assert "slim" in runtime[0][1]
    # the runtime takes nothing from the build context: only the wheel of the first stage
    assert not [arg for word, arg in runtime if word in ("COPY", "ADD")]
    (install,) = [arg for word, arg in runtime if word == "RUN" and "pip install" in arg]
    assert "from=build" in install
    assert "[postgres]" in install
    (user,) = [arg for word, arg in runtime if word == "USER"]
    assert user.split(":")[0] not in ("root", "0")
    assert next(n for n, (word, _) in enumerate(runtime) if word == "USER") > max(
        n for n, (word, _) in enumerate(runtime) if word == "RUN"
    )
    (health,) = [arg for word, arg in runtime if word == "HEALTHCHECK"]
    assert "/healthz" in health
    # the first stage copies only what the .dockerignore lets into the context
    copied = [arg.split()[:-1] for word, arg in build if word == "COPY"]
    for sources in copied:
        for source in sources:
            assert not dockerignored(source), source
            assert (REPO / source).exists(), source


def docker_pattern(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern as a regular expression (Go's filepath.Match, plus ``**``
    for any number of folders), matching a path or any folder above it."""
    out = ""
    parts = pattern.strip("/").split("/")
    for index, part in enumerate(parts):
        if part == "**":
            out += "(?:.*/)?" if index < len(parts) - 1 else ".*"
            continue
        out += "".join("[^/]*" if c == "*" else "[^/]" if c == "?" else re.escape(c) for c in part)
        if index < len(parts) - 1:
            out += "/"
    return re.compile(out + "(?:/.*)?")


def dockerignored(path: str) -> bool:
    """Whether Docker leaves ``path`` out of the build context: the last pattern that
    matches decides (``!`` lets a path back in)."""
    ignored = False
    for line in (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        if docker_pattern(line.lstrip("!")).fullmatch(path):
            ignored = not negated
    return ignored


@pytest.mark.parametrize(
    "path",
    [
        ".git/config",
        ".venv/bin/python",
        "data/finews.db",
        "deploy/.env",
        "deploy/finews.toml",
        ".mypy_cache/3.11/x.json",
        ".pytest_cache/v/cache",
        ".ruff_cache/x",
        "src/finews/__pycache__/cli.cpython-311.pyc",
        "src/finews.egg-info/PKG-INFO",
        "demo-output/site/index.html",
        "tests/conftest.py",
        "finews.db",
        "src/finews/finews.db",
    ],
)
def test_dockerignore_keeps_local_files_and_secrets_out(path: str) -> None:
    assert dockerignored(path)


@pytest.mark.parametrize(
    "path",
    [
        "pyproject.toml",
        "README.md",
        "LICENSE",
        "src/finews/cli.py",
        "src/finews/publish/templates/base.html",
        "src/finews/store/migrations/sqlite/0001.sql",
    ],
)
def test_dockerignore_lets_the_wheel_sources_in(path: str) -> None:
    assert not dockerignored(path)


def test_every_packaged_file_reaches_the_build_context() -> None:
    """Every file git tracks under src/ is in the context: the wheel built in the image is
    the one built here."""
    tracked = subprocess.run(
        ["git", "ls-files", "src", "pyproject.toml", "README.md", "LICENSE"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert len(tracked) > 50
    assert [path for path in tracked if dockerignored(path)] == []


@pytest.mark.parametrize(
    ("path", "ignored"),
    [("deploy/.env", True), ("deploy/finews.toml", True), ("deploy/finews.toml.example", False)],
)
def test_gitignore_covers_the_compose_secrets(path: str, ignored: bool) -> None:
    done = subprocess.run(["git", "check-ignore", "--no-index", "-q", path], cwd=REPO, check=False)
    assert done.returncode == (0 if ignored else 1)


def test_dockerfile_healthcheck_command_asks_a_real_serve(tmp_path: Path) -> None:
    """The HEALTHCHECK's own command, run against `finews serve` started the way the
    image starts it: `finews serve`, listening where FINEWS_SERVE_* say."""
    (health,) = [arg for word, arg in dockerfile_instructions() if word == "HEALTHCHECK"]
    argv = json.loads(health[health.index("CMD") + 3 :].strip())
    assert argv[:2] == ["python", "-c"]
    (command,) = [arg for word, arg in dockerfile_instructions() if word == "CMD"]
    port = free_port()
    env = {
        "PATH": "/usr/bin:/bin",
        "FINEWS_SERVE_HOST": "127.0.0.1",
        "FINEWS_SERVE_PORT": str(port),
        "FINEWS_DATABASE_URL": f"sqlite:///{tmp_path / 'finews.db'}",
    }
    check = [sys.executable, "-c", argv[2]]
    # nothing listening yet: the check fails
    assert subprocess.run(check, env=env, capture_output=True, check=False).returncode != 0
    with finews_serve([str(FINEWS), *json.loads(command)], env, tmp_path, port):
        done = subprocess.run(check, env=env, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr


README_LINK = re.compile(r"\]\(([^)\s]+)\)")
GITHUB = "https://github.com/finews/finews/"


def test_the_readme_links_work_on_a_package_index() -> None:
    # the readme is the project's page on a package index, where a relative link leads
    # nowhere: every link is absolute, and each into this repository names a file of it
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    links = README_LINK.findall(readme)
    assert links
    relative = [link for link in links if not link.startswith(("https://", "http://", "#"))]
    assert relative == []
    for link in links:
        if link.startswith(GITHUB) and "/main/" in link:
            path = link.split("/main/", 1)[1].split("#", 1)[0]
            assert (REPO / path).exists(), link
