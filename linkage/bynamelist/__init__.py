"""The by-name list: a longitudinal store of people linked month after month.

Public API: :func:`create_store`, :func:`open_store`, :func:`upgrade_store`, :func:`ingest`,
:func:`estimate_month` (the active count with its interval, after an ingest),
:func:`rollback` (the latest month undone), :func:`check_upload`, :func:`build_report` (with
:func:`latest_month`), :func:`agency_mapping` and :func:`write_agency_export`. Coordinator
side: reads ``.clk`` files through the container and links them with the matcher; never
imports anything that reads plaintext or a secret.
"""

from linkage.bynamelist.export import agency_mapping, write_agency_export
from linkage.bynamelist.ingestion import IngestSummary, check_upload, ingest
from linkage.bynamelist.interval import estimate_month
from linkage.bynamelist.report import MonthReport, build_report, latest_month
from linkage.bynamelist.rollback import rollback
from linkage.bynamelist.store import Store, StoreError, create_store, open_store, upgrade_store

__all__ = [
    "IngestSummary",
    "MonthReport",
    "Store",
    "StoreError",
    "agency_mapping",
    "build_report",
    "check_upload",
    "create_store",
    "estimate_month",
    "ingest",
    "latest_month",
    "open_store",
    "rollback",
    "upgrade_store",
    "write_agency_export",
]
