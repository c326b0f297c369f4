"""How similar clients adhered: mean weekly adherence per intervention among clients of
the same sex born within :data:`AGE_SPAN` years, the client excluded.

The statistics are sums per (sex, birth year, intervention), so a client's peers are a
few dictionary look-ups and the client's own reports are subtracted rather than filtered
in SQL. :func:`peer_stats` reads the sums for one client's group straight from the
database (exact, one aggregate query per plan); :class:`PeerCache` keeps the sums of
every group for a long-running process (the API, a batch run) and rebuilds them in the
background every ``ttl`` seconds, so a plan costs no aggregate at all. Between rebuilds,
reports newer than the sums are not counted yet (a minute or so by default; the clinic's
reports are weekly).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from health_advisor.plans.model import PeerStat
from health_advisor.store.models import Client, Interaction

__all__ = ["AGE_SPAN", "MIN_PEERS", "PeerCache", "PeerSums", "peer_stats"]

log = logging.getLogger(__name__)
AGE_SPAN = 5  # similar clients: same sex, born within this many years
MIN_PEERS = 5  # fewer similar clients than this is not evidence
KIND = "adherence"

Group = tuple[str | None, int | None]  # (sex, birth year)


@dataclass(frozen=True, slots=True)
class Sums:
    """Adherence reports of one group on one intervention."""

    clients: int
    reports: int
    total: float


@dataclass(frozen=True, slots=True)
class PeerSums:
    """:class:`Sums` per (sex, birth year) group and intervention."""

    groups: Mapping[Group, Mapping[str, Sums]]

    def peers_of(self, client: Client, own: Mapping[str, tuple[int, float]]) -> dict[str, PeerStat]:
        """``client``'s peers per intervention, ``own`` (reports, total) taken out."""
        merged: dict[str, list[float]] = {}
        for group in self.groups:
            if not _similar(client, group):
                continue
            for item, sums in self.groups[group].items():
                acc = merged.setdefault(item, [0, 0, 0.0])
                acc[0] += sums.clients
                acc[1] += sums.reports
                acc[2] += sums.total
        out = {}
        for item, (clients, reports, total) in merged.items():
            own_reports, own_total = own.get(item, (0, 0.0))
            clients -= own_reports > 0
            reports -= own_reports
            if clients >= MIN_PEERS and reports > 0:
                out[item] = PeerStat(int(clients), (total - own_total) / reports / 100.0)
        return out


def _similar(client: Client, group: Group) -> bool:
    sex, year = group
    if client.sex is not None and sex != client.sex:
        return False
    if client.birth_year is not None:
        return year is not None and abs(year - client.birth_year) <= AGE_SPAN
    return True


def load_sums(session: Session, client: Client | None = None) -> PeerSums:
    """The sums of every group, or only of ``client``'s similar groups."""
    query = (
        select(
            Client.sex,
            Client.birth_year,
            Interaction.intervention_id,
            func.count(func.distinct(Interaction.client_id)),
            func.count(),
            func.sum(Interaction.value),
        )
        .join(Client, Client.id == Interaction.client_id)
        .where(Interaction.kind == KIND)
        .group_by(Client.sex, Client.birth_year, Interaction.intervention_id)
    )
    if client is not None and client.sex is not None:
        query = query.where(Client.sex == client.sex)
    if client is not None and client.birth_year is not None:
        query = query.where(
            Client.birth_year.between(client.birth_year - AGE_SPAN, client.birth_year + AGE_SPAN)
        )
    return PeerSums(_grouped(session.execute(query)))


def _grouped(rows: Iterable[Any]) -> dict[Group, dict[str, Sums]]:
    groups: dict[Group, dict[str, Sums]] = {}
    for sex, year, item, clients, reports, total in rows:
        key = (sex, None if year is None else int(year))
        groups.setdefault(key, {})[str(item)] = Sums(int(clients), int(reports), float(total or 0))
    return groups


def own_reports(session: Session, client: Client) -> dict[str, tuple[int, float]]:
    """The client's own adherence (reports, total) per intervention."""
    rows = session.execute(
        select(Interaction.intervention_id, func.count(), func.sum(Interaction.value))
        .where(Interaction.client_id == client.id, Interaction.kind == KIND)
        .group_by(Interaction.intervention_id)
    )
    return {str(item): (int(n), float(total or 0.0)) for item, n, total in rows}


def peer_stats(
    session: Session, client: Client, cache: PeerCache | None = None
) -> dict[str, PeerStat]:
    """Mean adherence per intervention among ``client``'s similar clients (at least
    :data:`MIN_PEERS` of them), from ``cache`` when given, else from the database."""
    sums = cache.get(session) if cache is not None else load_sums(session, client)
    return sums.peers_of(client, own_reports(session, client))


class PeerCache:
    """Every group's sums for a long-running process, rebuilt every ``ttl`` seconds.

    The first call builds them (callers wait once). After that a call that finds them
    older than ``ttl`` starts a rebuild in a background thread, with its own session on
    the caller's engine, and every call meanwhile is answered from the sums it has: the
    aggregate reads every adherence report in the store (milliseconds for the demo
    clinic, seconds for 100,000 clients), and no request should wait for it. A rebuild
    that fails is logged and tried again after another ``ttl``. Thread-safe.
    """

    def __init__(self, *, ttl: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl, self.clock = ttl, clock
        self._lock = threading.Lock()
        self._sums: PeerSums | None = None
        self._at = 0.0
        self._rebuild: threading.Thread | None = None

    def get(self, session: Session) -> PeerSums:
        with self._lock:
            if self._sums is None:
                self._sums, self._at = load_sums(session), self.clock()
            elif self.clock() - self._at > self.ttl and self._rebuild is None:
                engine = session.get_bind().engine
                self._rebuild = threading.Thread(
                    target=self._rebuild_sums, args=(engine,), name="peer-sums", daemon=True
                )
                self._rebuild.start()
            return self._sums

    def _rebuild_sums(self, engine: Engine) -> None:
        try:
            with Session(engine) as session:
                sums: PeerSums | None = load_sums(session)
        except Exception:
            log.exception("similar clients' adherence not rebuilt; the previous sums are kept")
            sums = None
        with self._lock:
            if sums is not None:
                self._sums = sums
            self._at, self._rebuild = self.clock(), None

    def wait(self, timeout: float | None = None) -> None:
        """Wait for a rebuild in progress, if any (tests, orderly shutdown)."""
        rebuild = self._rebuild
        if rebuild is not None:
            rebuild.join(timeout)

    def clear(self) -> None:
        with self._lock:
            self._sums = None
