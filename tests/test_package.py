"""The installable package: `pip install .` gives the `orchestrator` command, which runs the
server from the installed files (Swagger UI's page included); one version everywhere."""
from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import requests
from conftest import AUTH, MONGO_URI, PASSWORD, USER
from ferretdb_server import free_port
from helpers import start_server, stop_server

import app as package

REPO = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())


def test_the_version_is_declared_once():
    assert PYPROJECT["project"]["dynamic"] == ["version"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "app.__version__"}
    done = subprocess.run([sys.executable, "-m", "app", "version"], cwd=REPO, capture_output=True,
                          text=True, timeout=60)
    assert (done.returncode, done.stdout) == (0, f"{package.__version__}\n")


def test_the_package_and_requirements_txt_name_the_same_dependencies():
    lines = [line.split("#")[0].strip() for line in (REPO / "requirements.txt").read_text().splitlines()]
    assert sorted(PYPROJECT["project"]["dependencies"]) == sorted(line for line in lines if line)


def test_the_command_line_lists_its_commands():
    done = subprocess.run([sys.executable, "-m", "app", "--help"], cwd=REPO, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0
    for command in ("run", "hash-password", "version"):
        assert f"    {command}" in done.stdout, done.stdout


@pytest.mark.skipif(bool(MONGO_URI), reason="installs the package once, on the embedded store")
def test_pip_install_gives_the_orchestrator_command(tmp_path):
    # A venv that sees this interpreter's packages (the dependencies), so only the package
    # itself is built (pip fetches setuptools for that) and installed, as `pip install .` does.
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True,
                   timeout=120)
    source = tmp_path / "source"  # what the package is built from, and nothing else
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        (source / name).parent.mkdir(exist_ok=True)
        shutil.copy(REPO / name, source / name)
    shutil.copytree(REPO / "app", source / "app", ignore=shutil.ignore_patterns("__pycache__"))
    installed = subprocess.run([str(venv / "bin" / "pip"), "install", "--no-deps",
                                "--disable-pip-version-check", "--quiet", str(source)],
                               capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    orchestrator = str(venv / "bin" / "orchestrator")
    version = subprocess.run([orchestrator, "version"], capture_output=True, text=True, timeout=60)
    assert version.stdout.strip() == package.__version__
    port = free_port()
    # Run from elsewhere, so that the installed package is the one imported, not the checkout.
    server = start_server([orchestrator, "run"], port, tmp_path, USER_AUTH=USER, PWD_AUTH=PASSWORD,
                          DATA_DIR=str(tmp_path / "data"))
    try:
        url = f"http://127.0.0.1:{port}"
        assert requests.get(f"{url}/version", timeout=10).json() == {"version": package.__version__}
        assert requests.get(f"{url}/docs/swagger-ui-bundle.js", timeout=10).status_code == 200
        assert "docs/docs.js" in requests.get(f"{url}/docs", timeout=10).text
        assert requests.get(f"{url}/problem", auth=AUTH, timeout=10).json() == {"problems": []}
        # the dashboard's templates and stylesheet are package data
        assert "No problem registered yet." in requests.get(f"{url}/ui/", auth=AUTH, timeout=10).text
        assert requests.get(f"{url}/ui/dashboard.css", auth=AUTH, timeout=10).status_code == 200
        where = subprocess.run([str(venv / "bin" / "python"), "-c", "import app; print(app.__file__)"],
                               cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert str(venv) in where.stdout, where.stdout
    finally:
        stop_server(server)
