"""Choose the registry store from `--db`: a file path means SQLite, a URL means PostgreSQL."""

from __future__ import annotations

from .store import RegistryStore


def open_store(db: str, *, synchronous: str = "FULL") -> RegistryStore:
    if db.startswith(("postgresql://", "postgres://")):
        from .postgres_store import PostgresRegistryStore

        return PostgresRegistryStore(db)
    from .sqlite_store import SqliteRegistryStore

    return SqliteRegistryStore(db, synchronous=synchronous)
