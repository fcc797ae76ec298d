"""The docker backend end to end: the real sero-ls process, the real docker CLI and a real
dockerd (tests/support/dockerd.py). Resolution, live pushes from `docker events`, the
exec proxy with URI mapping and container-only files, staleness, terminal, preview URL."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types

from sero_ls.uris import path_to_uri
from tests.e2e.test_container_proxy import open_doc, pos, wait_container_mode
from tests.e2e.test_workflows_podman import (
    PWD_LINE,
    free_port,
    fresh,
    http_status,
    run_in_pty,
    status_is,
)
from tests.support.dockerd import Dockerd
from tests.support.lsp import folder_status, session

pytestmark = pytest.mark.docker

DOCKER = {"containerBackend": "docker", "pollInterval": 60, "probeTimeout": 10}
LABEL = "ai.sero.workspacePath"
SOURCE = 'import helper_mod\n\n\ndef greet(name):\n    return "hi " + name\n\n\ngreet("x")\n'
SOURCE += "helper_mod.answer()\nunused = undefined_name\n"
HELPER = 'def answer():\n    """Only inside the container."""\n    return 42\n'


async def test_docker_status_events_terminal_and_preview(
    tmp_path: Path, tmp_workspace: Path, dockerd: Dockerd, docker_container: Any
) -> None:
    """One container on the default bridge, a published port; polling set to a minute, so
    only `docker events` can tell of a stop and a start in seconds."""
    sub = tmp_workspace / "pkg é"
    sub.mkdir()
    port = free_port()
    name = docker_container(
        tmp_workspace, labels={LABEL: str(tmp_workspace)}, network=None,
        publish=[f"127.0.0.1:{port}:8000"], command=["python3", "-m", "http.server", "8000"],
    )  # fmt: skip
    ip = dockerd.run("inspect", "--format", "{{.NetworkSettings.IPAddress}}", name).strip()
    assert ip.startswith(dockerd.subnet.rsplit(".", 1)[0] + ".")
    uri = path_to_uri(str(tmp_workspace))
    async with session([tmp_workspace], tmp=tmp_path, settings=DOCKER, env=dockerd.env) as s:
        note = await s.status.wait_for(status_is(tmp_workspace, None), timeout=30)
        st = folder_status(note, tmp_workspace)
        assert st is not None and st["runtime"]["backend"] == "docker"
        assert st["runtime"]["cli"] == dockerd.cli
        assert st["runtime"]["container"]["id"] == name
        assert st["runtime"]["container"]["foundBy"] == "label ai.sero.workspacePath"
        assert st["runtime"]["container"]["ip"] == ip
        assert {"host": str(tmp_workspace), "container": "/workspace", "readOnly": False,
                "type": "bind"} in st["runtime"]["mounts"]  # fmt: skip

        p = await s.request("sero/previewUrl", {"uri": uri, "port": 8000})
        assert (p["url"], p["via"], p["containerIp"]) == (f"http://127.0.0.1:{port}",
                                                         "published", ip)  # fmt: skip
        assert await asyncio.to_thread(http_status, p["url"] + "/") == 200

        term = await s.request("sero/resolveTerminal", {"uri": path_to_uri(str(sub))})
        assert term["argv"][:7] == [dockerd.cli, "exec", "-i", "-t", "-w", "/workspace/pkg é",
                                    name]  # fmt: skip
        env = {**term["env"], **dockerd.env}
        out = await asyncio.to_thread(
            run_in_pty, term["argv"], term["cwd"], env, 'echo "PWD=[$(pwd)]"; exit\n'
        )
        assert PWD_LINE.findall(out) == ["/workspace/pkg é"], out

        mark = s.status.mark()
        dockerd.run("stop", "-t", "0", name)
        note = await s.status.wait_for(
            status_is(tmp_workspace, "container-not-running", "host"), timeout=15, after=mark
        )
        assert folder_status(note, tmp_workspace)["remedy"] == [f"docker start {name}"]  # type: ignore[index]
        mark = s.status.mark()
        dockerd.run("start", name)
        await s.status.wait_for(status_is(tmp_workspace, None), timeout=15, after=mark)


async def test_docker_exec_proxy_maps_uris_and_serves_container_files(
    tmp_path: Path, tmp_workspace: Path, dockerd: Dockerd, docker_container: Any
) -> None:
    (tmp_workspace / "main.py").write_text(SOURCE)
    name = docker_container(tmp_workspace, labels={LABEL: str(tmp_workspace)})
    dockerd.write_file(name, "/opt/sero-only/helper_mod.py", HELPER)  # not on the host
    assert not (tmp_workspace / "helper_mod.py").exists()
    servers = {"pylsp": {"command": ["pylsp"], "languages": ["python"],
                         "env": {"PYTHONPATH": "/opt/sero-only"}}}  # fmt: skip
    settings = {**DOCKER, "pollInterval": 0.5, "servers": servers}
    async with session([tmp_workspace], tmp=tmp_path, settings=settings, env=dockerd.env) as s:
        st = await wait_container_mode(s, tmp_workspace)
        assert st["servers"][0]["mode"] == "container"
        uri = await open_doc(s, tmp_workspace / "main.py")
        td = types.TextDocumentIdentifier(uri=uri)
        await s.wait_diagnostics(uri, lambda d: any("undefined_name" in x.message for x in d),
                                 timeout=60)  # fmt: skip
        defs = await s.client.text_document_definition_async(
            types.DefinitionParams(text_document=td, position=pos(7, 1))
        )
        assert [d.uri for d in defs] == [uri] and defs[0].range.start.line == 3
        defs = await s.client.text_document_definition_async(
            types.DefinitionParams(text_document=td, position=pos(8, 13))
        )
        (helper,) = defs
        assert helper.uri == f"sero-container://{name}/opt/sero-only/helper_mod.py"
        text = (await s.request("sero/containerFile", {"uri": helper.uri}))["text"]
        assert "Only inside the container." in text


async def test_docker_stale_container_after_its_image_is_rebuilt(
    tmp_path: Path, tmp_workspace: Path, dockerd: Dockerd, docker_container: Any
) -> None:
    ref = dockerd.import_image(f"sero-dk-stale-{uuid.uuid4().hex[:8]}:latest")
    name = docker_container(tmp_workspace, labels={LABEL: str(tmp_workspace)}, image=ref,
                            python=False)  # fmt: skip
    settings = {**DOCKER, "pollInterval": 0.5, "image": ref}
    async with session([tmp_workspace], tmp=tmp_path, settings=settings, env=dockerd.env) as s:
        await s.status.wait_for(status_is(tmp_workspace, None), timeout=30)
        dockerd.import_image(ref)  # a rebuild: the same name, a newer image
        note = await s.status.wait_for(
            fresh(s, status_is(tmp_workspace, "container-stale")), timeout=30
        )
        st = folder_status(note, tmp_workspace)
        assert st is not None and st["degraded"] is False
        assert "before its image" in st["stale"][0]
        assert st["remedy"][0] == f"docker rm -f {name}"
        assert st["remedy"][1].startswith(f"docker run --name {name} -d")
