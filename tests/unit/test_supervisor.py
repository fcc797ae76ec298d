"""The supervisor's side of a replaced process: what it tells the router."""

from __future__ import annotations

from typing import Any

import pytest

from sero_ls.lsp.framing import CONTENT_MODIFIED
from sero_ls.proxy.instance import Instance
from sero_ls.proxy.spec import ServerSpec
from sero_ls.proxy.supervisor import Supervisor
from sero_ls.runtime.manager import RuntimeManager
from sero_ls.runtime.resolve import Folder


class Events:
    def __init__(self) -> None:
        self.gone: list[tuple[str, int]] = []

    def server_message(self, inst: Instance, msg: dict[str, Any], body: bytes | None) -> None: ...

    def server_ready(self, inst: Instance) -> None: ...

    def server_gone(self, inst: Instance, why: str, code: int = 0) -> None:
        self.gone.append((why, code))

    def server_failed(self, inst: Instance) -> None: ...

    def servers_changed(self) -> None: ...


class OldProcess:
    on_exit: Any = None

    async def stop(self, **kwargs: Any) -> None: ...


@pytest.mark.parametrize(("moving", "what"), [(True, "moved"), (False, "restarted")])
async def test_a_replaced_process_answers_its_requests_content_modified(
    moving: bool, what: str
) -> None:
    events = Events()
    sup = Supervisor(RuntimeManager(), events)
    spec = ServerSpec(id="s", languages=("python",), host_argv=("s",), container_argv=("s",))
    inst = Instance(spec=spec, folder=Folder(uri="file:///w", path="/w", name="w"))
    inst.conn = OldProcess()  # type: ignore[assignment]
    started: list[Instance] = []

    async def start(i: Instance) -> None:
        started.append(i)

    sup._start = start  # type: ignore[method-assign]
    await sup.restart(inst, moving=moving)
    assert events.gone == [(f"s@w is being {what}", CONTENT_MODIFIED)]
    assert started == [inst]
