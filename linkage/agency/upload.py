"""The agencies' side of the service: send a month's upload, fetch the agency's results.

Both retry what may pass on a second try (the server unreachable, a 5xx, 429) with growing
waits, and stop at once on what will not: a 4xx (the server's one-line reason is shown), a
redirect (the address is not the service's), an untrusted certificate. An answer is taken
only when its status, content type and shape are the service's: a proxy's HTML page or an
empty body is never written as results, and an earlier results file stays as it was on any
failure. Sending an upload twice is harmless: the service records the same file once.

The server's certificate is checked against the system's trusted authorities (which
``SSL_CERT_FILE`` and ``SSL_CERT_DIR`` can point elsewhere), or against ``--ca-file``.
"""

from __future__ import annotations

import os
import ssl
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

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
    where = f"the token file {token_file}" if token_file is not None else "LINKAGE_TOKEN"
    if token_file is not None:
        try:
            token = token_file.read_text(encoding="ascii").strip()
        except OSError as err:
            raise ServiceError(
                f"cannot read {where}: {err.strerror}",
                "give the file 'linkage token add' wrote for you",
            ) from None
        except UnicodeDecodeError:
            token = "\x00"  # not ASCII: no token linkage makes; refused below
    else:
        token = os.environ.get("LINKAGE_TOKEN", "").strip()
    if not token:
        raise ServiceError(
            "no token", "pass --token-file FILE or set LINKAGE_TOKEN to the token you were given"
        )
    if not token.isascii() or not token.isprintable() or any(c.isspace() for c in token):
        raise ServiceError(
            f"{where} does not hold a token (a token is one line of letters, digits, _ and -)",
            "give the file 'linkage token add' wrote for you, unchanged",
        )
    return token


def trust(ca_file: Path | None = None) -> ssl.SSLContext:
    """How the server's certificate is checked: the system's authorities (``SSL_CERT_FILE``
    and ``SSL_CERT_DIR`` are honoured), or only ``ca_file``'s when it is given."""
    try:
        return ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    except (OSError, ssl.SSLError) as err:
        raise ServiceError(
            f"cannot use {ca_file} as the certificate authority: "
            f"{getattr(err, 'strerror', None) or err}",
            "give a PEM file holding the certificate of the authority that signed the server's",
        ) from None


def upload(
    server: str,
    token: str,
    path: Path,
    month: str,
    progress: Callable[[int], None] | None = None,
    waits: tuple[float, ...] = RETRY_WAITS,
    verify: ssl.SSLContext | None = None,
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
        verify,
        content=body,
        headers={"content-type": "application/octet-stream", "content-length": str(size)},
    )
    answer = _json(response)
    if not isinstance(answer, dict) or not answer.keys() >= _UPLOAD_KEYS:
        raise _not_the_service(response, "an upload's receipt")
    return answer


#: What the service's receipt for an upload holds.
_UPLOAD_KEYS = {"id", "agency", "month", "records", "fresh"}
#: How the first line of the service's results begins.
RESULTS_HEADER = "record_id,person_id"


#: How the first line of a joint-participant list begins.
JOINT_HEADER = "record_id,person_id,status"


def results(
    server: str,
    token: str,
    output: Path,
    waits: tuple[float, ...] = RETRY_WAITS,
    verify: ssl.SSLContext | None = None,
) -> int:
    """Write the agency's results (record id, person id) to ``output``; returns the rows.
    Written only once the answer is the service's CSV; an earlier file stays otherwise."""
    url = f"{server.rstrip('/')}/v1/results"
    return _fetch_csv(url, token, output, waits, verify, RESULTS_HEADER, "results")


def joint(
    server: str,
    token: str,
    partner: str,
    output: Path,
    waits: tuple[float, ...] = RETRY_WAITS,
    verify: ssl.SSLContext | None = None,
) -> int:
    """Write the agency's joint participants with ``partner`` (its own record ids of the
    consented people both serve, under an agreement in force) to ``output``; returns the
    rows. Written only once the answer is the service's CSV."""
    url = f"{server.rstrip('/')}/v1/joint/{quote(partner, safe='')}"
    return _fetch_csv(url, token, output, waits, verify, JOINT_HEADER, "joint list")


#: How the first line of an agency's notices begins.
NOTICES_HEADER = "month,record_id,person_id,event"


def notices(
    server: str,
    token: str,
    output: Path,
    since: str | None = None,
    waits: tuple[float, ...] = RETRY_WAITS,
    verify: ssl.SSLContext | None = None,
) -> int:
    """Write the agency's notices (of ``since`` and later months) to ``output``; returns the
    rows. Written only once the answer is the service's CSV."""
    url = f"{server.rstrip('/')}/v1/notices"
    if since is not None:
        url += f"?since={quote(since, safe='')}"
    return _fetch_csv(url, token, output, waits, verify, NOTICES_HEADER, "notices")


def _fetch_csv(
    url: str,
    token: str,
    output: Path,
    waits: tuple[float, ...],
    verify: ssl.SSLContext | None,
    header: str,
    wanted: str,
) -> int:
    response = _send("GET", url, token, waits, verify)
    text = response.text
    if _content_type(response) != "text/csv" or not text.startswith(header):
        raise _not_the_service(response, wanted)
    with atomic_write(output) as fh:
        fh.write(text.encode("utf-8"))
    return max(text.count("\n") - 1, 0)


def _content_type(response: httpx.Response) -> str:
    """The answer's media type, without its parameters ('' when none is given)."""
    kind: str = response.headers.get("content-type", "")
    return kind.split(";")[0].strip()


def _json(response: httpx.Response) -> Any:
    if _content_type(response) != "application/json":
        raise _not_the_service(response, "JSON")
    try:
        return response.json()
    except ValueError:
        raise _not_the_service(response, "JSON") from None


def _not_the_service(response: httpx.Response, wanted: str) -> ServiceError:
    kind = _content_type(response) or "no content type"
    return ServiceError(
        f"{_origin(str(response.request.url))} answered {response.status_code} with {kind}, "
        f"not the service's {wanted}; nothing was written",
        "check --server: it must be the coordinator's service itself, not a web page or a proxy",
    )


def _send(
    method: str,
    url: str,
    token: str,
    waits: tuple[float, ...],
    verify: ssl.SSLContext | None,
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
                verify=verify or trust(),
            )
        except httpx.InvalidURL:
            raise ServiceError(
                f"{url} is not an address the client can send to", "check --server"
            ) from None
        except httpx.HTTPError as err:
            untrusted = _certificate_problem(err)
            if untrusted:
                raise ServiceError(
                    f"{_origin(url)}'s certificate is not trusted ({untrusted})",
                    "give the authority that signed it with --ca-file (or SSL_CERT_FILE); "
                    "do not turn checking off",
                ) from None
            problem = f"cannot reach {_origin(url)} ({type(err).__name__})"
            continue
        if 300 <= response.status_code < 400:
            where = response.headers.get("location", "another address")
            raise ServiceError(
                f"{_origin(url)} answered {response.status_code}, a redirect to {where}; "
                "nothing was sent on or written",
                "give the service's own address as --server (https://, no path)",
            )
        if response.status_code < 300:
            return response
        reason = _reason(response)
        if response.status_code < 500 and response.status_code != 429:
            raise ServiceError(f"the service refused: {reason}", _hint(response.status_code))
        problem = f"the service answered {response.status_code}: {reason}"
    raise ServiceError(
        f"{problem}; gave up after {len(waits) + 1} tries",
        "check --server and that the service runs, then try again",
    )


def _certificate_problem(error: BaseException) -> str:
    """What certificate verification said, where that is why a connection failed."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return str(seen.verify_message or seen.reason or "verification failed")
        seen = seen.__cause__ or seen.__context__
    return ""


def _reason(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
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
