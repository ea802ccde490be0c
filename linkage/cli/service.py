"""The coordinator's service commands: ``serve``, ``token`` and ``uploads``. The agencies'
side of the service (``upload``, ``results``) is in :mod:`linkage.cli.agency`."""

from __future__ import annotations

from pathlib import Path

import click

from linkage.cli.common import db_option, example

_TOKEN_HELP = (
    "File holding your token (from 'linkage token add'). Or set LINKAGE_TOKEN. Never pass a "
    "token on the command line."
)


def _server_option(f: click.decorators.FC) -> click.decorators.FC:
    """--server, and --ca-file for a service whose certificate the system does not trust."""
    f = click.option(
        "--ca-file",
        type=click.Path(path_type=Path),
        help="Trust only this PEM certificate authority for the server's certificate "
        "(default: the system's, or SSL_CERT_FILE).",
    )(f)
    return click.option(
        "--server",
        envvar="LINKAGE_SERVER",
        required=True,
        help="The coordinator's service, e.g. https://linkage.example.org. Or set LINKAGE_SERVER.",
    )(f)


@click.command(
    epilog=example(
        "linkage serve --db community.db --spool spool/ --port 8443 \\",
        "    --tls-cert cert.pem --tls-key key.pem",
        "linkage serve --db postgresql://coordinator@localhost/bnl  # on 127.0.0.1, behind a proxy",
    )
)
@db_option
@click.option(
    "--spool",
    type=click.Path(path_type=Path),
    default="spool",
    show_default=True,
    help="Folder where received uploads wait for their month's ingest.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=int, default=8080, show_default=True, help="Port to listen on.")
@click.option(
    "--upload-limit",
    type=click.IntRange(min=1),
    default=1 << 30,
    show_default=True,
    help="Largest upload accepted, in bytes.",
)
@click.option("--tls-cert", type=click.Path(path_type=Path), help="Serve HTTPS with this cert.")
@click.option("--tls-key", type=click.Path(path_type=Path), help="The certificate's key.")
def serve(
    db: str,
    spool: Path,
    host: str,
    port: int,
    upload_limit: int,
    tls_cert: Path | None,
    tls_key: Path | None,
) -> None:
    """Run the coordinator's service: uploads, ingests, results, reports.

    Agencies send uploads with 'linkage upload' and fetch results with 'linkage results';
    staff start each month's ingest and work the review queue through the API (its
    description is at /openapi.json). Serve HTTPS directly with --tls-cert and --tls-key, or listen
    on 127.0.0.1 behind a TLS-terminating proxy; never serve plain HTTP to a network.
    """
    import uvicorn

    from linkage.bynamelist import open_store
    from linkage.service import Settings, create_app
    from linkage.service.gate import HeaderTimeout

    if (tls_cert is None) != (tls_key is None):
        raise click.UsageError("give both --tls-cert and --tls-key, or neither")
    store = open_store(db)
    app = create_app(store, Settings(spool=spool, upload_limit=upload_limit))
    scheme = "https" if tls_cert else "http"
    click.echo(
        f"serving {db} at {scheme}://{host}:{port} (API description: /openapi.json)", err=True
    )
    uvicorn.run(
        app,
        host=host,
        port=port,
        ssl_certfile=str(tls_cert) if tls_cert else None,
        ssl_keyfile=str(tls_key) if tls_key else None,
        log_level="warning",
        access_log=False,  # the service audits every request itself, without query values
        proxy_headers=True,
        http=HeaderTimeout,  # slow-header connections are closed
    )


@click.group(
    epilog=example(
        "linkage token add --db community.db --agency shelter-north -o shelter-north.token",
        "linkage token add --db community.db --staff --label 'A. Coordinator' -o staff.token",
        "linkage token revoke --db community.db 3",
    )
)
def token() -> None:
    """The service's tokens: one per agency and per staff member."""


@token.command(
    "add", epilog=example("linkage token add --db community.db --agency north -o north.token")
)
@db_option
@click.option("--agency", help="The agency the token uploads for (its encode --agency name).")
@click.option("--staff", is_flag=True, help="A token for the coordinator's staff instead.")
@click.option("--label", default="", help="Who holds it, for the token list.")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    required=True,
    help="Write the token here (readable by you only); hand it over safely.",
)
def token_add(db: str, agency: str | None, staff: bool, label: str, output: Path) -> None:
    """Make a token; it is written once, to a file, and the store keeps only its digest."""
    from linkage.bynamelist import open_store
    from linkage.service import issue_token
    from linkage.service.auth import write_token_file

    if output.exists():
        raise click.UsageError(f"{output} exists; give a new file")
    store = open_store(db)
    token_id, secret = issue_token(
        store,
        "staff" if staff else "agency",
        None if staff else agency,
        label or (agency or "staff"),
    )
    write_token_file(output, secret)
    who = "staff" if staff else f"agency {agency}"
    click.echo(f"token {token_id} for {who} written to {output}")


@token.command("list", epilog=example("linkage token list --db community.db"))
@db_option
def token_list(db: str) -> None:
    """The tokens: id, role, agency, label, made and revoked (never the tokens)."""
    from linkage.bynamelist import open_store
    from linkage.service import token_listing

    for t in token_listing(open_store(db)):
        revoked = f"revoked {t['revoked_at']:%Y-%m-%d}" if t["revoked_at"] else "live"
        click.echo(
            f"{t['id']:>4}  {t['role']:<6}  {t['agency'] or '-':<24}  {t['label']:<24}  "
            f"made {t['created_at']:%Y-%m-%d}  {revoked}"
        )


@token.command("revoke", epilog=example("linkage token revoke --db community.db 3"))
@db_option
@click.argument("token_id", type=int)
def token_revoke(db: str, token_id: int) -> None:
    """Stop a token at once, for good."""
    from linkage.bynamelist import open_store
    from linkage.service import revoke_token

    revoke_token(open_store(db), token_id)
    click.echo(f"token {token_id} revoked")


@click.group(
    epilog=example(
        "linkage uploads list --db community.db",
        "linkage uploads discard --db community.db 12 --reason 'sent for the wrong month'",
    )
)
def uploads() -> None:
    """The uploads the service received: list them, or discard one no ingest has taken."""


@uploads.command("list", epilog=example("linkage uploads list --db community.db"))
@db_option
def uploads_list(db: str) -> None:
    """Every upload received: id, agency, month, size, when, and its state (waiting for the
    month's ingest, taken by an ingest job, or discarded)."""
    from linkage.bynamelist import open_store
    from linkage.service import upload_listing

    for u in upload_listing(open_store(db)):
        click.echo(
            f"{u['id']:>5}  {u['agency']:<24}  {u['month']}  {u['size']:>12,} bytes  "
            f"received {u['received_at']:%Y-%m-%d %H:%M}  {u['state']}"
        )


@uploads.command(
    "discard",
    epilog=example("linkage uploads discard --db community.db 12 --reason 'wrong month'"),
)
@db_option
@click.argument("upload_id", type=int)
@click.option("--reason", default="", help="Why, for the record (never a name or any value).")
def uploads_discard(db: str, upload_id: int, reason: str) -> None:
    """Set aside a waiting upload (a wrong file an agency sent) so the month's ingest goes on
    without it. The agency may send a corrected file; the discard is recorded."""
    from linkage.bynamelist import open_store
    from linkage.service import UploadRefused, discard_upload

    try:
        got = discard_upload(open_store(db), upload_id, " ".join(reason.split()))
    except UploadRefused as err:
        raise click.ClickException(err.reason) from None
    click.echo(f"upload {upload_id} ({got.agency}, {got.month}) discarded")


COMMANDS: tuple[click.Command, ...] = (serve, token, uploads)
