"""`sero-ls status`: the line, exit codes, folder rule, the cache, and the real process
(no container runtime; a hung CLI; --watch on signals and closed pipes)."""

from __future__ import annotations

import configparser
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from sero_ls.cli import statusline as st
from sero_ls.runtime import status_cache
from sero_ls.runtime.model import FolderStatus, RuntimeInfo
from sero_ls.uris import path_to_uri
from tests.support.status_cli import (
    LineReader,
    assert_exits_quietly,
    run_status,
    sample_status,
    status_argv,
    status_env,
    write_entry,
)
from tests.support.trust import trust_folder

# ---- the line and the exit code


def test_render_fields_and_optional_parts(tmp_path: Path) -> None:
    ok = sample_status(tmp_path)
    assert st.render(st.DEFAULT_FORMAT, ok) == "⬢ container"
    assert st.render("{mode}{degraded?}{reason?} {backend}/{container}", ok) == (
        "container podman/sero-proj"
    )
    assert st.render("{degraded} {{x}} {name}", ok) == f"false {{x}} {tmp_path.name}"

    down = sample_status(tmp_path, mode="host", reason="container-not-running", container=None)
    assert st.render(st.DEFAULT_FORMAT, down) == "⚠ host, degraded: container-not-running"
    assert st.render("{mode}{degraded?}{reason?}[{container}]", down, "ascii") == (
        "host degraded container-not-running[]"
    )
    assert st.render("{icon}", down, "ascii") == "[!]"

    chosen = sample_status(
        tmp_path, mode="host", reason="runtime-host-selected", requested="host", container=None
    )
    assert st.render(st.DEFAULT_FORMAT, chosen) == "⌂ host"
    assert st.render("{path}", chosen) == str(tmp_path)

    stale = sample_status(tmp_path, reason="container-stale")
    assert st.render("{summary}", stale) == "container (container-stale)"


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({}, st.EXIT_CONTAINER),
        ({"reason": "container-stale"}, st.EXIT_CONTAINER),
        ({"mode": "host", "reason": "container-missing"}, st.EXIT_DEGRADED),
        ({"mode": "host", "reason": "probe-failed"}, st.EXIT_DEGRADED),
        (
            {"mode": "host", "reason": "runtime-host-selected", "requested": "host"},
            st.EXIT_HOST,
        ),
    ],
)
def test_exit_codes(tmp_path: Path, kwargs: dict[str, str], code: int) -> None:
    assert st.exit_code(sample_status(tmp_path, **kwargs)) == code  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["{nope}", "{mode", "mode}", "{Mode}"])
def test_bad_templates_are_usage_errors(bad: str) -> None:
    with pytest.raises(st.UsageError):
        st.check_template(bad)


def test_change_ignores_checked_at(tmp_path: Path) -> None:
    a = sample_status(tmp_path)
    assert st.comparable(a) == st.comparable({**a, "checkedAt": "2030-01-01T00:00:00Z"})
    assert st.comparable(a) != st.comparable({**a, "reason": "container-stale"})


# ---- the folder rule


def test_folder_is_the_nearest_marked_or_known_ancestor(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    deep = repo / "src" / "pkg"
    deep.mkdir(parents=True)
    (repo / ".git").mkdir()
    file = deep / "mod.py"
    file.write_text("")
    never = lambda p: False  # noqa: E731
    assert st.find_folder(str(deep), never) == str(repo)
    assert st.find_folder(str(file), never) == str(repo)
    (repo / "src" / ".sero").mkdir()
    assert st.find_folder(str(deep), never) == str(repo / "src")
    assert st.find_folder(str(deep), lambda p: p == str(deep)) == str(deep)
    loose = tmp_path / "loose"
    loose.mkdir()
    if not any((Path(p) / ".git").exists() for p in loose.parents):
        assert st.find_folder(str(loose), never) == str(loose)


# ---- the cache


def test_cache_round_trip_atomic_and_foreign_files(tmp_path: Path) -> None:
    base = tmp_path / "cache"
    folder = str(tmp_path / "w")
    assert status_cache.read(folder, base) is None
    status_cache.write(folder, {"mode": "host"}, base=base, now=100.0)
    entry = status_cache.read(folder, base)
    assert entry is not None and entry.status == {"mode": "host"} and entry.writer == "cli"
    assert entry.age(now=103.0) == 3.0
    assert [p.name for p in base.iterdir()] == [status_cache.entry_path(folder, base).name]
    status_cache.entry_path(folder, base).write_text("{half")
    assert status_cache.read(folder, base) is None
    other = {"path": "/elsewhere", "writtenAt": 1, "status": {}}
    status_cache.entry_path(folder, base).write_text(json.dumps(other))
    assert status_cache.read(folder, base) is None


def test_freshness_by_age_or_a_live_server() -> None:
    def entry(writer: str, pid: int) -> status_cache.Entry:
        return status_cache.Entry("/w", {}, written_at=1000.0, writer=writer, pid=pid)

    assert entry("cli", os.getpid()).fresh(5, now=1004.0)
    assert not entry("cli", os.getpid()).fresh(5, now=1006.0)
    assert entry("server", os.getpid()).fresh(5, now=99999.0)  # it pushes every change
    dead = subprocess.Popen(["true"])
    dead.wait()
    assert not entry("server", dead.pid).fresh(5, now=1006.0)


def test_server_hook_stores_pushed_statuses(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SERO_LS_CACHE_DIR", str(tmp_path / "c"))
    s = FolderStatus(
        uri=path_to_uri(str(tmp_path / "a b")),
        name="a b",
        requested="auto",
        mode="host",
        degraded=True,
        reason="container-missing",
        message="m",
        runtime=RuntimeInfo(),
    )
    status_cache.store_statuses([s])
    entry = status_cache.read(str(tmp_path / "a b"))
    assert entry is not None and entry.writer == "server" and entry.pid == os.getpid()
    assert entry.status["reason"] == "container-missing"
    # The folder leaves the workspace: the next push releases it to age-bounded freshness.
    status_cache.store_statuses([])
    released = status_cache.read(str(tmp_path / "a b"))
    assert released is not None and released.writer == "cli"
    assert released.written_at == entry.written_at and not released.fresh(5, now=time.time() + 6)


def test_probe_lock_lets_one_caller_probe(tmp_path: Path) -> None:
    with status_cache.probe_lock("/w", 1, tmp_path) as first:
        assert first
        t0 = time.monotonic()
        with status_cache.probe_lock("/w", 0.2, tmp_path) as second:
            assert not second
        assert time.monotonic() - t0 >= 0.2
    with status_cache.probe_lock("/w", 0, tmp_path) as again:
        assert again


# ---- the real process


def _no_runtime(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    ws = tmp_path / "ws é"
    (ws / ".sero").mkdir(parents=True)
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    return ws, status_env(tmp_path, path=str(empty))


def test_no_runtime_degraded_line_then_cached(tmp_path: Path) -> None:
    ws, env = _no_runtime(tmp_path)
    (ws / "sub").mkdir()
    first = run_status("--format", "{icon} {mode}{degraded?} {reason}", str(ws / "sub"), env=env)
    assert (first.returncode, first.stdout, first.stderr) == (
        st.EXIT_DEGRADED,
        "⚠ host degraded container-cli-missing\n",
        "",
    )
    entry = status_cache.read(str(ws), Path(env["SERO_LS_CACHE_DIR"]))
    assert entry is not None and entry.status["reason"] == "container-cli-missing"
    # A fresh entry is the answer (no probe): make it say something no probe here could.
    write_entry(env, ws, sample_status(ws))
    cached = run_status("--json", str(ws), env=env)
    assert cached.returncode == st.EXIT_CONTAINER
    assert json.loads(cached.stdout)["runtime"]["container"]["id"] == "sero-proj"
    # Older than --max-age: probed again.
    write_entry(env, ws, sample_status(ws), age=10)
    again = run_status("--format", "{reason}", str(ws), env=env)
    assert (again.returncode, again.stdout) == (st.EXIT_DEGRADED, "container-cli-missing\n")


def test_host_by_choice_and_usage_errors(tmp_path: Path) -> None:
    ws, env = _no_runtime(tmp_path)
    (ws / ".sero" / "config.toml").write_text('runtime = "host"\n')
    out = run_status(str(ws), "--icons", "ascii", env=env)
    assert (out.returncode, out.stdout) == (st.EXIT_HOST, "[H] host\n")
    for args in (["--format", "{bogus}", str(ws)], [str(ws / "missing")], ["--max-age", "x"]):
        bad = run_status(*args, env=env)
        assert bad.returncode == st.EXIT_USAGE and bad.stdout == "", args
        assert "sero-ls status" in bad.stderr or "usage:" in bad.stderr


def test_help_documents_exit_codes(tmp_path: Path) -> None:
    out = run_status("--help", env=status_env(tmp_path))
    assert out.returncode == 0
    for line in ("0  container mode", "1  degraded", "2  usage error", "3  host mode by choice"):
        assert line in out.stdout


def _hung_cli(tmp_path: Path, ws: Path, timeout: float) -> Path:
    log = tmp_path / "calls.log"
    cli = tmp_path / "bin" / "podman"
    cli.parent.mkdir()
    cli.write_text(f'#!/bin/sh\necho "$*" >> "{log}"\nexec sleep 600\n')
    cli.chmod(cli.stat().st_mode | stat.S_IXUSR)
    (ws / ".sero" / "config.toml").write_text(
        f'containerBackend = "podman"\ncontainerCli = "{cli}"\nprobeTimeout = {timeout}\n'
    )
    trust_folder(ws, tmp_path / "state")  # the user's own folder: its containerCli may run
    return log


def test_hung_cli_is_bounded_and_probed_once_by_concurrent_calls(tmp_path: Path) -> None:
    ws, env = _no_runtime(tmp_path)
    log = _hung_cli(tmp_path, ws, 1.0)
    t0 = time.monotonic()
    procs = [
        subprocess.Popen(
            status_argv("--format", "{reason}", str(ws)),
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outs = [p.communicate(timeout=20)[0] for p in procs]
    elapsed = time.monotonic() - t0
    # A hung `podman ps -a` reads as a system that does not answer (the backend's check).
    assert len(set(outs)) == 1
    assert outs[0] in ("probe-failed\n", "container-system-not-running\n")
    assert [p.returncode for p in procs] == [st.EXIT_DEGRADED] * 3
    assert elapsed < 8, elapsed  # one bounded probe (1 s) plus interpreter starts
    # one probe for three calls
    assert log.read_text().splitlines() == ["ps -a --no-trunc --format json"]
    t0 = time.monotonic()
    assert run_status("--format", "{reason}", str(ws), env=env).stdout == outs[0]
    assert time.monotonic() - t0 < 3  # answered from the cache, no second wait


def _watch(env: dict[str, str], ws: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        status_argv("--watch", *args, str(ws)),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_watch_follows_a_server_entry_and_stops_on_signals(tmp_path: Path, sig: int) -> None:
    ws, env = _no_runtime(tmp_path)
    write_entry(env, ws, sample_status(ws), writer="server", age=3600)  # we are its live "server"
    proc = _watch(env, ws, "--format", "{mode}{degraded?}")
    try:
        assert proc.stdout is not None
        lines = LineReader(proc.stdout.fileno())
        assert lines.readline() == "container"
        down = sample_status(ws, mode="host", reason="container-not-running")
        write_entry(env, ws, down, writer="server")
        assert lines.readline() == "host degraded"
        write_entry(env, ws, {**down, "checkedAt": "2031-01-01T00:00:00Z"}, writer="server")
        write_entry(env, ws, sample_status(ws), writer="server")
        assert lines.readline() == "container"  # the time alone printed nothing
        proc.send_signal(sig)
        assert_exits_quietly(proc)
    finally:
        proc.kill()
        proc.wait()


def test_watch_json_lines(tmp_path: Path) -> None:
    ws, env = _no_runtime(tmp_path)
    write_entry(env, ws, sample_status(ws), writer="server")
    proc = _watch(env, ws, "--json")
    try:
        assert proc.stdout is not None
        first = json.loads(LineReader(proc.stdout.fileno()).readline())
        assert first["mode"] == "container" and first["uri"] == path_to_uri(str(ws))
    finally:
        proc.terminate()
        assert proc.wait(timeout=5) == 0


def test_watch_ends_when_its_reader_goes_away(tmp_path: Path) -> None:
    """`sero-ls status --watch | head -1`, as argv lists: both ends finish, quietly."""
    ws, env = _no_runtime(tmp_path)  # no runtime: the watcher probes itself
    watch = _watch(env, ws, "--format", "{mode}{degraded?}", "--interval", "0.5")
    head = subprocess.Popen(["head", "-1"], stdin=watch.stdout, stdout=subprocess.PIPE)
    assert watch.stdout is not None
    watch.stdout.close()
    try:
        out, _ = head.communicate(timeout=20)
        assert out == b"host degraded\n"
        assert_exits_quietly(watch)
    finally:
        watch.kill()
        watch.wait()


# ---- the snippets in editors/statusbar/, run as their hosts run them (a shell command)

SNIPPETS = Path(__file__).resolve().parents[2] / "editors" / "statusbar"


def _need(tool: str) -> None:
    if shutil.which(tool) is None:
        message = f"{tool} is not installed (run: bash scripts/setup --test)"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


@pytest.fixture
def proj(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """~/src/proj (the snippets' example folder) with a live server's entry: container."""
    home = tmp_path / "home"
    ws = home / "src" / "proj"
    (ws / ".sero").mkdir(parents=True)
    bin_dir = str(Path(sys.executable).parent)  # `sero-ls` of this venv
    env = status_env(
        tmp_path, path=f"{bin_dir}:{os.environ['PATH']}", HOME=str(home), LANG="C.UTF-8"
    )
    write_entry(env, ws, sample_status(ws), writer="server")
    return ws, env


def _first_line(argv: list[str], env: dict[str, str]) -> str:
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, start_new_session=True)
    try:
        assert proc.stdout is not None
        return LineReader(proc.stdout.fileno()).readline(timeout=15)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=5)


def test_starship_module(proj: tuple[Path, dict[str, str]]) -> None:
    ws, env = proj
    conf = tomllib.loads((SNIPPETS / "starship.toml").read_text())["custom"]["sero"]
    assert conf["detect_folders"] == [".sero"] and conf["ignore_timeout"] is True
    out = subprocess.run(
        conf["shell"], input=conf["command"], cwd=ws, env=env, capture_output=True, text=True
    )
    assert (out.returncode, out.stdout) == (0, "⬢ container\n")


def test_waybar_module_prints_json_lines(proj: tuple[Path, dict[str, str]]) -> None:
    ws, env = proj
    text = re.sub(r"^\s*//.*$", "", (SNIPPETS / "waybar.jsonc").read_text(), flags=re.M)
    conf = json.loads(text)["custom/sero"]
    assert conf["return-type"] == "json"
    line = _first_line(["sh", "-c", conf["exec"]], env)
    assert json.loads(line) == {"text": "⬢ container", "class": "container", "alt": "container"}
    write_entry(
        env, ws, sample_status(ws, mode="host", reason="container-missing"), writer="server"
    )
    line = _first_line(["sh", "-c", conf["exec"]], env)
    assert json.loads(line)["class"] == "degraded"


def test_polybar_module(proj: tuple[Path, dict[str, str]]) -> None:
    parser = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=None)
    parser.read(SNIPPETS / "polybar.ini")
    module = parser["module/sero"]
    assert module["tail"] == "true"
    assert _first_line(["sh", "-c", module["exec"]], proj[1]) == "[C] container"


def test_i3blocks_block_with_real_i3blocks(proj: tuple[Path, dict[str, str]]) -> None:
    _need("i3blocks")
    ws, env = proj
    proc = subprocess.Popen(
        ["i3blocks", "-c", str(SNIPPETS / "i3blocks.conf")],
        env={**env, "SERO_FOLDER": str(ws)},
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        lines = LineReader(proc.stdout.fileno())
        found, _ = lines.wait_for(lambda line: '"full_text":"⬢ container"' in line, timeout=15)
        assert '"name":"sero"' in found
        write_entry(
            env, ws, sample_status(ws, mode="host", reason="container-missing"), writer="server"
        )
        lines.wait_for(lambda line: "⚠ host, degraded: container-missing" in line, timeout=15)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=5)


def test_swiftbar_plugin(proj: tuple[Path, dict[str, str]]) -> None:
    ws, env = proj
    plugin = SNIPPETS / "swiftbar" / "sero-status.5s.sh"
    assert os.access(plugin, os.X_OK)
    env = {**env, "SERO_FOLDER": str(ws)}
    out = subprocess.run(["bash", str(plugin)], env=env, capture_output=True, text=True)
    lines = out.stdout.splitlines()
    assert out.returncode == 0 and lines[:3] == ["⬢ container", "---", str(ws)]
    assert "Backend: podman, container sero-proj" in lines
    assert not [ln for ln in lines if ln.startswith("Fix:")]  # no remedy, no line
    down = sample_status(ws, mode="host", reason="container-not-running")
    down["remedy"] = ["podman start sero-proj"]
    write_entry(env, ws, down, writer="server")
    lines = subprocess.run(["bash", str(plugin)], env=env, capture_output=True, text=True)
    lines = lines.stdout.splitlines()
    assert lines[0] == "⚠ host | color=#d9822b"
    assert "Fix: podman start sero-proj | font=Menlo" in lines
