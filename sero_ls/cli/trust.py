"""`sero-ls trust [PATH] [--yes] [--sha256 H] [--revoke]`: let a folder's
`.sero/config.toml` run what it names (its current content only).

Let the folder's `.sero/config.toml` run what it names, for its current content only:
it prints the file's path, its sha256 and every entry that makes sero-ls run something,
then trusts exactly that content (an edit of the file revokes it). On a terminal it
asks first (default: no) unless `--yes`; without a terminal it does not ask: running
the command is the consent, as with `direnv allow` (a script can pin the content it
reviewed with `--sha256`).
Running servers pick the change up by themselves (their next status check).

Exit status: 0 trusted or revoked; 1 declined, or `--sha256` does not match;
2 usage (no `.sero/config.toml` at PATH or above it).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, TextIO

from sero_ls.runtime.trust import TrustStore, folder_key
from sero_ls.settings import CONFIG_FILE, executing_entries, read_config_toml

EXIT_OK, EXIT_NO, EXIT_USAGE = 0, 1, 2


def add_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "trust",
        help="let the folder's .sero/config.toml run what it names (this content only)",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("path", nargs="?", metavar="PATH", help="the folder, or below it (default: .)")
    p.add_argument("-y", "--yes", action="store_true", help="do not ask on a terminal")
    p.add_argument(
        "--sha256", metavar="HASH", help="trust only if the file's content has this sha256"
    )
    p.add_argument("--revoke", action="store_true", help="forget the folder's trust")


def find_config_folder(path: str) -> Path | None:
    """PATH or its nearest ancestor holding `.sero/config.toml`."""
    d = Path(os.path.abspath(path))
    if not d.is_dir():
        d = d.parent
    for candidate in (d, *d.parents):
        if (candidate / CONFIG_FILE).is_file():
            return candidate
    return None


def main(args: argparse.Namespace, out: TextIO | None = None, ask: Any = None) -> int:
    out = out or sys.stdout
    path = args.path or os.getcwd()
    store = TrustStore()
    if args.revoke:
        where = find_config_folder(path) or Path(path)
        gone = store.revoke(where)
        out.write(f"{folder_key(where)}: {'trust revoked' if gone else 'was not trusted'}\n")
        return EXIT_OK
    folder = find_config_folder(path)
    if folder is None:
        sys.stderr.write(f"sero-ls trust: no {CONFIG_FILE} in {path} or above it\n")
        return EXIT_USAGE
    table, problems, _, sha256 = read_config_toml(folder)
    if sha256 is None:  # unreadable: nothing to hash
        sys.stderr.write(f"sero-ls trust: {problems[0].message if problems else 'unreadable'}\n")
        return EXIT_USAGE
    config = folder / CONFIG_FILE
    out.write(f"{config}\n  sha256 {sha256}\n")
    entries = executing_entries(table or {})
    if entries:
        out.write("  once trusted, sero-ls runs or passes on:\n")
        for key, value in entries:
            out.write(f"    {key} = {json.dumps(value, ensure_ascii=False)}\n")
    else:
        out.write("  it names nothing to run (trusting it changes nothing now)\n")
    for p in problems:
        out.write(f"  note: {p.message}\n")
    if args.sha256 and args.sha256.lower() != sha256:
        sys.stderr.write(f"sero-ls trust: the file's sha256 is {sha256}, not {args.sha256}\n")
        return EXIT_NO
    if not args.yes and sys.stdin.isatty():
        answer = (ask or input)(f"Trust {config} with this content? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            out.write("not trusted\n")
            return EXIT_NO
    # What is stored is the hash of the bytes shown above, not of a later read.
    store.trust(folder, sha256)
    out.write(f"trusted {folder_key(folder)} (until {CONFIG_FILE} changes)\n")
    return EXIT_OK


def trust_current(folder: Path, expected: str | None, store: TrustStore | None = None) -> str:
    """Trust the folder's config as it is now (for `sero/trustFolder`); its sha256.

    ValueError when there is no readable file, or its hash is not ``expected``."""
    _, problems, _, sha256 = read_config_toml(folder)
    if sha256 is None:
        missing = f"{folder / CONFIG_FILE}: no such file"
        raise ValueError(problems[0].message if problems else missing)
    if expected is not None and expected.lower() != sha256:
        raise ValueError(
            f"{folder / CONFIG_FILE} changed: its sha256 is {sha256}, not {expected} "
            "(review it again)"
        )
    (store or TrustStore()).trust(folder, sha256)
    return sha256
