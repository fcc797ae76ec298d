"""Capability and settings diagnostics (CONTRACT §5), as plain functions of status."""

from __future__ import annotations

from lsprotocol import types

from sero_ls.runtime.capabilities import CONTAINER_ONLY, unavailable
from sero_ls.runtime.model import FolderStatus
from sero_ls.settings import CONFIG_FILE, SettingsProblem

SOURCE = "sero"


def folder_diagnostics(status: FolderStatus) -> list[types.Diagnostic]:
    """A Warning on the folder when degraded or stale (with what is lost and the fix)."""
    if not status.degraded and status.reason != "container-stale":
        return []
    lost = unavailable(status.capabilities)
    lines = [status.message]
    if status.degraded and lost:
        lines.append("Unavailable: " + ", ".join(f"{c} ({CONTAINER_ONLY[c]})" for c in lost) + ".")
    if status.remedy:
        lines.append("Fix: " + " ; ".join(status.remedy))
    return [
        types.Diagnostic(
            range=types.Range(types.Position(0, 0), types.Position(0, 0)),
            message="\n".join(lines),
            severity=types.DiagnosticSeverity.Warning,
            source=SOURCE,
            code=status.reason or "degraded",
            data={"folderUri": status.uri, "remedy": status.remedy, "unavailable": lost},
        )
    ]


def config_uri(folder_uri: str) -> str:
    return folder_uri.rstrip("/") + "/" + CONFIG_FILE.as_posix()


def settings_diagnostics(problems: list[SettingsProblem]) -> list[types.Diagnostic]:
    """Diagnostics on `.sero/config.toml` for problems found in it."""
    out = []
    for p in problems:
        if p.source != str(CONFIG_FILE):
            continue
        line = p.line or 0
        out.append(
            types.Diagnostic(
                range=types.Range(types.Position(line, 0), types.Position(line, 1000)),
                message=f"{p.message} (the default applies)",
                severity=types.DiagnosticSeverity.Error
                if p.severity == "error"
                else types.DiagnosticSeverity.Warning,
                source=SOURCE,
                code="invalid-setting" if p.severity == "error" else "unknown-setting",
            )
        )
    return out


UNTRUSTED = "untrusted-config"


def trust_diagnostics(status: FolderStatus | None) -> list[types.Diagnostic]:
    """A Warning on `.sero/config.toml`, at its first key that runs something, while the
    file is not trusted (its quick fix trusts it: lsp/commands.py)."""
    t = status.trust if status else None
    if status is None or t is None or t.state != "untrusted":
        return []
    why = "changed since it was trusted" if t.changed else "not trusted"
    return [
        types.Diagnostic(
            range=types.Range(types.Position(t.line, 0), types.Position(t.line, 1000)),
            message=f"This folder's sero config is {why}: sero-ls ignores "
            f"{', '.join(t.ignored)} and runs nothing it names until you trust it "
            "(the quick fix, or `sero-ls trust`). The other settings apply.",
            severity=types.DiagnosticSeverity.Warning,
            source=SOURCE,
            code=UNTRUSTED,
            data={"folderUri": status.uri, "sha256": t.sha256, "ignored": t.ignored},
        )
    ]


def server_diagnostics(status: FolderStatus) -> list[types.Diagnostic]:
    """A language server that could not run (or gave up after crashes), with the retry."""
    out = []
    for srv in status.servers:
        if srv.state != "failed" and srv.reason != "server-missing-in-container":
            continue
        failed = srv.state == "failed"
        text = (
            f"Language server {srv.id} is not running: {srv.message or srv.reason}."
            if failed
            else f"Language server {srv.id}: {srv.message}."
        )
        out.append(
            types.Diagnostic(
                range=types.Range(types.Position(0, 0), types.Position(0, 0)),
                message=text,
                severity=types.DiagnosticSeverity.Error
                if failed
                else types.DiagnosticSeverity.Information,
                source=SOURCE,
                code=srv.reason or "server-failed",
                data={"folderUri": status.uri, "serverId": srv.id},
            )
        )
    return out
