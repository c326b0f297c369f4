"""Data-quality figures per ingested file (the pipeline's validate step).

Ingestion already validates record by record and quarantines what fails; this step looks
at each new file as a whole, once: how much of it was kept, duplicated or quarantined (and
for which fields), which metrics it brought, over which period, for how many clients. A
file is *flagged* when an unusual share of its values was quarantined, when it brought
nothing at all, or when it only repeated data already stored. Flags are recorded, not
raised: the records themselves are already safe in quarantine, and a person decides.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from health_advisor.store.models import DataQuality, DataSource, Measurement, Quarantine

MAX_QUARANTINE_SHARE = 0.20


@dataclass(frozen=True, slots=True)
class QualityRow:
    source_id: int
    kind: str
    records_read: int
    measurements_stored: int
    duplicates: int
    quarantined: int
    quarantine_share: float
    duplicate_share: float
    flags: list[str]
    metrics: dict[str, Any]

    @property
    def flagged(self) -> bool:
        return bool(self.flags)


def pending_sources(session: Session) -> list[DataSource]:
    """Ingested files without quality figures yet, oldest first."""
    done = select(DataQuality.source_id)
    return list(
        session.scalars(
            select(DataSource).where(DataSource.id.not_in(done)).order_by(DataSource.id)
        )
    )


def measured(session: Session, source_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """Per file and metric: values stored, first and last observation.

    ``measurements`` has no index on its source (a second index slows bulk ingestion by
    40 %), so this is one scan of the table per validate run, grouped in the database.
    """
    rows = session.execute(
        select(
            Measurement.source_id,
            Measurement.metric,
            func.count(),
            func.min(Measurement.observed_at),
            func.max(Measurement.observed_at),
        )
        .where(Measurement.source_id.in_(source_ids))
        .group_by(Measurement.source_id, Measurement.metric)
    ).all()
    out: dict[int, dict[str, Any]] = defaultdict(dict)
    for source_id, metric, n, first, last in rows:
        out[int(source_id)][str(metric)] = {
            "values": int(n),
            "first": first.isoformat() if first is not None else None,
            "last": last.isoformat() if last is not None else None,
        }
    return out


def quarantined_fields(session: Session, source_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """Per file: quarantined records per field (the record's reason names the field)."""
    rows = session.execute(
        select(Quarantine.source_id, Quarantine.field, func.count())
        .where(Quarantine.source_id.in_(source_ids))
        .group_by(Quarantine.source_id, Quarantine.field)
    ).all()
    out: dict[int, dict[str, int]] = defaultdict(dict)
    for source_id, name, n in rows:
        out[int(source_id)][str(name or "record")] = int(n)
    return out


def assess(
    source: DataSource,
    metrics: dict[str, Any],
    quarantine: dict[str, int],
    *,
    max_quarantine_share: float = MAX_QUARANTINE_SHARE,
) -> QualityRow:
    """One file's figures and flags (pure: the inputs are what the store holds)."""
    stored = source.measurements_stored + source.interactions_stored
    values = stored + source.measurements_duplicate + source.quarantined
    q_share = source.quarantined / values if values else 0.0
    d_share = source.measurements_duplicate / values if values else 0.0
    flags = []
    if q_share > max_quarantine_share:
        flags.append(f"quarantine share {q_share:.1%} above {max_quarantine_share:.0%}")
    if source.records_read == 0:
        flags.append("no records")
    elif values == 0 and source.kind != "survey":
        flags.append("nothing stored, duplicated or quarantined")
    elif stored == 0 and source.measurements_duplicate > 0:
        flags.append("only duplicates of stored data")
    return QualityRow(
        source_id=source.id,
        kind=source.kind,
        records_read=source.records_read,
        measurements_stored=source.measurements_stored,
        duplicates=source.measurements_duplicate,
        quarantined=source.quarantined,
        quarantine_share=q_share,
        duplicate_share=d_share,
        flags=flags,
        metrics={
            "file_name": source.file_name,
            "clients": source.clients_seen,
            "interactions": source.interactions_stored,
            "per_metric": metrics,
            "quarantined_by_field": quarantine,
            "flags": flags,
        },
    )


def validate_pending(
    session: Session,
    *,
    pipeline_run_id: int | None,
    max_quarantine_share: float = MAX_QUARANTINE_SHARE,
) -> list[QualityRow]:
    """Assess and store every file not assessed yet; returns what was stored."""
    sources = pending_sources(session)
    if not sources:
        return []
    ids = [s.id for s in sources]
    per_metric = measured(session, ids)
    per_field = quarantined_fields(session, ids)
    rows = [
        assess(
            s,
            per_metric.get(s.id, {}),
            per_field.get(s.id, {}),
            max_quarantine_share=max_quarantine_share,
        )
        for s in sources
    ]
    session.add_all(
        DataQuality(
            source_id=r.source_id,
            pipeline_run_id=pipeline_run_id,
            kind=r.kind,
            records_read=r.records_read,
            measurements_stored=r.measurements_stored,
            duplicates=r.duplicates,
            quarantined=r.quarantined,
            quarantine_share=r.quarantine_share,
            duplicate_share=r.duplicate_share,
            flagged=r.flagged,
            metrics=r.metrics,
        )
        for r in rows
    )
    return rows


def recent(session: Session, limit: int = 50) -> list[dict[str, Any]]:
    """The latest files' figures, newest first (for the drift report and listings)."""
    rows = session.execute(
        select(DataQuality, DataSource.file_name)
        .join(DataSource, DataSource.id == DataQuality.source_id)
        .order_by(DataQuality.id.desc())
        .limit(limit)
    ).all()
    return [
        {
            "source_id": q.source_id,
            "file_name": name,
            "kind": q.kind,
            "records_read": q.records_read,
            "measurements_stored": q.measurements_stored,
            "duplicates": q.duplicates,
            "quarantined": q.quarantined,
            "quarantine_share": q.quarantine_share,
            "duplicate_share": q.duplicate_share,
            "flagged": q.flagged,
            "flags": q.metrics.get("flags", []),
        }
        for q, name in rows
    ]
