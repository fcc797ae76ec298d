"""The persisted per-folder runtime toggle (`sero/setRuntime`), per user, outside the repo."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sero_ls.runtime.toggles import ToggleStore, state_dir


def test_state_dir_sources(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SERO_LS_STATE_DIR", str(tmp_path / "explicit"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert state_dir() == tmp_path / "explicit"
    monkeypatch.delenv("SERO_LS_STATE_DIR")
    assert state_dir() == tmp_path / "xdg" / "sero-ls"
    monkeypatch.delenv("XDG_STATE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert state_dir() == tmp_path / "home" / ".local" / "state" / "sero-ls"
    monkeypatch.setenv("SERO_LS_STATE_DIR", str(tmp_path / "explicit"))
    assert ToggleStore().path == tmp_path / "explicit" / "runtime.json"


def test_set_get_persist_per_folder(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "state" / "runtime.json"
    store = ToggleStore(path)
    assert store.load() == {} and store.get("/a") is None
    store.set("/a", "host")
    store.set("/b b/é", "container")
    store.set("/a", "auto")  # "auto" is kept: it must win over a runtime in .sero/config.toml
    again = ToggleStore(path)  # a new process reads the same file
    assert again.load() == {"/a": "auto", "/b b/é": "container"}
    assert again.get("/b b/é") == "container"
    assert json.loads(path.read_text(encoding="utf-8")) == again.load()
    assert [p.name for p in path.parent.iterdir()] == ["runtime.json"]  # no temp files left


@pytest.mark.parametrize(
    "content",
    ["{not json", "[1, 2]", '"host"', ""],
)
def test_unreadable_or_wrong_file_is_empty(tmp_path: Path, content: str) -> None:
    path = tmp_path / "runtime.json"
    path.write_text(content, encoding="utf-8")
    store = ToggleStore(path)
    assert store.load() == {}
    store.set("/a", "host")  # and it is replaced by a good one
    assert ToggleStore(path).load() == {"/a": "host"}


def test_invalid_values_are_dropped(tmp_path: Path) -> None:
    path = tmp_path / "runtime.json"
    path.write_text(json.dumps({"/a": "cloud", "/b": "host", "/c": 3, "/d": None}))
    assert ToggleStore(path).load() == {"/b": "host"}
