"""sero_ls/runtime/zombies.py: reading zombies from /proc/<pid>/stat lines."""

from __future__ import annotations

from sero_ls.runtime.zombies import Zombie, describe, parse_stat

# `cat /proc/[0-9]*/stat` in a container under `sleep infinity` (proc(5)'s format, fields cut
# after 22), with a command name holding a space and parentheses (comm may hold both).
STAT = """1 (sleep) S 0 1 1 0 -1 4194560 112 0 0 0 0 0 0 0 20 0 1 0 7415 2641920
14 (sleep) Z 1 13 13 0 -1 4227084 98 0 0 0 0 0 0 0 20 0 1 0 7476 0 0 18446744073709551615
21 (tsserver (x) z) Z 1 20 20 0 -1 4227084 98 0 0 0 0 0 0 0 20 0 1 0 7500 0 0 0
22 (cat) R 0 22 22 0 -1 4194304 91 0 0 0 0 0 0 0 20 0 1 0 7533 2564096 208 0
garbage line
"""


def test_zombies_are_the_z_state_lines() -> None:
    assert parse_stat(STAT) == [Zombie(14, "sleep", 1), Zombie(21, "tsserver (x) z", 1)]
    assert parse_stat("") == []


def test_the_doctor_line_counts_and_names_them() -> None:
    text = describe(parse_stat(STAT))
    assert text.startswith("2 zombie processes (sleep, tsserver (x) z; parent pid 1)")
    assert "--init" in text
    assert describe([Zombie(5, "node", 1)]).startswith("1 zombie process (node;")
