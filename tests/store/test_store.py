"""The store on SQLite and PostgreSQL: schema, encryption at rest, bulk writes, UTC times."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pandas as pd
import pytest
from sqlalchemy import Engine, func, inspect, select, text

from health_advisor.config import Settings
from health_advisor.errors import ConfigurationError
from health_advisor.store import bulk, migrate, repositories
from health_advisor.store.models import Client, DataSource, Measurement
from health_advisor.store.session import make_engine, session_scope

NAME = "Rosa Quispe Mamani"
EMAIL = "rosa.quispe@example.pe"


def _source(session) -> int:  # type: ignore[no-untyped-def]
    src = DataSource(
        kind="csv", file_name="x.csv", sha256="0" * 64, size_bytes=1, parser_version="1"
    )
    session.add(src)
    session.flush()
    return src.id


def test_migrations_reach_head_with_every_table(engine: Engine) -> None:
    assert migrate.current_revision(engine) == migrate.head_revision()
    tables = set(inspect(engine).get_table_names())
    assert {
        "clients",
        "consents",
        "measurements",
        "data_sources",
        "quarantine",
        "interventions",
        "catalog_versions",
        "interactions",
        "surveys",
    } <= tables


def test_upgrade_twice_is_a_no_op(engine: Engine) -> None:
    assert migrate.upgrade(engine) == migrate.head_revision()


def test_personal_fields_are_not_stored_in_plaintext(engine: Engine, settings: Settings) -> None:
    with session_scope(engine) as session:
        session.add(
            Client(
                external_id="c1",
                name=NAME,
                email=EMAIL,
                phone="+51 987 654 321",
                birth_date=date(1970, 5, 1),
            )
        )
    with engine.connect() as conn:
        raw = conn.execute(text("SELECT name, email, phone, birth_date FROM clients")).one()
    for blob, plain in zip(raw, [NAME, EMAIL, "987 654 321", "1970-05-01"], strict=True):
        assert plain.encode() not in bytes(blob)
    if engine.dialect.name == "sqlite":
        engine.dispose()  # flush the WAL into the file before reading its bytes
        db_file = settings.home / "health_advisor.db"
        data = db_file.read_bytes()
        assert b"Quispe" not in data and b"example.pe" not in data
    with session_scope(engine) as session:
        client = repositories.get_client(session=session, external_id="c1")
        assert client is not None
        assert (client.name, client.email, client.birth_date) == (NAME, EMAIL, date(1970, 5, 1))


def test_wrong_key_cannot_read_personal_fields(settings: Settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    eng = make_engine(settings)
    migrate.upgrade(eng)
    with session_scope(eng) as session:
        session.add(Client(external_id="c1", name=NAME))
    other = Settings(
        home=settings.home,
        env="test",
        encryption_key="QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=",
    )
    eng2 = make_engine(other)
    with pytest.raises(ConfigurationError, match="cannot decrypt"), session_scope(eng2) as s:
        repositories.get_client(session=s, external_id="c1")


def test_datetimes_come_back_aware_in_utc(engine: Engine) -> None:
    lima = timezone(timedelta(hours=-5))
    with session_scope(engine) as session:
        client = Client(external_id="c1")
        session.add(client)
        session.flush()
        session.add(
            Measurement(
                client_id=client.id,
                metric="8867-4",
                value=61,
                unit="/min",
                original_value=61,
                original_unit="/min",
                observed_at=datetime(2024, 3, 1, 7, 30, tzinfo=lima),
                source_id=_source(session),
                source_record="r1",
            )
        )
    with session_scope(engine) as session:
        stamp = session.scalar(select(Measurement.observed_at))
    assert stamp == datetime(2024, 3, 1, 12, 30, tzinfo=UTC)


def test_bulk_insert_skips_rows_already_stored(engine: Engine) -> None:
    with session_scope(engine) as session:
        ids = repositories.client_ids(session=session, external_ids=["a", "b"])
        source_id = _source(session)
    frame = pd.DataFrame(
        {
            "client_id": [ids["a"], ids["a"], ids["b"]],
            "metric": ["41950-7"] * 3,
            "value": [1000.0, 2000.0, 3000.0],
            "unit": ["/d"] * 3,
            "original_value": [1000.0, 2000.0, 3000.0],
            "original_unit": ["steps"] * 3,
            "observed_at": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-01"], utc=True),
            "source_id": source_id,
            "source_record": ["r1", "r2", "r3"],
        }
    )
    with session_scope(engine) as session:
        assert bulk.insert_measurements(session.connection(), frame) == 3
    with session_scope(engine) as session:
        assert bulk.insert_measurements(session.connection(), frame) == 0
        assert session.scalar(select(func.count()).select_from(Measurement)) == 3
        first = session.scalar(select(Measurement).where(Measurement.source_record == "r2"))
        assert first is not None
        assert first.observed_at == datetime(2024, 1, 2, tzinfo=UTC)


def test_client_ids_create_missing_clients_once(engine: Engine) -> None:
    with session_scope(engine) as session:
        first = repositories.client_ids(session=session, external_ids=["x", "y"])
    with session_scope(engine) as session:
        second = repositories.client_ids(session=session, external_ids=["y", "x", "z"])
        assert {k: second[k] for k in first} == first
        assert session.scalar(select(func.count()).select_from(Client)) == 3


def test_client_summaries_and_count_do_not_need_the_key(engine: Engine, settings: Settings) -> None:
    with session_scope(engine) as session:
        session.add(Client(external_id="c1", name=NAME, sex="female", birth_year=1970))
    other = Settings(
        home=settings.home,
        env="test",
        encryption_key="QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=",
    )
    url = engine.url.render_as_string(hide_password=False)
    wrong_key = make_engine(other, url=url) if engine.dialect.name == "sqlite" else None
    with session_scope(wrong_key or engine) as session:
        assert repositories.client_summaries(session=session) == [("c1", "female", 1970)]
        assert repositories.count_clients(session=session) == 1


def test_a_released_savepoint_is_undone_by_the_rollback_of_its_transaction(
    engine: Engine,
) -> None:
    """Python's sqlite3 opens a transaction only before DML: a SAVEPOINT issued first
    opened its own, and releasing it committed (a rolled-back plan stayed written)."""
    from health_advisor.store.session import session_factory

    with session_factory(engine)() as session:
        session.scalar(select(func.count()).select_from(Client))  # reads only so far
        with session.begin_nested():
            session.add(Client(external_id="savepoint-1"))
        session.rollback()
    with session_scope(engine) as session:
        assert session.scalar(select(Client).where(Client.external_id == "savepoint-1")) is None
