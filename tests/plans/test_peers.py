"""Similar clients' adherence: the sums per (sex, birth year) give exactly what one
aggregate query over the client's peers gives, from the database or from the cache."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from health_advisor.plans import peers
from health_advisor.plans.model import PeerStat
from health_advisor.store.models import Client, Interaction
from health_advisor.store.session import session_scope


def reference(session: Session, client: Client, minimum: int) -> dict[str, PeerStat]:
    """The definition: one aggregate over the other clients of the same sex born within
    AGE_SPAN years (any sex / any year when the client's is unknown)."""
    query = (
        select(
            Interaction.intervention_id,
            func.count(func.distinct(Interaction.client_id)),
            func.avg(Interaction.value),
        )
        .join(Client, Client.id == Interaction.client_id)
        .where(Interaction.kind == "adherence", Client.id != client.id)
        .group_by(Interaction.intervention_id)
    )
    if client.sex is not None:
        query = query.where(Client.sex == client.sex)
    if client.birth_year is not None:
        span = peers.AGE_SPAN
        query = query.where(
            Client.birth_year.between(client.birth_year - span, client.birth_year + span)
        )
    return {
        item: PeerStat(int(n), float(mean) / 100.0)
        for item, n, mean in session.execute(query)
        if n >= minimum and mean is not None
    }


def _assert_same(got: dict[str, PeerStat], want: dict[str, PeerStat]) -> None:
    assert got.keys() == want.keys()
    for item, stat in want.items():
        assert got[item].clients == stat.clients, item
        assert got[item].mean_adherence == pytest.approx(stat.mean_adherence, abs=1e-9), item


@pytest.mark.parametrize("minimum", [1, peers.MIN_PEERS])
def test_sums_give_the_reference_for_every_client(
    stored: Engine, minimum: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(peers, "MIN_PEERS", minimum)
    with session_scope(stored) as session:
        clients = list(session.scalars(select(Client).order_by(Client.id)))
        clients[0].sex = None  # unknown sex: peers of any sex
        clients[1].birth_year = None  # unknown age: peers of any age (with a year or not)
        clients[2].sex, clients[2].birth_year = None, None
        session.flush()
        cache = peers.PeerCache()
        compared = 0
        for client in clients:
            want = reference(session, client, minimum)
            _assert_same(peers.peer_stats(session, client), want)
            _assert_same(peers.peer_stats(session, client, cache), want)
            compared += len(want)
        assert compared > 0
        session.rollback()


def _report(session: Session, client: Client, at: dt.datetime) -> None:
    """One more adherence report by ``client`` (brisk walking, 50 %)."""
    session.add(
        Interaction(
            client_id=client.id,
            intervention_id="ex_brisk_walking",
            kind="adherence",
            value=50.0,
            at=at,
        )
    )


def test_the_cache_is_rebuilt_after_its_ttl(stored: Engine) -> None:
    with session_scope(stored) as session:
        other = session.scalars(select(Client).order_by(Client.id)).first()
        assert other is not None
        cache = peers.PeerCache(ttl=3600)
        before = cache.get(session)
        _report(session, other, dt.datetime(2031, 1, 1, tzinfo=dt.UTC))
        session.flush()
        assert cache.get(session) is before  # within the ttl: the same sums
        cache.clear()
        after = cache.get(session)
        key = (other.sex, other.birth_year)
        assert after.groups[key]["ex_brisk_walking"].reports == (
            before.groups.get(key, {}).get("ex_brisk_walking", peers.Sums(0, 0, 0.0)).reports + 1
        )
        session.rollback()


def test_stale_sums_are_served_while_they_are_rebuilt_in_the_background(stored: Engine) -> None:
    now = [0.0]
    cache = peers.PeerCache(ttl=60, clock=lambda: now[0])
    with session_scope(stored) as session:
        other = session.scalars(select(Client).order_by(Client.id)).first()
        assert other is not None
        key = (other.sex, other.birth_year)
        before = cache.get(session)
        _report(session, other, dt.datetime(2031, 1, 2, tzinfo=dt.UTC))
    reports = before.groups.get(key, {}).get("ex_brisk_walking", peers.Sums(0, 0, 0.0)).reports
    now[0] = 61.0
    with session_scope(stored) as session:
        assert cache.get(session) is before  # expired: answered at once with what it has
        cache.wait(timeout=30)
        after = cache.get(session)  # the rebuild (its own session) has landed
    assert after is not before
    assert after.groups[key]["ex_brisk_walking"].reports == reports + 1
    with session_scope(stored) as session:
        assert cache.get(session) is after  # fresh again for another ttl
    cache.wait(timeout=30)


def test_a_failed_rebuild_keeps_the_sums_and_is_tried_again(
    stored: Engine, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    now = [0.0]
    cache = peers.PeerCache(ttl=60, clock=lambda: now[0])
    with session_scope(stored) as session:
        before = cache.get(session)
    calls = []

    def broken(session: object, client: object = None) -> peers.PeerSums:
        calls.append(now[0])
        raise RuntimeError("database is locked")

    monkeypatch.setattr(peers, "load_sums", broken)
    now[0] = 61.0
    with session_scope(stored) as session, caplog.at_level("ERROR"):
        assert cache.get(session) is before
        cache.wait(timeout=30)
        assert cache.get(session) is before  # kept; the next try waits another ttl
    assert calls == [61.0]
    assert "not rebuilt" in caplog.text
