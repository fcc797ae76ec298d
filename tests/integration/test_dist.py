"""The installable artifacts (`make dist` = scripts/dist): the wheel and sdist carry every
file of the package, and the wheel installed in a clean venv (not this checkout) gives a
working `sero-ls`: its CLI, and an LSP session through the wrapper that maps URIs with the
packaged uri_table.json and writes a message trace. The VSIX is built by the same script
(tests/e2e/test_vscode.py installs and drives one)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from sero_ls import __version__
from sero_ls.uris import path_to_uri
from tests.support.rawclient import RawClient

ROOT = Path(__file__).resolve().parents[2]
ECHO = ROOT / "bench" / "echo_server.py"
pytestmark = [pytest.mark.timeout(600)]


def run(argv: list[str | Path], **kwargs: object) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [str(a) for a in argv], capture_output=True, text=True, timeout=300, check=False, **kwargs
    )
    assert proc.returncode == 0, f"{argv}:\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    run(["bash", ROOT / "scripts" / "dist", out])
    return out


@pytest.fixture(scope="module")
def installed(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clean venv (no system site-packages) with the wheel and its dependencies."""
    venv = tmp_path_factory.mktemp("venv") / "v"
    run([sys.executable, "-m", "venv", venv])
    [wheel] = dist.glob("sero_ls-*.whl")
    run(
        [
            venv / "bin" / "python",
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            wheel,
        ]
    )
    return venv


def package_files() -> set[str]:
    """Every file of the package in the checkout (sources and data)."""
    return {
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / "sero_ls").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


def test_artifacts_carry_every_package_file(dist: Path) -> None:
    names = {p.name for p in dist.iterdir()}
    wheel = f"sero_ls-{__version__}-py3-none-any.whl"
    sdist = f"sero_ls-{__version__}.tar.gz"
    vsix = f"sero-{__version__}.vsix"
    assert {wheel, sdist, vsix} <= names, names
    expected = package_files()
    assert {"sero_ls/py.typed", "sero_ls/proxy/uri_table.json"} <= expected
    in_wheel = set(zipfile.ZipFile(dist / wheel).namelist())
    assert expected <= in_wheel, expected - in_wheel
    with tarfile.open(dist / sdist) as tar:
        in_sdist = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    assert expected | {"pyproject.toml", "README.md"} <= in_sdist, expected - in_sdist
    assert "extension/dist/extension.js" in zipfile.ZipFile(dist / vsix).namelist()


def test_installed_wheel_runs_outside_the_checkout(installed: Path, tmp_path: Path) -> None:
    bin_dir = installed / "bin"
    where = run(
        [bin_dir / "python", "-c", "import sero_ls; print(sero_ls.__file__)"], cwd=tmp_path
    ).stdout
    assert where.startswith(str(installed)), where
    assert run([bin_dir / "sero-ls", "--version"]).stdout.strip() == f"sero-ls {__version__}"
    env = {**os.environ, "PATH": str(tmp_path / "no-runtimes"), "SERO_LS_STATE_DIR": str(tmp_path)}
    doctor = subprocess.run(
        [str(bin_dir / "sero-ls"), "doctor", "--json", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert doctor.returncode == 1, doctor.stderr  # degraded: no container runtime here
    [folder] = json.loads(doctor.stdout)["folders"]
    assert folder["reason"] == "container-cli-missing"


async def test_installed_wheel_proxies_a_server(installed: Path, tmp_path: Path) -> None:
    folder = tmp_path / "proj"
    folder.mkdir()
    trace = tmp_path / "trace.jsonl"
    argv = [str(installed / "bin" / "sero-ls"), "proxy", "--name", "echo", "--trace", str(trace)]
    argv += ["--", sys.executable, str(ECHO)]
    env = {**os.environ, "SERO_LS_STATE_DIR": str(tmp_path / "state")}
    async with RawClient.spawn(argv, env=env, cwd=str(folder)) as c:
        uri = path_to_uri(str(folder / "a.py"))
        init = {"processId": None, "rootUri": path_to_uri(str(folder)), "capabilities": {}}
        result = await c.initialize(init)
        assert result["capabilities"]["hoverProvider"]
        params = {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 0}}
        answer = await c.request("textDocument/hover", params)
        assert answer == {"echo": answer["echo"]}
        assert await c.shutdown_exit() == 0
    entries = [json.loads(line) for line in trace.read_text().splitlines()]
    legs = {(e["from"], e["to"], e["message"].get("method")) for e in entries}
    assert ("client", "sero-ls", "textDocument/hover") in legs
    assert ("sero-ls", "echo", "textDocument/hover") in legs
    assert ("echo", "sero-ls", None) in legs
