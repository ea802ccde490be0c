"""The by-name list: a longitudinal store of people linked month after month.

Public API: :func:`create_store`, :func:`open_store`, :func:`upgrade_store` and
:func:`ingest`. Coordinator side: reads ``.clk`` files through the container and links them
with the matcher; never imports anything that reads plaintext or a secret.
"""

from linkage.bynamelist.incremental import IngestReport, ingest
from linkage.bynamelist.store import Store, StoreError, create_store, open_store, upgrade_store

__all__ = [
    "IngestReport",
    "Store",
    "StoreError",
    "create_store",
    "ingest",
    "open_store",
    "upgrade_store",
]
