"""Comparison of encodings on the coordinator side.

Public API: :func:`dice_candidates` (the fast kernel) and :func:`dice_candidates_reference`
(its numpy reference, for tests and small inputs). Nothing here can read plaintext or a secret.
"""

import os


def _numba_cache_outside_the_install() -> None:
    """Keep numba's compiled kernels in the user's cache, not beside their source.

    By default numba writes its cache into ``__pycache__`` beside each module, which after
    ``pip install .`` is inside site-packages. Uninstalling leaves those files behind (pip
    did not install them), and a later ``pip install -e .`` (the README's second command
    after its first) then finds a bare ``linkage`` folder there that Python takes for a
    namespace package, shadowing the editable install everywhere but the repository's root.
    Set before numba is first imported; an explicit ``NUMBA_CACHE_DIR`` wins, and where no
    user cache can be made numba's own default stands."""
    if "NUMBA_CACHE_DIR" in os.environ:
        return
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    folder = os.path.join(base, "linkage", "numba")
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError:
        return
    if os.access(folder, os.W_OK):
        os.environ["NUMBA_CACHE_DIR"] = folder


_numba_cache_outside_the_install()

from linkage.matching.candidates.kernel import dice_candidates  # noqa: E402 (numba's cache is set first)
from linkage.matching.candidates.reference import dice_candidates_reference  # noqa: E402

__all__ = ["dice_candidates", "dice_candidates_reference"]
