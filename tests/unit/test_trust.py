"""Workspace trust: what an untrusted .sero/config.toml holds back, the store, the
`sero-ls trust` command, and the TCP listening rules."""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import attrs
import pytest

from sero_ls.cli import trust as trust_cli
from sero_ls.lsp import tcp
from sero_ls.runtime.invoke import find_executable
from sero_ls.runtime.trust import TrustStore, folder_key
from sero_ls.settings import (
    EXECUTING_KEYS,
    EXECUTING_SERVER_KEYS,
    FIELDS,
    INERT_KEYS,
    INERT_SERVER_KEYS,
    ServerConfig,
    _camel,
    load_folder,
)
from tests.support.trust import own_state_dir, trust_folder
from tests.support.trust import write_config as write

HOSTILE = """\
# cloned from somewhere
runtime = "host"
image = "their-image:1"
probeTimeout = 2
containerCli = "./evil"

[servers.x]
languages = ["python"]
command = ["sh", "-c", "touch /tmp/owned; exec pylsp"]
env = { LD_PRELOAD = "./evil.so" }
"""


state = pytest.fixture(autouse=True)(own_state_dir)


def test_every_setting_is_classified() -> None:
    """A new setting must say whether a folder's config may set it before trust."""
    assert set(FIELDS) == EXECUTING_KEYS | INERT_KEYS
    assert not EXECUTING_KEYS & INERT_KEYS
    server_keys = {_camel(a.name) for a in attrs.fields(ServerConfig)}
    assert server_keys == EXECUTING_SERVER_KEYS | INERT_SERVER_KEYS
    assert not EXECUTING_SERVER_KEYS & INERT_SERVER_KEYS


def test_untrusted_config_holds_back_what_runs_and_applies_the_rest(tmp_path: Path) -> None:
    write(tmp_path, HOSTILE)
    settings, problems, info = load_folder(tmp_path)
    assert problems == []
    assert (settings.runtime, settings.image, settings.probe_timeout) == (
        "host",
        "their-image:1",
        2,
    )
    assert settings.container_cli is None and settings.servers == {}
    assert info is not None and info.state == "untrusted" and not info.changed
    assert info.ignored == ["containerCli", "servers.x.command", "servers.x.env"]
    assert info.line == 4  # containerCli
    assert info.sha256 == hashlib.sha256(HOSTILE.encode()).hexdigest()
    # The user's own settings (editor, initializationOptions) are trusted as today.
    own, _, _ = load_folder(tmp_path, init_settings={"containerCli": "/usr/bin/podman"})
    assert own.container_cli == "/usr/bin/podman"


def test_trusted_for_this_content_only(tmp_path: Path, state: Path) -> None:
    path = write(tmp_path, HOSTILE)
    trust_folder(tmp_path, state)
    settings, _, info = load_folder(tmp_path)
    assert info is not None and (info.state, info.ignored) == ("trusted", [])
    assert settings.container_cli == "./evil" and list(settings.servers) == ["x"]
    path.write_text(HOSTILE.replace("exec pylsp", "exec pyright"), encoding="utf-8")
    settings, _, info = load_folder(tmp_path)
    assert info is not None and (info.state, info.changed) == ("untrusted", True)
    assert settings.servers == {} and settings.container_cli is None


def test_line_of_a_server_key_and_nothing_to_trust(tmp_path: Path) -> None:
    write(tmp_path, 'image = "i"\n\n[servers.py]\nlanguages = ["python"]\ncommand = ["pylsp"]\n')
    _, _, info = load_folder(tmp_path)
    assert info is not None and info.ignored == ["servers.py.command"] and info.line == 4
    write(tmp_path, 'runtime = "host"\n')
    assert load_folder(tmp_path)[2] is None  # names nothing to run: no trust needed


def test_hash_is_of_the_bytes_crlf_included(tmp_path: Path) -> None:
    path = write(tmp_path, "")
    path.write_bytes(b'containerCli = "x"\r\n')
    _, _, info = load_folder(tmp_path)
    assert info is not None and info.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_store_keys_by_real_path_and_survives_garbage(tmp_path: Path, state: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    store = TrustStore()
    store.trust(tmp_path / "link", "ab" * 32)
    assert store.trusted_hash(real) == "ab" * 32
    assert store.revoke(real) and store.trusted_hash(real) is None
    (state / "trust.json").write_text("[not a map")
    assert store.load() == {}


def args(path: Path, **kw: object) -> argparse.Namespace:
    return argparse.Namespace(**{"path": str(path), "yes": False, "sha256": None,
                                 "revoke": False, **kw})  # fmt: skip


def test_trust_command_shows_what_it_trusts(tmp_path: Path) -> None:
    write(tmp_path, HOSTILE)
    (tmp_path / "sub").mkdir()
    out = io.StringIO()
    # Not a terminal (pytest's stdin): no question, as `direnv allow`.
    assert trust_cli.main(args(tmp_path / "sub"), out) == 0
    text = out.getvalue()
    sha = hashlib.sha256(HOSTILE.encode()).hexdigest()
    assert f"sha256 {sha}" in text
    assert 'servers.x.command = ["sh", "-c", "touch /tmp/owned; exec pylsp"]' in text
    assert 'containerCli = "./evil"' in text and "image" not in text
    assert TrustStore().trusted_hash(tmp_path) == sha
    out = io.StringIO()
    assert trust_cli.main(args(tmp_path, revoke=True), out) == 0
    assert "trust revoked" in out.getvalue() and TrustStore().trusted_hash(tmp_path) is None


def test_trust_command_pins_the_reviewed_content(tmp_path: Path) -> None:
    write(tmp_path, HOSTILE)
    ns = args(tmp_path)
    ns.sha256 = "0" * 64
    assert trust_cli.main(ns, io.StringIO()) == 1
    assert TrustStore().trusted_hash(tmp_path) is None
    ns.sha256 = hashlib.sha256(HOSTILE.encode()).hexdigest().upper()
    assert trust_cli.main(ns, io.StringIO()) == 0


def test_trust_command_asks_on_a_terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, HOSTILE)
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True, raising=False)
    asked: list[str] = []
    assert trust_cli.main(args(tmp_path), io.StringIO(), ask=lambda q: asked.append(q) or "") == 1
    assert asked and TrustStore().trusted_hash(tmp_path) is None
    assert trust_cli.main(args(tmp_path), io.StringIO(), ask=lambda q: "y") == 0
    assert TrustStore().trusted_hash(tmp_path) is not None


def trust_process(*argv: str, state: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sero_ls", "trust", *argv],
        capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60, check=False,
        env={**os.environ, "SERO_LS_STATE_DIR": str(state)},
    )  # fmt: skip


def test_trust_command_as_a_process(tmp_path: Path, state: Path) -> None:
    ws = tmp_path / "ws"
    write(ws, HOSTILE)
    ok = trust_process(str(ws / "src" / "main.py"), state=state)  # below the folder
    assert ok.returncode == 0, ok.stderr
    assert json.loads((state / "trust.json").read_text()).keys() == {folder_key(ws)}
    (tmp_path / "bare").mkdir()
    missing = trust_process(str(tmp_path / "bare"), state=state)
    assert missing.returncode == 2 and "no .sero/config.toml" in missing.stderr


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("::1", True), ("[::1]", True), ("localhost", True), ("", True),
     ("0.0.0.0", False), ("::", False), ("192.168.1.2", False), ("example.org", False)],
)  # fmt: skip
def test_loopback(host: str, loopback: bool) -> None:
    assert tcp.is_loopback(host) is loopback


def test_listen_rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(tcp.TOKEN_ENV, raising=False)
    assert tcp.check_listen("127.0.0.1", False, None) is None
    with pytest.raises(tcp.TcpUsageError, match="not a loopback address"):
        tcp.check_listen("0.0.0.0", False, None)
    with pytest.raises(tcp.TcpUsageError, match="needs a token"):
        tcp.check_listen("0.0.0.0", True, None)
    monkeypatch.setenv(tcp.TOKEN_ENV, "short")
    with pytest.raises(tcp.TcpUsageError, match="at least 16"):
        tcp.check_listen("0.0.0.0", True, None)
    token_file = tmp_path / "token"
    token_file.write_text("s3cret-s3cret-s3cret\n")
    assert tcp.check_listen("0.0.0.0", True, str(token_file)) == "s3cret-s3cret-s3cret"


def test_token_gate() -> None:
    gate = tcp.token_gate("s3cret-s3cret-s3cret")
    init = {"method": "initialize", "id": 1, "params": {"initializationOptions": {}}}
    assert gate({"method": "initialized"}) is not None
    assert gate(init) is not None
    init["params"]["initializationOptions"] = {"seroToken": "wrong", "settings": {}}  # type: ignore[index]
    assert gate(init) is not None
    opts = {"seroToken": "s3cret-s3cret-s3cret", "settings": {}}
    ok = {"method": "initialize", "id": 1, "params": {"initializationOptions": opts}}
    assert gate(ok) is None and opts == {"settings": {}}  # the token does not go further


def test_names_handed_to_the_clis_are_never_options(tmp_path: Path) -> None:
    write(tmp_path, 'image = "--format={{.Id}}"\ncontainer = "-it"\n')
    settings, problems, _ = load_folder(tmp_path)
    assert (settings.image, settings.container) == ("sero-node:latest", None)
    assert {p.key for p in problems} == {"image", "container"}
    assert all("not an option" in p.message for p in problems)


def test_cli_lookup_ignores_relative_path_entries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A clone's own `podman` is never found through an empty or `.` PATH entry."""
    evil = tmp_path / "podman"
    evil.write_text("#!/bin/sh\n")
    evil.chmod(0o755)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", os.pathsep.join(["", ".", "bin", str(tmp_path / "nothing")]))
    assert find_executable("podman") is None
    monkeypatch.setenv("PATH", str(tmp_path))
    assert find_executable("podman") == str(evil)


def test_warning_and_quick_fix_of_an_untrusted_config(tmp_path: Path) -> None:
    from sero_ls.lsp.commands import sero_code_actions
    from sero_ls.lsp.diagnostics import trust_diagnostics
    from sero_ls.runtime.model import FolderStatus

    write(tmp_path, HOSTILE)
    _, _, info = load_folder(tmp_path)
    status = FolderStatus(uri="file:///w", name="w", requested="auto", mode="host",
                          degraded=False, reason=None, message="", trust=info)  # fmt: skip
    (diag,) = trust_diagnostics(status)
    assert diag.range.start.line == 4 and diag.code == "untrusted-config"
    assert "containerCli, servers.x.command, servers.x.env" in diag.message
    (fix,) = sero_code_actions([diag])
    assert fix.command is not None and fix.command.command == "sero.trustFolder"
    assert fix.command.arguments == ["file:///w", info.sha256 if info else None]
    assert trust_diagnostics(attrs.evolve(status, trust=None)) == []
    trusted = attrs.evolve(status, trust=attrs.evolve(info, state="trusted", ignored=[]))
    assert trust_diagnostics(trusted) == []
