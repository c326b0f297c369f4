"""One SQLite writer at a time, queued on a lock instead of SQLite's busy handler.

SQLite lets one connection write at a time. A second writer waits in SQLite's busy
handler, which sleeps 1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100 ms between attempts,
so under load a writer that lost a race sleeps tens of milliseconds although the lock
was free again after a few.

:func:`install` makes every connection of an SQLite engine take an exclusive lock just
before its first write statement, and give it back when the connection goes back to the
pool (after its commit or rollback) or is closed; a read marked with :data:`WRITE_INTENT`
takes it too. The lock is a ``threading.Lock`` for
the process's threads plus an ``flock`` on ``<db>.writelock`` for other processes
(``serve --workers``, the CLI): a waiting writer wakes when the lock is given back, and
SQLite never sees two writers. A writer that waited ``timeout`` seconds goes ahead
without the lock (SQLite's own locking still keeps the data safe), so a holder that
never ends cannot stop the others.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
import weakref
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event

__all__ = ["WRITE_INTENT", "SqliteWriteLock", "install", "lock_of"]

log = logging.getLogger(__name__)
WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "SAVEPOINT")
HELD = "health_advisor_write_lock"  # key in the DBAPI connection's info
WRITE_INTENT = "health_advisor_write_intent"
"""Execution option: this statement (a read) starts the transaction's writes, so the lock
is taken before it runs, e.g. ``SELECT ... FOR UPDATE``, which SQLite does not have (see
:func:`health_advisor.store.repositories.lock_client`)."""
_locks: weakref.WeakKeyDictionary[Engine, SqliteWriteLock] = weakref.WeakKeyDictionary()


class SqliteWriteLock:
    """Exclusive between threads (a Lock) and processes (flock on ``path``)."""

    def __init__(self, path: Path, *, timeout: float = 30.0) -> None:
        self.path, self.timeout = path, timeout
        self._threads = threading.Lock()
        self._fd: int | None = None

    def acquire(self) -> bool:
        """True when held; False after ``timeout`` seconds of waiting (go ahead unlocked)."""
        deadline = time.monotonic() + self.timeout
        if not self._threads.acquire(timeout=self.timeout):
            return False
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        delay = 0.0001
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() > deadline:
                    self._threads.release()
                    return False
                time.sleep(delay)  # another process writes: wait a fraction of a ms
                delay = min(delay * 2, 0.001)

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._threads.release()


def install(engine: Engine, path: Path) -> SqliteWriteLock:
    """Serialise the writes of ``engine`` (a file SQLite database) on a lock at ``path``."""
    lock = SqliteWriteLock(path)

    def before_cursor_execute(
        conn: Any, cursor: Any, statement: str, _params: Any = None, context: Any = None, *_: Any
    ) -> None:
        if HELD in conn.info:
            return
        intent = context is not None and context.execution_options.get(WRITE_INTENT, False)
        if not intent and not statement.lstrip()[:9].upper().startswith(WRITES):
            return
        if lock.acquire():
            conn.info[HELD] = True
        else:
            log.warning("SQLite write lock %s not free after %.0f s", path, lock.timeout)

    def savepoint(conn: Any, _name: str) -> None:
        before_cursor_execute(conn, None, "SAVEPOINT")

    def returned(dbapi_connection: Any, record: Any, reset_state: Any) -> None:
        closed(dbapi_connection, record)

    def closed(dbapi_connection: Any, record: Any) -> None:
        if record.info.pop(HELD, False):
            lock.release()

    event.listen(engine, "before_cursor_execute", before_cursor_execute)
    event.listen(engine, "savepoint", savepoint)
    event.listen(engine.pool, "reset", returned)
    event.listen(engine.pool, "close", closed)
    _locks[engine] = lock
    return lock


def lock_of(engine: Engine) -> SqliteWriteLock | None:
    """The lock :func:`install` put on ``engine`` (None: not a file SQLite engine)."""
    return _locks.get(engine)
