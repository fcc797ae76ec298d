"""Run every benchmark in turn (`make bench`); each prints its own table and the
command that reproduces it. Needs `scripts/setup --test` (podman, pylsp)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = [
    ["bench_urimap.py"],
    ["bench_startup.py"],
    ["bench_proxy.py"],
    ["bench_route.py"],
    ["bench_status.py"],
    ["bench_status_cli.py"],
    ["bench_container.py"],
    ["bench_resilience.py"],
]


def main() -> int:
    failed = 0
    for argv in BENCHES:
        print(f"\n## {argv[0]}\n", flush=True)
        code = subprocess.call([sys.executable, str(HERE / argv[0]), *argv[1:]], cwd=HERE.parent)
        failed += code != 0
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
