"""The agencies' side of the service: send a month's upload, fetch the agency's results.

Both retry what may pass on a second try (the server unreachable, a 5xx, 429) with growing
waits, and stop at once on what will not (a 4xx: the server's one-line reason is shown).
Sending an upload twice is harmless: the service records the same file once.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

from linkage._atomic import atomic_write
from linkage.errors import LinkageError


class ServiceError(LinkageError):
    """The service refused a request, or could not be reached."""


#: Waits between tries, in seconds: five tries over about half a minute.
RETRY_WAITS = (1.0, 3.0, 8.0, 20.0)
_CHUNK = 1 << 20


def read_token(token_file: Path | None) -> str:
    """The token from a file, else from ``LINKAGE_TOKEN`` (never from the command line)."""
    if token_file is not None:
        try:
            token = token_file.read_text(encoding="utf-8").strip()
        except OSError as err:
            raise ServiceError(
                f"cannot read the token file {token_file}: {err.strerror}",
                "give the file 'linkage token add' wrote for you",
            ) from None
    else:
        token = os.environ.get("LINKAGE_TOKEN", "").strip()
    if not token:
        raise ServiceError(
            "no token", "pass --token-file FILE or set LINKAGE_TOKEN to the token you were given"
        )
    return token


def upload(
    server: str,
    token: str,
    path: Path,
    month: str,
    progress: Callable[[int], None] | None = None,
    waits: tuple[float, ...] = RETRY_WAITS,
) -> dict[str, Any]:
    """Send ``path`` as the agency's upload for ``month``; the service's answer."""
    if not path.is_file():
        raise ServiceError(f"no file {path}", "give the .clk file 'linkage encode' wrote")
    size = path.stat().st_size

    def body() -> Iterator[bytes]:
        with path.open("rb") as fh:
            while chunk := fh.read(_CHUNK):
                if progress:
                    progress(len(chunk))
                yield chunk

    response = _send(
        "POST",
        f"{server.rstrip('/')}/v1/uploads/{month}",
        token,
        waits,
        content=body,
        headers={"content-type": "application/octet-stream", "content-length": str(size)},
    )
    answer: dict[str, Any] = response.json()
    return answer


def results(server: str, token: str, output: Path, waits: tuple[float, ...] = RETRY_WAITS) -> int:
    """Write the agency's results (record id, person id) to ``output``; returns the rows."""
    response = _send("GET", f"{server.rstrip('/')}/v1/results", token, waits)
    text = response.text
    with atomic_write(output) as fh:
        fh.write(text.encode("utf-8"))
    return max(text.count("\n") - 1, 0)


def _send(
    method: str,
    url: str,
    token: str,
    waits: tuple[float, ...],
    content: Callable[[], Iterator[bytes]] | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    sent = {"authorization": f"Bearer {token}", **(headers or {})}
    problem = ""
    for attempt in range(len(waits) + 1):
        if attempt:
            time.sleep(waits[attempt - 1])
        try:
            response = httpx.request(
                method,
                url,
                headers=sent,
                content=None if content is None else content(),
                timeout=httpx.Timeout(30.0, read=600.0),
            )
        except httpx.HTTPError as err:
            problem = f"cannot reach {_origin(url)} ({type(err).__name__})"
            continue
        if response.status_code < 400:
            return response
        reason = _reason(response)
        if response.status_code < 500 and response.status_code != 429:
            raise ServiceError(f"the service refused: {reason}", _hint(response.status_code))
        problem = f"the service answered {response.status_code}: {reason}"
    raise ServiceError(
        f"{problem}; gave up after {len(waits) + 1} tries",
        "check --server and that the service runs, then try again",
    )


def _reason(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except ValueError:
        detail = None
    if isinstance(detail, str):
        return detail
    return f"HTTP {response.status_code}"


def _hint(status: int) -> str:
    if status == 401:
        return "the token is unknown or revoked: ask the coordinator for a new one"
    if status == 403:
        return "this token may not do that"
    return "fix what the service names, then send again"


def _origin(url: str) -> str:
    parsed = httpx.URL(url)
    return f"{parsed.scheme}://{parsed.host}" + (f":{parsed.port}" if parsed.port else "")
