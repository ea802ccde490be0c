"""``linkage demo --service``: the same synthetic community, but every file goes through the
coordinator's service as it would in a real community.

The service runs on loopback in this process. Each month each agency encodes its export
on its side and sends it with the agencies' client (``linkage upload``); the coordinator's
staff start the month's ingest through the API and wait for the job; at the end each agency
fetches its own results (``linkage results``), the first agency its joint participants with
the second and its notices (under the agreements the two sign after the first month), and
the staff read the dashboard's figures.
With ``keep_serving`` the service stays up for a person to open the dashboard in a browser.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from linkage.agency.encoding.keys import read_secret, write_secret
from linkage.agency.upload import joint, notices, results, upload
from linkage.bynamelist import create_store
from linkage.errors import LinkageError
from linkage.formats.config import builtin_config_path
from linkage.research.demo import sign_agreements
from linkage.research.evaluation.longitudinal import encode_month
from linkage.research.synthetic.scenario import write_scenario
from linkage.service import Settings, create_app, issue_token
from linkage.service.auth import write_token_file
from linkage.service.local import LocalServer

STORE = "service.db"


def run_service_demo(
    out: Path,
    people: int,
    agencies: int,
    months: int,
    seed: int,
    port: int = 0,
    keep_serving: bool = False,
) -> Iterator[str]:
    """Run the demo through the service into ``out``, yielding lines for the terminal; with
    ``keep_serving``, serve on until interrupted (Ctrl-C)."""
    out.mkdir(parents=True, exist_ok=True)
    scenario = write_scenario(out / "exports", people, agencies, months=months, seed=seed)
    yield (
        f"1. synthetic community: {people} people, {agencies} agencies, {months} months "
        f"(seed {seed}); shared secret in {out / 'community.key'} (agencies only)"
    )
    key = out / "community.key"
    if not key.exists():
        write_secret(key)
    secret = read_secret(key)
    db = out / STORE
    db.unlink(missing_ok=True)  # an earlier run's list and tokens: start again
    store = create_store(str(db), builtin_config_path("hmis"))
    tokens = _tokens(store, out / "tokens", scenario.agencies)
    yield f"2. coordinator's store {db}; one token per agency and one for staff in {out / 'tokens'}"
    app = create_app(store, Settings(spool=out / "spool"))
    with LocalServer(app, port=port) as server:
        yield f"3. service at {server.url} (API description: {server.url}/openapi.json)"
        staff = {"authorization": f"Bearer {tokens['staff']}"}
        for month in scenario.months:
            paths = encode_month(scenario, month, store.config, secret, out / "uploads")
            for path in paths:
                upload(server.url, tokens[path.stem], path, month, waits=(1.0, 2.0))
            job = _ingest(server.url, staff, month)
            yield (
                f"   {month}: {len(paths)} agencies uploaded; ingest job {job['id']}: "
                + job["progress"]
            )
            if month == scenario.months[0]:
                sign_agreements(store, scenario)
        yield "4. each agency fetches its own records' person ids (linkage results):"
        (out / "results").mkdir(exist_ok=True)
        for agency in scenario.agencies:
            target = out / "results" / f"{agency}.csv"
            count = results(server.url, tokens[agency], target)
            yield f"   {agency}: {count:,} records -> {target}"
        if len(scenario.agencies) >= 2:
            ours, theirs = scenario.agencies[:2]
            shared = out / "results" / f"{ours}-joint-{theirs}.csv"
            told = out / "results" / f"{ours}-notices.csv"
            n = joint(server.url, tokens[ours], theirs, shared)
            m = notices(server.url, tokens[ours], told)
            yield (
                f"   {ours}, under its agreements with {theirs}: {n:,} joint participants "
                f"(linkage results --joint-with) -> {shared}; {m:,} notices (linkage results "
                f"--notices) -> {told}"
            )
        board = httpx.get(f"{server.url}/v1/dashboard", headers=staff, timeout=60).json()
        latest = board["figures"][board["latest_month"]]["all"]
        yield (
            f"5. the dashboard's figures for {board['latest_month']}: actively homeless "
            f"{_count(latest['active'])}, inflow {_count(latest['inflow'])}, outflow "
            f"{_count(latest['outflow'])}; {board['review_pending']} pairs to review"
        )
        if not keep_serving:
            yield "done: add --keep-serving to keep the service up and open its dashboard"
            return
        yield (
            f"dashboard: {server.url}/dashboard (paste the staff token from "
            f"{out / 'tokens' / 'staff.token'}); Ctrl-C stops the service"
        )
        threading.Event().wait()  # until Ctrl-C


def _tokens(store: Any, folder: Path, agencies: list[str]) -> dict[str, str]:
    """A token for staff and each agency, written to 0600 files as ``linkage token add``
    writes them (the demo's own, replaced on every run)."""
    folder.mkdir(parents=True, exist_ok=True)
    made = {}
    for who in ("staff", *agencies):
        role, agency = ("staff", None) if who == "staff" else ("agency", who)
        made[who] = issue_token(store, role, agency, f"demo {who}")[1]
        path = folder / f"{who}.token"
        path.unlink(missing_ok=True)
        write_token_file(path, made[who])
    return made


def _ingest(url: str, staff: dict[str, str], month: str) -> dict[str, Any]:
    """Start the month's ingest as staff would and wait for its job."""
    started = httpx.post(f"{url}/v1/months/{month}/ingest", headers=staff, timeout=60)
    if started.status_code != 202:
        raise LinkageError(f"the ingest of {month} was refused: {started.json()['detail']}")
    job: dict[str, Any] = started.json()
    while job["state"] in ("queued", "running"):
        time.sleep(0.2)
        job = httpx.get(f"{url}/v1/jobs/{job['id']}", headers=staff, timeout=60).json()
    if job["state"] != "done":
        raise LinkageError(f"the ingest of {month} failed: {job['error']}")
    return job


def _count(value: int | None) -> str:
    return "*" if value is None else f"{value:,}"
