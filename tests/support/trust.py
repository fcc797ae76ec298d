"""Trusting a test folder's `.sero/config.toml` explicitly, as a user would with
`sero-ls trust`: the entry goes to the trust store under a per-test state folder
(the SERO_LS_STATE_DIR the test's sero-ls processes get)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from sero_ls.runtime.trust import TrustStore


def write_config(folder: Path, text: str) -> Path:
    """Write ``folder``'s `.sero/config.toml`; its path."""
    (folder / ".sero").mkdir(parents=True, exist_ok=True)
    path = folder / ".sero" / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def own_state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """(a fixture body) SERO_LS_STATE_DIR of this test's own: its trust store and toggles."""
    monkeypatch.setenv("SERO_LS_STATE_DIR", str(tmp_path / "state"))
    return tmp_path / "state"


def trust_folder(folder: Path, state_dir: Path) -> str:
    """Trust ``folder``'s current `.sero/config.toml` in the store under ``state_dir``;
    its sha256. Call it again after rewriting the file (an edit revokes the trust)."""
    sha256 = hashlib.sha256((folder / ".sero" / "config.toml").read_bytes()).hexdigest()
    TrustStore(state_dir / "trust.json").trust(folder, sha256)
    return sha256
