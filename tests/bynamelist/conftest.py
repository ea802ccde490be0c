"""Fixtures shared by the by-name-list tests."""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import MetaData, create_engine, select

from linkage.agency.encoding.keys import generate_secret
from linkage.agency.encoding.pipeline import encode_file
from linkage.bynamelist.store import database_url
from linkage.formats.container import ClkData, read_clk


@pytest.fixture(scope="module")
def template(tmp_path_factory, network, hmis_config) -> ClkData:
    """Real encodings of ten different people (one agency's first ten clients, who have no
    second record there), to build uploads from: a copy of one person's encodings is that
    person at another agency."""
    out = tmp_path_factory.mktemp("template")
    truth: dict[str, str] = {}
    with open(network[0].parent.parent / "truth.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            if row["agency"] == "agency_1":
                truth[row["record_id"]] = row["person_id"]
    encode_file(hmis_config, generate_secret(), network[0], out / "a.clk", "agency_1")
    data = read_clk(out / "a.clk")
    people = [truth[i] for i in data.ids]
    picked = [i for i, p in enumerate(people) if people.count(p) == 1][:10]
    sections = {k: v[picked] for k, v in data.sections.items()}
    return dataclasses.replace(data, ids=[data.ids[i] for i in picked], sections=sections)


def dump(target: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of the store at ``target``, through a connection of its own
    (so it sees only what is committed), on SQLite and PostgreSQL alike."""
    engine = create_engine(database_url(target))
    try:
        tables = MetaData()
        tables.reflect(engine)
        with engine.connect() as conn:
            return {
                name: sorted(conn.execute(select(table)).all(), key=repr)
                for name, table in tables.tables.items()
            }
    finally:
        engine.dispose()


def scenario_store(db: str, scenario, uploads: Path):
    """A new store with every month of a written scenario encoded (with consent) and
    ingested in order, as its agencies and coordinator would."""
    from linkage.bynamelist import create_store, ingest
    from linkage.formats.config import builtin_config_path
    from linkage.research.evaluation.longitudinal import encode_month

    store = create_store(db, builtin_config_path("hmis"))
    secret = generate_secret()
    for month in scenario.months:
        ingest(store, encode_month(scenario, month, store.config, secret, uploads), month)
    return store
