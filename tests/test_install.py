"""finews as a user installs it: the wheel (built from the sdist, as a package index would
get them) in fresh virtualenvs outside the repository, with and without the ``postgres``
extra, each running the demo, a static build and the live site from an empty folder.

pip fetches the dependencies from the package index it is set up with (its cache makes
the second venv quick).
"""

from __future__ import annotations

import email
import subprocess
import sys
import tarfile
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

import pytest

from serving import finews_serve, free_port

REPO = Path(__file__).resolve().parent.parent

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def run(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False, **kwargs)


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """sdist and wheel, built from a copy of the files git would commit here."""
    source = tmp_path_factory.mktemp("source")
    files = run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=REPO
    ).stdout.split("\0")
    for name in filter(None, files):
        if (REPO / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            (source / name).write_bytes((REPO / name).read_bytes())
    out = tmp_path_factory.mktemp("dist")
    built = run([sys.executable, "-m", "build", "--outdir", str(out), str(source)], timeout=600)
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    (sdist,) = out.glob("finews-*.tar.gz")
    (wheel,) = out.glob("finews-*.whl")
    return {"sdist": sdist, "wheel": wheel}


def test_wheel_metadata_and_contents(dist: dict[str, Path]) -> None:
    with zipfile.ZipFile(dist["wheel"]) as wheel:
        names = wheel.namelist()
        (metadata_name,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        metadata = email.message_from_bytes(wheel.read(metadata_name))
    assert metadata["License-Expression"] == "MIT"
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert metadata["Description-Content-Type"] == "text/markdown"
    # the long description renders as a package index renders it (what `twine check` runs)
    from readme_renderer.markdown import render

    page = render(metadata.get_payload())
    assert page is not None
    assert 'id="user-content-install">Install<' in page
    assert "postgres" in metadata.get_all("Provides-Extra", [])
    requires = metadata.get_all("Requires-Dist")
    psycopg = [r for r in requires if r.startswith("psycopg")]
    assert psycopg
    assert all('extra == "postgres"' in r for r in psycopg)
    for wanted in ("tzdata", "opencc", "uvicorn[standard]"):
        assert any(r.startswith(wanted) for r in requires), wanted
    assert not [r for r in requires if r.startswith("opencc-python-reimplemented")]
    assert metadata.get_all("Project-URL")
    assert "Programming Language :: Python :: 3.11" in metadata.get_all("Classifier")
    # what the program reads at run time is in the wheel
    for part in ("publish/templates/", "publish/static/", "store/migrations/", "demo/payloads/"):
        assert any(n.startswith(f"finews/{part}") for n in names), part
    assert "finews/py.typed" in names
    # the sdist carries the license and the deploy guide the units link to
    with tarfile.open(dist["sdist"]) as sdist:
        members = {m.name.split("/", 1)[1] for m in sdist.getmembers() if "/" in m.name}
    assert {"LICENSE", "README.md", "pyproject.toml"} <= members


@pytest.fixture(scope="module", params=["sqlite-only", "postgres"])
def installed(
    request: pytest.FixtureRequest, dist: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, Path]:
    """A fresh venv outside the repository with the wheel installed (``postgres``: with the
    extra); returns the flavour and the venv's bin folder."""
    flavour: str = request.param
    venv = tmp_path_factory.mktemp(f"venv-{flavour}")
    created = run([sys.executable, "-m", "venv", str(venv)], timeout=120)
    assert created.returncode == 0, created.stderr
    target = str(dist["wheel"]) + ("[postgres]" if flavour == "postgres" else "")
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check"]
    done = run([*pip, target], timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return flavour, venv / "bin"


def test_installed_finews_runs_demo_build_and_serve_from_an_empty_folder(
    installed: tuple[str, Path], tmp_path: Path
) -> None:
    flavour, bin_dir = installed
    work = tmp_path / "empty"
    work.mkdir()
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    finews = str(bin_dir / "finews")

    def call(*args: str) -> subprocess.CompletedProcess[str]:
        return run([finews, *args], cwd=work, env=env, timeout=300)

    has_psycopg = run([str(bin_dir / "python"), "-c", "import psycopg"], env=env)
    assert (has_psycopg.returncode == 0) is (flavour == "postgres")
    version = call("--version")
    assert version.returncode == 0
    assert version.stdout.startswith("finews, version ")

    demo = call("demo", "--no-serve")
    assert demo.returncode == 0, demo.stderr
    assert "stored 59 items" in demo.stdout
    database = "sqlite:///demo-output/demo.db"
    built = call("--database-url", database, "build", "site")
    assert built.returncode == 0, built.stderr
    assert "full build" in built.stdout
    assert (work / "site" / "index.html").is_file()

    port = free_port()
    argv = [finews, "--database-url", database, "serve", "--port", str(port)]
    with finews_serve(argv, env, work, port) as served:
        page = urllib.request.urlopen(served.url + "/", timeout=10)
        with page:
            assert page.status == 200
            assert "</html>" in page.read().decode("utf-8")

    if flavour == "sqlite-only":
        refused = call("--database-url", "postgresql://finews@127.0.0.1:5432/finews", "migrate")
        assert refused.returncode != 0
        assert "pip install 'finews[postgres]'" in refused.stderr


@pytest.mark.postgres
@pytest.mark.parametrize("installed", ["postgres"], indirect=True)
def test_installed_postgres_extra_copies_the_demo_to_postgresql(
    installed: tuple[str, Path], tmp_path: Path, pg_url: str
) -> None:
    _, bin_dir = installed
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    finews = str(bin_dir / "finews")
    demo = run([finews, "demo", "--no-serve"], cwd=tmp_path, env=env, timeout=300)
    assert demo.returncode == 0, demo.stderr
    copied = run(
        [finews, "copy-db", "sqlite:///demo-output/demo.db", pg_url],
        cwd=tmp_path,
        env=env,
        timeout=300,
    )
    assert copied.returncode == 0, copied.stderr
    assert "verified" in copied.stdout + copied.stderr
