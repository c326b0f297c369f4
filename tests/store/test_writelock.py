"""SQLite writers take turns on a lock (threads and processes) instead of sleeping in
SQLite's busy handler; readers never take it; it is given back with the connection."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from health_advisor.config import Settings
from health_advisor.store import migrate, writelock
from health_advisor.store.models import Client
from health_advisor.store.session import make_engine, session_factory, session_scope


@pytest.fixture
def sqlite(settings: Settings, tmp_path: Path) -> Engine:
    engine = make_engine(settings, url=f"sqlite:///{tmp_path / 'w.db'}")
    migrate.upgrade(engine)
    return engine


def _lock(engine: Engine) -> writelock.SqliteWriteLock:
    lock = writelock.lock_of(engine)
    assert lock is not None, "make_engine installs the lock on file SQLite databases"
    return lock


def test_concurrent_writers_take_turns_and_all_land(sqlite: Engine) -> None:
    lock = _lock(sqlite)
    inside, most = 0, 0
    guard = threading.Lock()
    acquire, release = lock.acquire, lock.release

    def counting_acquire() -> bool:
        nonlocal inside, most
        ok = acquire()
        with guard:
            inside += 1
            most = max(most, inside)
        return ok

    def counting_release() -> None:
        nonlocal inside
        with guard:
            inside -= 1
        release()

    lock.acquire, lock.release = counting_acquire, counting_release  # type: ignore[method-assign]

    def writer(n: int) -> None:
        for k in range(15):
            with session_scope(sqlite) as session:
                session.scalar(select(func.count()).select_from(Client))  # read, then write
                session.add(Client(external_id=f"w{n}-{k}"))

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with session_scope(sqlite) as session:
        assert session.scalar(select(func.count()).select_from(Client)) == 90
    assert most == 1 and inside == 0
    assert not lock._threads.locked()


def test_readers_never_take_it_and_rollback_or_close_give_it_back(sqlite: Engine) -> None:
    lock = _lock(sqlite)
    with session_scope(sqlite) as session:
        session.scalar(select(func.count()).select_from(Client))
        assert not lock._threads.locked()
    session = session_factory(sqlite)()
    session.add(Client(external_id="x"))
    session.flush()
    assert lock._threads.locked()
    session.rollback()
    assert not lock._threads.locked()
    session.add(Client(external_id="y"))
    session.flush()
    session.close()  # no commit: closing gives the connection, and the lock, back
    assert not lock._threads.locked()


def test_a_read_marked_as_write_intent_takes_it_until_the_transaction_ends(
    sqlite: Engine,
) -> None:
    from health_advisor.store import repositories

    lock = _lock(sqlite)
    with session_scope(sqlite) as session:
        session.add(Client(external_id="z"))
    with session_scope(sqlite) as session:
        client = repositories.get_client(session=session, external_id="z")
        assert client is not None and not lock._threads.locked()
        repositories.lock_client(session=session, client=client)  # SELECT, held from here
        assert lock._threads.locked()
    assert not lock._threads.locked()


def test_a_writer_goes_ahead_unlocked_after_the_timeout(tmp_path: Path) -> None:
    lock = writelock.SqliteWriteLock(tmp_path / "x.writelock", timeout=0.05)
    assert lock.acquire()
    other = writelock.SqliteWriteLock(tmp_path / "x.writelock", timeout=0.05)
    assert not other.acquire()  # held by another "process" (another descriptor): gives up
    lock.release()
    assert other.acquire()
    other.release()
