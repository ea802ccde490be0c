"""What a request must get past before the service spends anything on it.

FastAPI reads and parses a request's body before it runs the dependency that checks the
token, so without this a caller with no token could make the server hold a body of any size
(a 300 MB JSON body took the server from 332 MB to 1 GB before its 401). Here, in order:

- a connection must finish sending its request's headers within :data:`HEADER_SECONDS`
  (slow-header connections are closed; uvicorn has no such timeout of its own);
- every ``/v1/`` request but the health check must carry a live token, checked before one
  byte of its body is read, or it is answered 401;
- a body may not come slower than one chunk every :data:`BODY_SECONDS` (408), and a body
  other than an upload may not exceed :data:`BODY_LIMIT` bytes (413; uploads have the
  service's own, larger limit, enforced as they stream to disk).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi import HTTPException
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from linkage.bynamelist.store import Store
from linkage.service.auth import Principal, identify

#: Seconds a connection has to send a request's headers, from when it opens or its previous
#: answer was sent.
HEADER_SECONDS = 10.0
#: Seconds the service waits for each next piece of a request's body.
BODY_SECONDS = 30.0
#: Bytes a body other than an upload may hold (rulings and discards are a few hundred).
BODY_LIMIT = 64 << 10

_UNGUARDED = {"/v1/health"}


def _uploading(scope: Scope) -> bool:
    parts = scope["path"].split("/")
    return scope["method"] == "POST" and len(parts) == 4 and parts[1:3] == ["v1", "uploads"]


class Gate:
    """ASGI middleware: the token before the body, and bounds on the body."""

    def __init__(self, app: ASGIApp, store: Store) -> None:
        self.app = app
        self.store = store

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith("/v1/") or path in _UNGUARDED:
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        token_id, principal = await run_in_threadpool(self._identify, headers.get(b"authorization"))
        state = scope.setdefault("state", {})
        state["token_id"] = token_id  # for the audit: a revoked token is named too
        if principal is None:
            await _refuse(
                send,
                401,
                "no valid token: send 'Authorization: Bearer TOKEN'",
                [(b"www-authenticate", b"Bearer")],
            )
            return
        state["principal"] = principal
        limit = None if _uploading(scope) else BODY_LIMIT
        declared = headers.get(b"content-length", b"")
        if limit is not None and declared.isdigit() and int(declared) > limit:
            await _refuse(send, 413, f"the request body is larger than {limit} bytes")
            return
        await self.app(scope, _bounded(receive, limit), send)

    def _identify(self, header: bytes | None) -> tuple[int | None, Principal | None]:
        scheme, _, presented = (header or b"").decode("latin-1").partition(" ")
        if scheme.lower() != "bearer" or not presented.strip():
            return None, None
        with self.store.engine.connect() as conn:
            return identify(conn, presented.strip())


def _bounded(receive: Receive, limit: int | None) -> Receive:
    """``receive`` that gives up on a body that comes too slowly or grows past ``limit``;
    the endpoint's body reading turns the HTTPException into the answer."""
    got = 0

    async def bounded() -> Message:
        nonlocal got
        try:
            message = await asyncio.wait_for(receive(), BODY_SECONDS)
        except TimeoutError:
            raise HTTPException(408, "the request body came too slowly") from None
        if message["type"] == "http.request":
            got += len(message.get("body", b""))
            if limit is not None and got > limit:
                raise HTTPException(413, f"the request body is larger than {limit} bytes")
        return message

    return bounded


async def _refuse(
    send: Send, status: int, detail: str, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),  # the body it announced is never read
        *(extra or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class HeaderTimeout(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, closing a connection that has not sent a whole request
    head within :data:`HEADER_SECONDS` of opening or of its previous answer."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._answered: object = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.cycle is not None and self.cycle is not self._answered:
            self._disarm()  # a request's head is complete

    def on_response_complete(self) -> None:
        self._answered = self.cycle
        super().on_response_complete()
        # unless a pipelined request's head was already waiting, the next one's clock starts
        if self.cycle is self._answered and not self.transport.is_closing():
            self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(HEADER_SECONDS, self._too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.transport.close()
