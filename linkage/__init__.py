"""linkage: privacy-preserving record linkage for homeless-service by-name lists.

The public API is deliberately small; everything not listed in ``__all__`` is internal.

- At an agency (the base install): :func:`encode_file` turns an export into a ``.clk``
  file with :func:`read_secret`'s shared secret, under a :func:`load_config` config.
- At the coordinator (``linkage[coordinator]``): :func:`load_uploads` reads the agencies'
  files and a :class:`Linker` links them; :func:`open_store` opens the by-name list, to
  which :func:`ingest` adds a month.

Names are imported when first used, so that ``import linkage`` on an agency's install, which
carries none of the coordinator's packages, works and loads nothing it does not need.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from linkage.agency.encoding.keys import read_secret
    from linkage.agency.encoding.pipeline import encode_file
    from linkage.bynamelist import ingest, open_store
    from linkage.formats.config import load_config
    from linkage.matching import Linker, load_uploads

__version__ = "0.4.1"

_WHERE = {
    "encode_file": "linkage.agency.encoding.pipeline",
    "read_secret": "linkage.agency.encoding.keys",
    "load_config": "linkage.formats.config",
    "Linker": "linkage.matching",
    "load_uploads": "linkage.matching",
    "open_store": "linkage.bynamelist",
    "ingest": "linkage.bynamelist",
}

__all__ = [
    "Linker",
    "__version__",
    "encode_file",
    "ingest",
    "load_config",
    "load_uploads",
    "open_store",
    "read_secret",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'linkage' has no attribute {name!r}")
    return getattr(import_module(_WHERE[name]), name)
