"""Ingestion into the store: one file, one transaction, with lineage and quarantine.

Flow for each file: hash it (sha256 lineage; a file already ingested is a no-op reported
as such) → parse it with its adapter (a malformed file raises before anything is
written) → in ONE transaction: record the data source, create or update clients, bulk
insert measurements and interactions (rows already stored are skipped, which makes
overlapping exports idempotent), store surveys and quarantined records with their
reasons. Any failure rolls the whole file back.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from health_advisor.errors import InputError
from health_advisor.ingest.base import ParseResult
from health_advisor.store import bulk, repositories
from health_advisor.store.models import DataSource, Quarantine, Survey
from health_advisor.store.session import session_scope

PARSER_VERSION = "1"


@dataclass(frozen=True, slots=True)
class IngestReport:
    path: str
    kind: str
    sha256: str
    status: str  # "ingested" | "unchanged"
    records_read: int = 0
    clients: int = 0
    measurements: int = 0
    duplicates: int = 0
    interactions: int = 0
    surveys: int = 0
    quarantined: int = 0
    source_id: int | None = None


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def ingest_file(engine: Engine, path: Path, *, source: str = "auto") -> IngestReport:
    """Ingest one file; see the module docstring for the guarantees."""
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    sha = file_sha256(path)
    with session_scope(engine) as session:
        known = repositories.source_by_sha(session=session, sha256=sha)
        if known is not None:
            return IngestReport(str(path), known.kind, sha, "unchanged", source_id=known.id)
    from health_advisor.ingest.adapters import parse_file  # adapters pull in heavy parsers

    result = parse_file(path, source)
    with session_scope(engine) as session:
        return store_parsed(session, path, sha, result)


def ingest_paths(
    engine: Engine,
    paths: list[Path],
    *,
    source: str = "auto",
    on_file: Callable[[IngestReport], None] | None = None,
) -> list[IngestReport]:
    """Ingest files and the files inside folders (sorted, recursively)."""
    reports = []
    for path in expand_paths(paths):
        report = ingest_file(engine, path, source=source)
        reports.append(report)
        if on_file is not None:
            on_file(report)
    return reports


def expand_paths(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(
                p for p in sorted(path.rglob("*")) if p.is_file() and _wanted(p.relative_to(path))
            )
        elif path.exists():
            files.append(path)
        else:
            raise InputError(f"{path}: no such file or folder")
    return files


def _wanted(relative: Path) -> bool:
    """A data file inside a given folder: not hidden (below the folder), a known suffix."""
    hidden = any(part.startswith(".") for part in relative.parts)
    return not hidden and relative.suffix.lower() in {".csv", ".json", ".xml", ".ndjson"}


def store_parsed(session: Session, path: Path, sha: str, result: ParseResult) -> IngestReport:
    source = DataSource(
        kind=result.source_kind,
        file_name=path.name,
        sha256=sha,
        size_bytes=path.stat().st_size,
        parser_version=PARSER_VERSION,
        records_read=result.records_read,
    )
    session.add(source)
    session.flush()
    ids = repositories.client_ids(session=session, external_ids=_client_ids_in(result))
    repositories.update_client_details(
        session=session, records=[asdict(c) for c in result.clients], ids=ids
    )
    session.flush()
    conn = session.connection()
    measurements = _with_store_ids(result.measurements, ids, source.id)
    stored = bulk.insert_measurements(conn, measurements)
    interactions = _with_store_ids(result.interactions, ids, source.id)
    n_interactions = bulk.insert_interactions(conn, interactions)
    n_surveys = _store_surveys(session, result, ids, source.id)
    _store_quarantine(session, result, source.id)
    source.measurements_stored = stored
    source.measurements_duplicate = len(measurements) - stored
    source.interactions_stored = n_interactions
    source.clients_seen = len(ids)
    source.quarantined = len(result.quarantine)
    return IngestReport(
        path=str(path),
        kind=result.source_kind,
        sha256=sha,
        status="ingested",
        records_read=result.records_read,
        clients=len(ids),
        measurements=stored,
        duplicates=len(measurements) - stored,
        interactions=n_interactions,
        surveys=n_surveys,
        quarantined=len(result.quarantine),
        source_id=source.id,
    )


def _client_ids_in(result: ParseResult) -> set[str]:
    ids = {c.client_id for c in result.clients}
    ids.update(result.measurements["client_id"].dropna().astype(str).unique())
    ids.update(result.interactions["client_id"].dropna().astype(str).unique())
    ids.update(str(s["client_id"]) for s in result.surveys)
    return ids


def _with_store_ids(frame: pd.DataFrame, ids: dict[str, int], source_id: int) -> pd.DataFrame:
    out = frame.copy()
    out["client_id"] = out["client_id"].astype(str).map(ids).astype("int64")
    out["source_id"] = source_id
    return out


def _store_surveys(
    session: Session, result: ParseResult, ids: dict[str, int], source_id: int
) -> int:
    rows = []
    for survey in result.surveys:
        answers = {k: v for k, v in survey.items() if k not in ("client_id", "answered_at")}
        rows.append(
            {
                "client_id": ids[str(survey["client_id"])],
                "answered_at": _aware(survey["answered_at"]),
                "answers": _jsonable(answers),
                "source_id": source_id,
            }
        )
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    ins = postgresql.insert(Survey) if dialect == "postgresql" else sqlite.insert(Survey)
    res = session.execute(ins.on_conflict_do_nothing(), rows)
    return max(int(getattr(res, "rowcount", len(rows)) or 0), 0)


def _store_quarantine(session: Session, result: ParseResult, source_id: int) -> None:
    if not result.quarantine:
        return
    session.execute(
        insert(Quarantine),
        [
            {
                "source_id": source_id,
                "line": q.line,
                "field": q.field,
                "reason": q.reason,
                "raw": q.raw,
                "client_external_id": q.client_id,
                "created_at": datetime.now(UTC),
            }
            for q in result.quarantine
        ],
    )


def _aware(value: object) -> datetime:
    stamp = pd.Timestamp(value)  # type: ignore[arg-type]
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    return stamp.to_pydatetime()


def _jsonable(value: object) -> object:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [_jsonable(v) for v in value]
        return sorted(items, key=str) if isinstance(value, set | frozenset) else items
    if isinstance(value, datetime | pd.Timestamp):
        return value.isoformat()
    if hasattr(value, "isoformat"):
        return value.isoformat()  # dates
    if hasattr(value, "item"):
        return value.item()  # numpy scalars
    return value
