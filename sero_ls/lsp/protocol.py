"""pygls protocol for sero-ls: raw JSON-RPC dicts in, routed before any structuring.

Messages sero-ls answers itself (lifecycle, workspace folders, configuration,
``sero/*``, its own commands) go through pygls and lsprotocol as usual. Every
other message is handed to the ``router`` (the proxy) as the raw dict it
arrived as: unknown fields, vendor extensions and ``$/`` methods survive, and
order is kept because forwarding queues its writes in order (``transport.BatchWriter``).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Generator
from typing import Any, Protocol

import attrs
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.protocol import LanguageServerProtocol, default_converter, lsp_method
from pygls.protocol.json_rpc import (
    JsonRPCNotification,
    JsonRPCRequestMessage,
    JsonRPCResponseMessage,
)

from sero_ls import trace
from sero_ls.lsp import framing, transport
from sero_ls.lsp.methods import SHARED_NOTIFICATIONS, is_local
from sero_ls.lsp.transport import valid_id

log = logging.getLogger(__name__)


class Router(Protocol):
    """The proxy side: what sero-ls does with messages it does not answer itself."""

    def observe_initialize(self, params: dict[str, Any]) -> None:
        """The client's raw initialize params (before pygls structures them)."""

    def initialize_result(self, own: dict[str, Any]) -> dict[str, Any]:
        """The initialize result to send, given sero-ls' own."""

    def also_local(self, message: dict[str, Any]) -> None:
        """A notification sero-ls handles itself that the servers need too (raw)."""

    def from_client(self, message: dict[str, Any], body: bytes | None = None) -> bool:
        """Take a client message (and its bytes as received); False when no backend wants it
        (then sero-ls answers)."""

    def owns_response(self, msg_id: Any) -> bool:
        """Whether a client response answers a request a backend sent."""

    def forward_plain(self, message: dict[str, Any], body: bytes) -> bool:
        """The read loop's hot path: a client notification that is only passed on, as its
        bytes; False (nothing sent) when :meth:`SeroProtocol.handle_raw` must take it."""


def raw_converter() -> Any:
    """pygls' converter, but params/results of unknown methods stay plain dicts."""
    conv = default_converter()  # type: ignore[no-untyped-call]

    def keep(obj: dict[str, Any], cls: type) -> Any:
        # JSON-RPC: params (and a null result) may be omitted; unknown members are ignored.
        return cls(**{f.name: obj.get(f.name) for f in attrs.fields(cls)})

    for cls in (JsonRPCRequestMessage, JsonRPCNotification, JsonRPCResponseMessage):
        conv.register_structure_hook(cls, keep)
    return conv


class SeroProtocol(LanguageServerProtocol):
    router: Router | None = None
    shutdown_requested = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Requests already answered by the start-up path (lsp/boot.py): pygls' answer is dropped.
        self.silent_ids: set[Any] = set()
        self.silenced = asyncio.Event()  # set when such an answer was dropped

    @lsp_method(types.INITIALIZE)
    def lsp_initialize(self, params: types.InitializeParams) -> Generator[Any, Any, Any]:
        """pygls' initialize, then the proxy adds its servers' capabilities."""
        result = yield from super().lsp_initialize(params)
        if self.router is None:
            return result
        return self.router.initialize_result(self._converter.unstructure(result))

    @lsp_method(types.EXIT)
    def lsp_exit(self, *args: Any) -> None:  # type: ignore[override]
        """End the session; the server cleans up before the process exits (no sys.exit here)."""
        asked = self._shutdown or self.shutdown_requested
        self._server.request_exit(0 if asked else 1)  # type: ignore[attr-defined]

    @property
    def shut_down(self) -> bool:
        """Whether the client asked for shutdown (pygls keeps it in a private name)."""
        return bool(self._shutdown) or self.shutdown_requested

    def hot_path(self) -> transport.Forwarder | None:
        """The read loop's hot path now (``transport.read_loop``): the router's, until
        shutdown is asked (then every message takes :meth:`handle_raw`)."""
        return None if self.shut_down or self.router is None else self.router.forward_plain

    def unstructure(self, value: Any) -> Any:
        """lsprotocol objects as plain JSON values."""
        return self._converter.unstructure(value)

    def handle_raw(
        self, msg: dict[str, Any], body: bytes | None = None, *, routed: bool = False
    ) -> None:
        """Route one decoded message, with its bytes as received (see module doc);
        ``routed``: the servers already got it (a notification replayed after start-up)."""
        if msg.get("jsonrpc") != "2.0":
            self._reject(msg, framing.INVALID_REQUEST, "not a JSON-RPC 2.0 message")
            return
        method = msg.get("method")
        if "id" in msg and not valid_id(msg["id"]):
            # JSON-RPC: an id is a string, a number or null; the error's id is then null.
            log.warning("invalid id %.100r: %.200s", msg["id"], msg)
            if method is not None:
                self.send_raw(
                    framing.error_response(
                        None, framing.INVALID_REQUEST, "id must be a string, a number or null"
                    )
                )
            return
        if method is None:  # a response from the client
            if "id" not in msg:
                log.warning("dropping a message with neither method nor id: %.200s", msg)
                return
            if self.router is not None and self.router.owns_response(msg.get("id")):
                self.router.from_client(msg)
                return
            if msg.get("id") not in self._request_futures:
                log.warning("response to unknown request id %r dropped", msg.get("id"))
                return
            self._dispatch(msg)
            return
        if not isinstance(method, str):
            self._reject(msg, framing.INVALID_REQUEST, "method must be a string")
            return
        if self._shutdown and "id" in msg:
            # LSP: requests after shutdown error with InvalidRequest (pygls drops sero-ls'
            # own without an answer, and the client waits forever).
            self._reject(msg, framing.INVALID_REQUEST, "server is shutting down")
            return
        if is_local(method):
            if method == types.SHUTDOWN:
                # `exit` may arrive while the (async) shutdown still stops the servers
                self.shutdown_requested = True
            if self.router is not None:
                if method == types.INITIALIZE:
                    self.router.observe_initialize(msg.get("params"))  # type: ignore[arg-type]
                elif method in SHARED_NOTIFICATIONS and not routed:
                    self.router.also_local(msg)
            self._dispatch(msg)
            return
        if self._shutdown:
            self._reject(msg, framing.INVALID_REQUEST, "server is shutting down")
            return
        if self.router is not None and self.router.from_client(msg, body):
            return
        self._dispatch(msg)  # sero-ls' own features, or MethodNotFound / ignored

    def _dispatch(self, msg: dict[str, Any]) -> None:
        try:
            structured = self.structure_message(msg)
        except JsonRpcException as exc:
            if "id" in msg and "method" in msg:
                self._send_response(msg["id"], error=exc.to_response_error())
            else:
                log.warning("invalid notification %s dropped: %s", msg.get("method"), exc)
            return
        try:
            self.handle_message(structured)
        except Exception:
            log.exception("failed to handle %s", msg.get("method"))
            if "id" in msg and "method" in msg:
                self.send_raw(
                    framing.error_response(msg["id"], framing.INTERNAL_ERROR, "internal error")
                )

    def _send_response(self, msg_id: Any, result: Any = None, error: Any = None) -> None:
        """pygls' responses, but one to ``id: null`` keeps its id member (pygls drops None
        fields when it serialises, and a response without an id is no response)."""
        if msg_id in self.silent_ids:
            self.silent_ids.discard(msg_id)
            self.silenced.set()
            return
        if msg_id is not None:
            super()._send_response(msg_id, result, error)
            return
        msg: dict[str, Any] = {"jsonrpc": "2.0", "id": None}
        if error is not None:
            msg["error"] = self._converter.unstructure(error)
        else:
            msg["result"] = self._converter.unstructure(result)
        self.send_raw(msg)

    def _reject(self, msg: dict[str, Any], code: int, text: str) -> None:
        log.warning("%s: %.200s", text, msg)
        if "id" in msg and msg.get("method") is not None:
            self.send_raw(framing.error_response(msg.get("id"), code, text))

    def send_raw_body(self, body: bytes) -> None:
        """Write an already encoded message body to the client (one frame, one write)."""
        if self.writer is None:
            log.error("no transport to write to")
            return
        transport.to_client(self.writer, body)

    def _send_data(self, data: Any) -> None:
        """pygls' own writes (sero-ls' answers and notifications), traced."""
        if data and trace.active():
            trace.record(
                "sero-ls", "client", json.loads(json.dumps(data, default=self._serialize_message))
            )
        super()._send_data(data)

    def send_raw(self, msg: dict[str, Any]) -> None:
        """Write a raw message to the client."""
        self.send_raw_body(framing.encode_message(msg))
