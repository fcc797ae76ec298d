"""Settings (CONTRACT §6): sources merged in order, validated key by key, never crashing."""

from __future__ import annotations

from pathlib import Path

import pytest

from sero_ls.settings import Settings, SettingsProblem, folder_settings, key_line, merge
from tests.support.trust import own_state_dir, trust_folder
from tests.support.trust import write_config as write_toml

state_dir = pytest.fixture(autouse=True)(own_state_dir)  # servers in a config need trust


def test_defaults() -> None:
    s, problems = merge([])
    assert problems == []
    assert s == Settings()
    assert (s.runtime, s.container_backend, s.container_cli, s.container) == (
        "auto",
        "auto",
        None,
        None,
    )
    assert (s.image, s.probe_timeout, s.servers) == ("sero-node:latest", 5.0, {})


def test_merge_order_later_wins_key_by_key(tmp_path: Path) -> None:
    write_toml(tmp_path, 'image = "from-toml:1"\nruntime = "container"\n')
    s, problems = folder_settings(
        tmp_path,
        init_settings={"runtime": "host", "image": "from-init:1", "probeTimeout": 2,
                       "containerBackend": "docker"},
        client_settings={"image": "from-client:1", "container": "c1", "runtime": "auto"},
        toggle="host",
    )  # fmt: skip
    assert problems == []
    assert s.container_backend == "docker"  # only initializationOptions said it
    assert s.probe_timeout == 2.0
    assert s.container == "c1"  # workspace/configuration over initializationOptions
    assert s.image == "from-toml:1"  # .sero/config.toml over both
    assert s.runtime == "host"  # the sero/setRuntime toggle over everything


def test_toggle_auto_still_overrides_the_toml(tmp_path: Path) -> None:
    write_toml(tmp_path, 'runtime = "host"\n')
    assert folder_settings(tmp_path)[0].runtime == "host"
    assert folder_settings(tmp_path, toggle="auto")[0].runtime == "auto"


def test_invalid_value_falls_back_and_names_key_and_problem() -> None:
    s, problems = merge(
        [("initializationOptions", {"runtime": "sometimes", "probeTimeout": 3, "image": 5})]
    )
    assert (s.runtime, s.probe_timeout, s.image) == ("auto", 3.0, "sero-node:latest")
    by_key = {p.key: p for p in problems}
    assert set(by_key) == {"runtime", "image"}
    assert "sometimes" in by_key["runtime"].message and "auto, container, host" in (
        by_key["runtime"].message
    )
    assert by_key["image"].message.startswith("image:") and "5" in by_key["image"].message
    assert all(p.severity == "error" and p.source == "initializationOptions" for p in problems)


def test_invalid_later_value_keeps_the_earlier_one() -> None:
    s, problems = merge([("a", {"runtime": "host"}), ("b", {"runtime": "bad"})])
    assert s.runtime == "host"
    assert [(p.key, p.source) for p in problems] == [("runtime", "b")]


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("probeTimeout", "5", "expected a number"),
        ("probeTimeout", True, "expected a number"),
        ("probeTimeout", 0, "between 0 and 600"),
        ("probeTimeout", 601, "between 0 and 600"),
        ("pollInterval", -1, "between 0 and 600"),
        ("runtime", 1, "must be one of"),
        ("containerBackend", "lxc", "auto, apple, docker, podman"),
        ("containerCli", 7, "expected a string"),
        ("container", ["x"], "expected a string"),
        ("image", None, "must not be null"),
        ("dockerfile", 3, "expected a string"),
        ("servers", ["pylsp"], "table of servers"),
    ],
)
def test_strict_types(key: str, value: object, words: str) -> None:
    s, problems = merge([("initializationOptions", {key: value})])
    assert s == Settings()
    (p,) = problems
    assert p.key == key and words in p.message and p.message.startswith(f"{key}:")


def test_nullable_keys_accept_null_and_numbers_accept_ints() -> None:
    s, problems = merge([("x", {"containerCli": None, "container": None, "probeTimeout": 1})])
    assert problems == [] and s.probe_timeout == 1.0 and isinstance(s.probe_timeout, float)


def test_unknown_keys_are_warnings() -> None:
    s, problems = merge([("workspace/configuration", {"runtim": "host", "image": "x:1"})])
    assert s.image == "x:1" and s.runtime == "auto"
    (p,) = problems
    assert (p.key, p.severity, p.source) == ("runtim", "warning", "workspace/configuration")
    assert "unknown setting 'runtim'" in p.message


def test_a_layer_that_is_not_an_object() -> None:
    s, problems = merge([("initializationOptions", ["runtime", "host"])])  # type: ignore[list-item]
    assert s == Settings()
    assert problems == [
        SettingsProblem("sero", "settings must be an object", "initializationOptions")
    ]


def test_servers_entries() -> None:
    s, problems = merge(
        [
            ("initializationOptions", {"servers": {
                "pylsp": {"command": ["pylsp"], "languages": ["python"],
                          "containerCommand": ["python3", "-m", "pylsp"],
                          "env": {"PYTHONPATH": "/workspace"},
                          "initializationOptions": {"pylsp": {"plugins": {}}}},
                "ts": {"command": ["typescript-language-server", "--stdio"]},
            }}),
            (".sero/config.toml", {"servers": {"ts": {"command": ["tsls"], "hostCommand": ["h"]}}}),
        ]
    )  # fmt: skip
    assert problems == []
    py, ts = s.servers["pylsp"], s.servers["ts"]
    assert py.in_container == ["python3", "-m", "pylsp"] and py.on_host == ["pylsp"]
    assert py.env == {"PYTHONPATH": "/workspace"} and py.languages == ["python"]
    assert py.initialization_options == {"pylsp": {"plugins": {}}}
    # a later layer wins per server id
    assert ts.command == ["tsls"] and ts.on_host == ["h"] and ts.in_container == ["tsls"]


@pytest.mark.parametrize(
    ("conf", "words"),
    [
        ({"languages": ["python"]}, "required field missing @ $.command"),
        ({"command": []}, "command must be a non-empty list of strings"),
        ({"command": "pylsp"}, "expected a list of strings, got 'pylsp' @ $.command"),
        ({"command": ["x"], "env": {"A": 1}}, "expected a table of strings"),
        ({"command": ["x"], "hostCommand": [1]}, "expected a list of strings"),
        ({"command": ["x"], "bogus": 1}, "extra fields found (bogus)"),
        ("pylsp", "server 'bad'"),
    ],
)
def test_a_bad_server_entry_is_dropped_alone(conf: object, words: str) -> None:
    s, problems = merge([("x", {"servers": {"bad": conf, "good": {"command": ["g"]}}})])
    assert list(s.servers) == ["good"]
    (p,) = problems
    assert p.key == "servers.bad" and "server 'bad'" in p.message and words in p.message


def test_toml_top_level_or_sero_table(tmp_path: Path) -> None:
    write_toml(tmp_path, '[sero]\nruntime = "host"\n\n[sero.servers.py]\ncommand = ["pylsp"]\n')
    trust_folder(tmp_path, tmp_path / "state")
    s, problems = folder_settings(tmp_path)
    assert problems == [] and s.runtime == "host" and s.servers["py"].command == ["pylsp"]


def test_toml_syntax_error_has_its_line_and_defaults_apply(tmp_path: Path) -> None:
    write_toml(tmp_path, '# settings\nruntime = "host"\nimage = \n')
    s, problems = folder_settings(tmp_path, init_settings={"probeTimeout": 2})
    assert s.runtime == "auto" and s.probe_timeout == 2.0  # the file is ignored, others apply
    (p,) = problems
    assert p.source == ".sero/config.toml" and p.severity == "error"
    assert p.line == 2 and "invalid TOML" in p.message and "line 3" in p.message


def test_toml_value_problems_point_at_their_lines(tmp_path: Path) -> None:
    write_toml(
        tmp_path,
        '# workspace\nimage = "ok:1"\n  runtime = "sometimes"\nmystery = 1\n\n'
        '[servers.py]\ncommand = "pylsp"\n\n[servers.ok]\ncommand = ["x"]\n',
    )
    trust_folder(tmp_path, tmp_path / "state")
    s, problems = folder_settings(tmp_path)
    assert s.image == "ok:1" and s.runtime == "auto" and list(s.servers) == ["ok"]
    lines = {p.key: (p.line, p.severity) for p in problems}
    assert lines == {
        "runtime": (2, "error"),
        "mystery": (3, "warning"),
        "servers.py": (5, "error"),
    }


def test_unreadable_toml_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "")
    path.write_bytes(b'runtime = "\xff"\n')
    s, problems = folder_settings(tmp_path)
    assert s == Settings()
    assert problems and "cannot read" in problems[0].message


def test_no_toml_at_all(tmp_path: Path) -> None:
    assert folder_settings(tmp_path) == (Settings(), [])


def test_key_line() -> None:
    text = 'a = 1\n "image" = "x"\n[sero.servers.py]\n[servers]\n'
    assert key_line(text, "a") == 0
    assert key_line(text, "image") == 1
    assert key_line(text, "servers.py") == 2
    assert key_line(text, "servers") == 2
    assert key_line(text, "runtime") is None
