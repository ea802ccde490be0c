"""linkage: privacy-preserving record linkage for homeless-service by-name lists.

The public API is deliberately small; everything not listed in ``__all__`` is internal.
"""

__version__ = "0.4.1"

__all__ = ["__version__"]
