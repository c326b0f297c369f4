"""Engines and sessions for the configured database (SQLite by default, PostgreSQL too)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from health_advisor.config import Settings, get_settings
from health_advisor.store import crypto, writelock


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA cache_size=-262144")  # 256 MiB page cache: bulk index inserts
    cur.execute("PRAGMA temp_store=MEMORY")
    cur.close()


def _sqlite_begin_before_savepoint(conn: Any, _name: str) -> None:
    """Open the transaction before a SAVEPOINT that would otherwise open it.

    Python's sqlite3 driver begins a transaction only before INSERT/UPDATE/DELETE. A
    SAVEPOINT issued before any of those (a session that has only read so far) opens a
    transaction of its own, and releasing that savepoint commits: a plan generated and
    then rolled back stayed written. With BEGIN first, the savepoint nests inside the
    session's transaction and only the session's commit makes it durable.
    """
    dbapi_connection = conn.connection.dbapi_connection
    if dbapi_connection is not None and not dbapi_connection.in_transaction:
        dbapi_connection.execute("BEGIN")


def make_engine(
    settings: Settings | None = None, url: str | None = None, *, search_path: str | None = None
) -> Engine:
    """An engine for ``url`` (default: the settings' database), with the cipher configured.

    ``search_path`` (PostgreSQL only) puts the tables in that schema: tests use it to
    isolate themselves on a shared server.
    """
    settings = settings or get_settings()
    url = url or settings.resolved_database_url
    crypto.configure(settings.personal_data_key())
    if url.startswith("sqlite"):
        if url.startswith("sqlite:///") and ":memory:" not in url:
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "savepoint", _sqlite_begin_before_savepoint)
        if url.startswith("sqlite:///") and ":memory:" not in url:
            database = Path(url.removeprefix("sqlite:///"))
            writelock.install(engine, database.with_name(database.name + ".writelock"))
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    connect_args = {"options": f"-csearch_path={search_path}"} if search_path else {}
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error."""
    with session_factory(engine)() as session, session.begin():
        yield session
