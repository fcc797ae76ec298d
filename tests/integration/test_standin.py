"""The Apple `container` stand-in speaks Apple's CLI over real podman containers."""

from __future__ import annotations

import datetime as dt
import json
import re
import signal
import subprocess
import time

import psutil
import pytest

from tests.support import podman as pm
from tests.support.apple import set_kernel_missing

pytestmark = pytest.mark.podman

XPC = "XPC connection error"
HINT = "Ensure container system service has been started with `container system start`."
STATUS_KEYS = {"status", "appRoot", "installRoot", "logRoot", "apiServerVersion",
               "apiServerCommit", "apiServerBuild", "apiServerAppName"}
APPLE_EPOCH = 978307200
EMPTY_STATUS = {k: "" for k in STATUS_KEYS - {"status", "logRoot"}}


def run_json(standin, *args: str) -> object:
    proc = standin.run(*args)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


# --- system ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("release", "version"), [("1.2", "1.2.2"), ("0.12", "0.12.3"),
                                                   ("0.9", "0.9.0"), ("0.5", "0.5.0")])
def test_version_and_help_answer_even_when_the_system_is_down(apple_standin, release, version):
    apple_standin.release = release
    apple_standin.set_system("unregistered")
    proc = apple_standin.run("--version")
    assert proc.returncode == 0
    assert re.match(rf"container CLI version {re.escape(version)} ", proc.stdout)
    assert apple_standin.run("--help").returncode == 0


def test_system_status_running(apple_standin):
    text = apple_standin.run("system", "status")  # 0.10 on: a FIELD/VALUE table
    assert text.returncode == 0
    assert re.search(r"^status +running$", text.stdout, re.M), text.stdout
    info = run_json(apple_standin, "system", "status", "--format", "json")
    # logRoot is optional and left out when nil (JSONEncoder's encodeIfPresent)
    assert isinstance(info, dict) and set(info) == STATUS_KEYS - {"logRoot"}
    assert info["status"] == "running"
    assert list(info) == sorted(info)  # 1.x: sorted keys


@pytest.mark.parametrize("release", ["0.5", "0.9"])
def test_system_status_before_0_10_has_no_format(apple_standin, release):
    apple_standin.release = release
    text = apple_standin.run("system", "status")
    assert text.returncode == 0 and text.stdout.splitlines()[0] == "apiserver is running"
    usage = apple_standin.run("system", "status", "--format", "json")
    assert usage.returncode == 64 and "Unknown option '--format'" in usage.stderr


@pytest.mark.parametrize(("state", "text", "status"), [
    ("stopped", "apiserver is not running", "not running"),
    ("unregistered", "apiserver is not running and not registered with launchd", "unregistered"),
])
def test_system_status_down(apple_standin, state, text, status):
    apple_standin.set_system(state)
    plain = apple_standin.run("system", "status")
    assert (plain.returncode, plain.stdout.strip()) == (1, text)
    as_json = apple_standin.run("system", "status", "--format", "json")
    assert as_json.returncode == 1
    # PrintableStatus: every key, empty strings (nil logRoot left out)
    assert json.loads(as_json.stdout) == {"status": status, **EMPTY_STATUS}


def test_a_hung_api_server_answers_late_then_fails(apple_standin):
    apple_standin.set_system("hung")
    env = {**apple_standin.env, "SERO_FAKE_APPLE_HANG_SECONDS": "0.5"}
    started = time.monotonic()
    proc = subprocess.run([str(apple_standin.cli), "system", "status", "--format", "json"],
                          env=env, capture_output=True, text=True, timeout=30, check=False)
    assert time.monotonic() - started >= 0.5
    assert (proc.returncode, json.loads(proc.stdout)) == (1, {"status": "not running",
                                                              **EMPTY_STATUS})
    with pytest.raises(subprocess.TimeoutExpired):
        apple_standin.run("list", "--format", "json", timeout=1.0)


@pytest.mark.parametrize("release", ["1.2", "0.9"])
@pytest.mark.parametrize("state", ["stopped", "unregistered"])
@pytest.mark.parametrize("args", [("list", "--all", "--format", "json"), ("inspect", "x"),
                                  ("exec", "x", "pwd"), ("image", "list", "--format", "json")])
def test_commands_fail_with_an_xpc_error_while_the_api_server_is_down(
    apple_standin, release, state, args
):
    apple_standin.release = release
    apple_standin.set_system(state)
    proc = apple_standin.run(*args)
    assert proc.returncode == 1 and proc.stdout == ""
    # Application.swift appends the hint in every release; before 0.10 the whole text is
    # the wrapping error's description, the inner one's inside it
    inner = f'interrupted: "{XPC}: Connection invalid"'
    expected = (f"Error: {inner}\n{HINT}\n" if release == "1.2"
                else f'Error: interrupted: "{inner}\n{HINT}"\n')
    assert proc.stderr == expected


def test_system_start_and_stop(apple_standin, tmp_workspace):
    ctr = apple_standin.create(tmp_workspace)
    apple_standin.set_system("unregistered")

    started = apple_standin.run("system", "start")
    assert started.returncode == 0 and started.stdout.strip().splitlines()[-1] == "Done"
    assert apple_standin.run("system", "status").returncode == 0

    stopped = apple_standin.run("system", "stop")
    assert stopped.returncode == 0
    assert apple_standin.run("system", "status").returncode == 1
    assert pm.state(ctr.name) == "exited", "Apple's system stop stops the containers"


def test_system_start_without_a_kernel_needs_the_install_flag(apple_standin):
    apple_standin.set_system("stopped")
    set_kernel_missing(apple_standin.state_dir)

    prompt = apple_standin.run("system", "start", input="")
    assert prompt.returncode == 1 and "kernel" in prompt.stdout
    assert apple_standin.run("system", "status").returncode == 1
    ok = apple_standin.run("system", "start", "--enable-kernel-install")
    assert ok.returncode == 0
    assert apple_standin.run("system", "status").returncode == 0


# --- list and inspect ----------------------------------------------------------------------


def test_list_shapes_states_and_label_visibility(apple_standin, workspace_container, tmp_workspace):
    running = apple_standin.create(tmp_workspace)
    stopped = apple_standin.create(tmp_workspace)
    pm.stop(stopped.name)
    invisible = workspace_container(tmp_workspace)  # no stand-in label

    apple_standin.shape = "1"
    everything = run_json(apple_standin, "list", "--all", "--format", "json")
    assert {c["id"]: c["status"]["state"] for c in everything} == {  # type: ignore[union-attr]
        running.name: "running", stopped.name: "stopped"}
    only_running = run_json(apple_standin, "list", "--format", "json")
    assert [c["id"] for c in only_running] == [running.name]  # type: ignore[union-attr]
    assert invisible.name not in apple_standin.run("list", "-a").stdout

    apple_standin.shape = "0"
    flat = run_json(apple_standin, "list", "-a", "--format", "json")
    assert {c["configuration"]["id"]: c["status"] for c in flat} == {  # type: ignore[union-attr]
        running.name: "running", stopped.name: "stopped"}
    assert all("id" not in c for c in flat)  # type: ignore[union-attr]
    quiet = apple_standin.run("list", "-q")
    assert quiet.stdout.split() == [running.name]


def test_inspect_1x_maps_podman_faithfully(apple_standin, tmp_workspace, tmp_path):
    ro_dir = tmp_path / "ro data"
    ro_dir.mkdir()
    ctr = apple_standin.create(tmp_workspace, extra_mounts=[(ro_dir, "/data", "ro")],
                               labels={"ai.sero.image": "sero-node:latest"})
    [item] = run_json(apple_standin, "inspect", ctr.name)  # type: ignore[misc]

    assert item["id"] == ctr.name == item["configuration"]["id"]
    conf = item["configuration"]
    assert conf["image"]["reference"] == "docker.io/library/sero-node:latest"
    assert sorted(conf["mounts"], key=lambda m: m["destination"], reverse=True) == [
        {"type": {"virtiofs": {}}, "source": str(tmp_workspace), "destination": "/workspace",
         "options": []},
        {"type": {"virtiofs": {}}, "source": str(ro_dir), "destination": "/data",
         "options": ["ro"]},
    ]
    assert conf["labels"]["ai.sero.workspacePath"] == str(tmp_workspace)
    assert item["status"]["state"] == "running"
    assert item["status"]["networks"] == []
    created = dt.datetime.fromisoformat(conf["creationDate"].replace("Z", "+00:00"))
    started = dt.datetime.fromisoformat(item["status"]["startedDate"].replace("Z", "+00:00"))
    podman_created = dt.datetime.fromisoformat(str(pm.inspect(ctr.name)["Created"]))
    assert abs((created - podman_created).total_seconds()) < 1
    assert created <= started + dt.timedelta(seconds=1)


def test_inspect_0x_uses_flat_json_and_2001_epoch_dates(apple_standin, tmp_workspace):
    apple_standin.release = "0.9"
    ctr = apple_standin.create(tmp_workspace)
    [item] = run_json(apple_standin, "inspect", ctr.name)  # type: ignore[misc]

    assert item["status"] == "running" and item["networks"] == []
    assert item["configuration"]["mounts"][0]["source"] == str(tmp_workspace)
    assert "creationDate" not in item["configuration"]  # from 1.0.0 only
    started = item["startedDate"]
    assert isinstance(started, float | int)
    podman_started = dt.datetime.fromisoformat(
        str(pm.inspect(ctr.name)["State"]["StartedAt"]))  # type: ignore[index]
    assert abs(started + APPLE_EPOCH - podman_started.timestamp()) < 1
    apple_standin.release = "0.5"  # no startedDate before 0.8
    [item] = run_json(apple_standin, "inspect", ctr.name)  # type: ignore[misc]
    assert "startedDate" not in item and item["status"] == "running"


def test_a_container_from_before_1_0_shows_the_unix_epoch(apple_standin, tmp_workspace):
    ctr = apple_standin.create(tmp_workspace, labels={"ai.sero.test.preUpgrade": "1"})
    [item] = run_json(apple_standin, "inspect", ctr.name)  # type: ignore[misc]
    assert item["configuration"]["creationDate"] == "1970-01-01T00:00:00Z"


def test_inspect_of_a_missing_container_differs_by_version(apple_standin):
    missing = apple_standin.run("inspect", "sero-nope")
    assert missing.returncode == 1
    assert missing.stderr == "Error: container not found: sero-nope\n"
    for release in ("0.12", "0.9"):
        apple_standin.release = release
        flat = apple_standin.run("inspect", "sero-nope")
        assert (flat.returncode, flat.stdout.strip()) == (0, "[]")


@pytest.mark.parametrize(("release", "key"), [("1.2", "ipv4Address"), ("0.9", "ipv4Address"),
                                              ("0.5", "address")])
def test_network_address_per_release(apple_standin, tmp_workspace, release, key):
    apple_standin.release = release
    ctr = apple_standin.create(tmp_workspace, network=None)
    [item] = run_json(apple_standin, "inspect", ctr.name)  # type: ignore[misc]
    networks = item["status"]["networks"] if release == "1.2" else item["networks"]
    podman_ip = pm.inspect(ctr.name)["NetworkSettings"]["IPAddress"]  # type: ignore[index]
    assert [n[key].split("/")[0] for n in networks] == [podman_ip]
    assert re.fullmatch(r"\d+\.\d+\.\d+\.\d+/\d+", networks[0][key])


# --- exec and lifecycle --------------------------------------------------------------------


@pytest.mark.parametrize("shape", ["1", "0"])
def test_exec_runs_in_the_container(apple_standin, tmp_workspace, shape):
    apple_standin.shape = shape
    (tmp_workspace / "sub dir").mkdir()
    ctr = apple_standin.create(tmp_workspace)

    pwd = apple_standin.run("exec", "-w", "/workspace/sub dir", ctr.name, "pwd")
    assert (pwd.returncode, pwd.stdout) == (0, "/workspace/sub dir\n")
    default = apple_standin.run("exec", ctr.name, "pwd")
    assert default.stdout == "/workspace\n"
    piped = apple_standin.run("exec", "-i", "-e", "GREETING=hé llo", ctr.name, "sh", "-c",
                              'cat; echo "$GREETING"; exit 7', input="from stdin\n")
    assert (piped.returncode, piped.stdout) == (7, "from stdin\nhé llo\n")
    host_path = apple_standin.run("exec", ctr.name, "test", "-e", str(tmp_workspace))
    assert host_path.returncode == 1


def start_exec(standin, name: str, *command: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([str(standin.cli), "exec", "-i", name, *command], env=standin.env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert wait_until(lambda: " ".join(command) in pm.processes_in_container(name))
    return proc


def wait_until(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def dead(process: psutil.Process) -> bool:
    try:
        return process.status() == psutil.STATUS_ZOMBIE  # reparented, not reaped yet
    except psutil.NoSuchProcess:
        return True


def test_exec_passes_stdio_straight_through(apple_standin, tmp_workspace):
    ctr = apple_standin.create(tmp_workspace)
    proc = start_exec(apple_standin, ctr.name, "cat")
    try:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(b"ping\n")
        proc.stdin.flush()
        assert proc.stdout.readline() == b"ping\n"
        proc.stdin.close()
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_exec_forwards_signals_inside_like_apple(apple_standin, tmp_workspace, sig):
    ctr = apple_standin.create(tmp_workspace)
    proc = start_exec(apple_standin, ctr.name, "sleep", "1000")
    proc.send_signal(sig)
    assert proc.wait(timeout=10) == 128 + sig
    assert wait_until(lambda: pm.processes_in_container(ctr.name) == ["sleep infinity"])


def test_exec_sigkill_leaves_the_process_inside_running(apple_standin, tmp_workspace):
    ctr = apple_standin.create(tmp_workspace)
    proc = start_exec(apple_standin, ctr.name, "sleep", "1000")
    client = psutil.Process(proc.pid).children()
    assert [c.name() for c in client] == ["podman"]
    proc.kill()
    proc.wait(timeout=10)
    assert wait_until(lambda: all(dead(c) for c in client)), "the podman client dies with the CLI"
    assert "sleep 1000" in pm.processes_in_container(ctr.name), "an orphan, as with Apple"


@pytest.mark.parametrize("release", ["1.2", "0.9"])
def test_exec_errors(apple_standin, tmp_workspace, release):
    apple_standin.release = release
    ctr = apple_standin.create(tmp_workspace)
    missing = apple_standin.run("exec", "sero-nope", "pwd")
    assert missing.returncode == 1
    assert missing.stderr.strip() == {
        "1.2": "Error: get failed: container sero-nope not found",
        "0.9": 'Error: notFound: "get failed: container sero-nope not found"'}[release]

    pm.stop(ctr.name)
    stopped = apple_standin.run("exec", ctr.name, "pwd")
    assert stopped.returncode == 1
    assert stopped.stderr.strip() == {
        "1.2": f"Error: container {ctr.name} is not running",
        "0.9": f'Error: invalidState: "container {ctr.name} is not running"'}[release]

    assert apple_standin.run("exec", ctr.name).returncode == 64
    assert apple_standin.run("exec", "--bogus", ctr.name, "pwd").returncode == 64


def test_start_stop_delete(apple_standin, tmp_workspace):
    ctr = apple_standin.create(tmp_workspace)

    stop = apple_standin.run("stop", ctr.name)
    assert (stop.returncode, stop.stdout.strip()) == (0, ctr.name)
    assert pm.state(ctr.name) == "exited"
    start = apple_standin.run("start", ctr.name)
    assert (start.returncode, start.stdout.strip()) == (0, ctr.name)
    assert apple_standin.run("exec", ctr.name, "true").returncode == 0

    refused = apple_standin.run("delete", ctr.name)
    assert refused.returncode == 1 and "is running and can not be deleted" in refused.stderr
    assert pm.exists(ctr.name)
    deleted = apple_standin.run("delete", "--force", ctr.name)
    assert (deleted.returncode, deleted.stdout.strip()) == (0, ctr.name)
    assert not pm.exists(ctr.name)
    for command in ("start", "stop", "delete"):
        gone = apple_standin.run(command, ctr.name)
        assert gone.returncode == 1 and "not found" in gone.stderr, command


def test_usage_errors_exit_64(apple_standin):
    for args in (("bogus",), ("list", "--bogus"), ("inspect",), ("system", "status", "--format",
                                                                   "yaml")):
        assert apple_standin.run(*args).returncode == 64, args


# --- images and run ------------------------------------------------------------------------


def test_image_list_and_inspect_normalise_references(apple_standin):
    pm.import_busybox_image()
    listed = run_json(apple_standin, "image", "list", "--format", "json")
    refs = [i["configuration"]["name"] for i in listed]  # type: ignore[union-attr]
    assert "docker.io/library/sero-node:latest" in refs

    podman_created = pm.run([pm.PODMAN, "image", "inspect", "--format", "{{.Created}}",
                             pm.BUSYBOX_REF]).stdout.replace(" ", "T")[:19]
    for ref in ("sero-node:latest", "sero-node", "docker.io/library/sero-node:latest"):
        [detail] = run_json(apple_standin, "image", "inspect", ref)  # type: ignore[misc]
        # 1.x ImageResource: {"id", "configuration": {"name", "descriptor", "creationDate"}}
        assert detail["configuration"]["name"] == "docker.io/library/sero-node:latest"
        assert detail["configuration"]["creationDate"][:19] == podman_created
        assert detail["variants"][0]["config"]["created"][:19] == podman_created
    missing = apple_standin.run("image", "inspect", "sero-absent:1")
    assert (missing.returncode, missing.stdout) == (1, "")
    assert missing.stderr == "Error: image not found: docker.io/library/sero-absent:1\n"

    apple_standin.release = "0.9"  # ImageDetail, and InspectError for a missing image
    [detail] = run_json(apple_standin, "image", "inspect", "sero-node")  # type: ignore[misc]
    assert detail["name"] == "docker.io/library/sero-node:latest"
    assert detail["variants"][0]["config"]["created"][:19] == podman_created
    listed = run_json(apple_standin, "image", "list", "--format", "json")
    assert {"reference", "descriptor"} == set(listed[0])  # type: ignore[index]
    missing = apple_standin.run("image", "inspect", "sero-absent:1")
    assert missing.returncode == 1 and 'notFound: "Image not found"' in missing.stderr


def test_run_creates_a_container_the_standin_sees(apple_standin, tmp_workspace):
    pm.import_busybox_image()
    name = f"{pm.TEST_PREFIX}run-{apple_standin.label_value}"
    try:
        proc = apple_standin.run(
            "run", "--name", name, "-d", "-v", f"{tmp_workspace}:/workspace",
            "-l", f"ai.sero.workspacePath={tmp_workspace}", "sero-node:latest",
            "sleep", "1000000",
        )
        assert (proc.returncode, proc.stdout.strip()) == (0, name), proc.stderr
        [item] = run_json(apple_standin, "inspect", name)  # type: ignore[misc]
        assert item["configuration"]["image"]["reference"] == "docker.io/library/sero-node:latest"
        assert item["configuration"]["labels"]["ai.sero.workspacePath"] == str(tmp_workspace)
        again = apple_standin.run("run", "--name", name, "-d", "sero-node:latest", "true")
        assert again.returncode == 1 and "exists" in again.stderr
    finally:
        pm.run([pm.PODMAN, "rm", "-f", "-t", "0", name], check=False)
