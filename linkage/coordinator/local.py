"""The service on a thread of the calling process, on loopback: for ``linkage demo --service``
and the tests, which need a real server (real sockets, real HTTP) without a second process."""

from __future__ import annotations

import threading
import time
from types import TracebackType

import uvicorn
from fastapi import FastAPI

from linkage.errors import LinkageError


class LocalServer:
    """``with LocalServer(app) as server:`` serves ``app`` at ``server.url`` until the block
    ends. Port 0 takes a free one."""

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int = 0) -> None:
        config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="linkage-serve", daemon=True)
        self._host = host
        self.url = ""

    def __enter__(self) -> LocalServer:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise LinkageError(
                    f"the service could not start on {self._host}",
                    "is the port taken? give another with --port",
                )
            time.sleep(0.05)
        port = self._server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://{self._host}:{port}"
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._server.should_exit = True
        self._thread.join(30)
