"""The service on a thread of the calling process, on loopback: for ``linkage demo --service``
and the tests, which need a real server (real sockets, real HTTP) without a second process."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType

import uvicorn
from fastapi import FastAPI

from linkage.errors import LinkageError
from linkage.service.gate import HeaderTimeout


class LocalServer:
    """``with LocalServer(app) as server:`` serves ``app`` at ``server.url`` until the block
    ends. Port 0 takes a free one."""

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int = 0) -> None:
        config = uvicorn.Config(app, log_level="warning", access_log=False, http=HeaderTimeout)
        self._server = uvicorn.Server(config)
        self._address = (host, port)
        self._socket: socket.socket | None = None
        self.url = ""

    def __enter__(self) -> LocalServer:
        # bound here, not by uvicorn, so that a taken port is one clear error
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind(self._address)
        except OSError as err:
            listener.close()
            host, port = self._address
            raise LinkageError(
                f"the service cannot listen on {host}:{port}: {err.strerror}",
                "give another port with --port",
            ) from None
        self._socket = listener
        thread = threading.Thread(
            target=self._server.run, args=([listener],), name="linkage-serve", daemon=True
        )
        self._thread = thread
        thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise LinkageError(f"the service could not start on {self._address[0]}")
            time.sleep(0.05)
        self.url = f"http://{self._address[0]}:{listener.getsockname()[1]}"
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._server.should_exit = True
        self._thread.join(30)
        if self._socket is not None:
            self._socket.close()
