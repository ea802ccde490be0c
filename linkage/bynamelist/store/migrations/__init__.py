"""Alembic migrations of the by-name-list store, run by :mod:`linkage.bynamelist.store`."""
