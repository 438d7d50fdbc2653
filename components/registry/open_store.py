"""Choose the registry store from `--db`: a file path means SQLite, a URL means PostgreSQL."""

from __future__ import annotations

from .store import RegistryStore


def open_store(db: str, *, synchronous: str = "FULL", indexed: bool = True) -> RegistryStore:
    """The durable store for `db`, behind the in-memory search index unless `indexed` is False."""
    durable: RegistryStore
    if db.startswith(("postgresql://", "postgres://")):
        from .postgres_store import PostgresRegistryStore

        durable = PostgresRegistryStore(db)
    else:
        from .sqlite_store import SqliteRegistryStore

        durable = SqliteRegistryStore(db, synchronous=synchronous, search_indexes=not indexed)
    if not indexed:
        return durable
    from .indexed_store import IndexedRegistryStore

    return IndexedRegistryStore(durable)
