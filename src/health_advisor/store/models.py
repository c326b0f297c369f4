"""The canonical tables (see ARCHITECTURE.md, "Storage").

Measurements are in long form: one row per client, metric code, time and source record,
value in the metric's canonical unit with the original value and unit kept. The unique key
``(client_id, metric, observed_at, source_record)`` makes re-ingestion idempotent even when
an export overlaps an earlier one. Personal fields are encrypted at rest (``crypto``).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from health_advisor.store.crypto import EncryptedDate, EncryptedString
from health_advisor.store.types import UTCDateTime, utcnow

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BIGINT on PostgreSQL, INTEGER (the rowid alias) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, datetime: UTCDateTime}


class Client(Base):
    __tablename__ = "clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str | None] = mapped_column(EncryptedString("clients.name"))
    email: Mapped[str | None] = mapped_column(EncryptedString("clients.email"))
    phone: Mapped[str | None] = mapped_column(EncryptedString("clients.phone"))
    birth_date: Mapped[date | None] = mapped_column(EncryptedDate("clients.birth_date"))
    birth_year: Mapped[int | None] = mapped_column(Integer)
    sex: Mapped[str | None] = mapped_column(String(16))
    deceased: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    consents: Mapped[list[Consent]] = relationship(back_populates="client")


class Consent(Base):
    __tablename__ = "consents"
    # a client's latest answer for a purpose: read by every generation and ingestion
    __table_args__ = (Index("ix_consents_client_purpose", "client_id", "purpose", "recorded_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(64))  # wearable_ingestion, recommendations...
    granted: Mapped[bool] = mapped_column(Boolean)
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    evidence: Mapped[str | None] = mapped_column(EncryptedString("consents.evidence"))

    client: Mapped[Client] = relationship(back_populates="consents")


class DataSource(Base):
    """Lineage: one row per ingested file, keyed by its content hash."""

    __tablename__ = "data_sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    file_name: Mapped[str] = mapped_column(String(512))
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    parser_version: Mapped[str] = mapped_column(String(32))
    records_read: Mapped[int] = mapped_column(Integer, default=0)
    measurements_stored: Mapped[int] = mapped_column(Integer, default=0)
    measurements_duplicate: Mapped[int] = mapped_column(Integer, default=0)
    interactions_stored: Mapped[int] = mapped_column(Integer, default=0)
    clients_seen: Mapped[int] = mapped_column(Integer, default=0)
    quarantined: Mapped[int] = mapped_column(Integer, default=0)
    ingested_at: Mapped[datetime] = mapped_column(default=utcnow)


class Measurement(Base):
    __tablename__ = "measurements"
    # The unique key doubles as the (client, metric, time) index features read by.
    __table_args__ = (
        UniqueConstraint(
            "client_id", "metric", "observed_at", "source_record", name="uq_measurements_record"
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    metric: Mapped[str] = mapped_column(String(32))
    value: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(32))
    original_value: Mapped[float] = mapped_column(Float)
    original_unit: Mapped[str] = mapped_column(String(32))
    observed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    source_id: Mapped[int] = mapped_column(ForeignKey("data_sources.id"))
    source_record: Mapped[str] = mapped_column(String(128))


class Quarantine(Base):
    """A rejected record with its reason; the raw record is encrypted (it may hold names)."""

    __tablename__ = "quarantine"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("data_sources.id"))
    line: Mapped[int | None] = mapped_column(Integer)
    field: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    raw: Mapped[str] = mapped_column(EncryptedString("quarantine.raw"))
    client_external_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Survey(Base):
    __tablename__ = "surveys"
    __table_args__ = (UniqueConstraint("client_id", "answered_at", name="uq_surveys_answer"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    answers: Mapped[dict[str, Any]] = mapped_column(JSON)
    source_id: Mapped[int | None] = mapped_column(ForeignKey("data_sources.id"))


class CatalogVersion(Base):
    __tablename__ = "catalog_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[str] = mapped_column(String(32))
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)
    loaded_at: Mapped[datetime] = mapped_column(default=utcnow)
    is_current: Mapped[bool] = mapped_column(Boolean, default=False)


class Intervention(Base):
    __tablename__ = "interventions"
    __table_args__ = (
        UniqueConstraint("catalog_version_id", "intervention_id", name="uq_interventions_item"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    catalog_version_id: Mapped[int] = mapped_column(ForeignKey("catalog_versions.id"))
    intervention_id: Mapped[str] = mapped_column(String(64))
    domain: Mapped[str] = mapped_column(String(16))
    intensity: Mapped[str] = mapped_column(String(16))
    weekly_minutes: Mapped[int] = mapped_column(Integer)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)


class Interaction(Base):
    __tablename__ = "interactions"
    __table_args__ = (
        UniqueConstraint(
            "client_id", "intervention_id", "kind", "at", name="uq_interactions_event"
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    intervention_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[float] = mapped_column(Float)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    source_id: Mapped[int | None] = mapped_column(ForeignKey("data_sources.id"))


class FeatureSnapshot(Base):
    """One client's features as of a date (point-in-time), for one feature version."""

    __tablename__ = "feature_snapshots"
    __table_args__ = (
        UniqueConstraint("client_id", "as_of", "feature_version", name="uq_feature_snapshots_key"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    as_of: Mapped[date] = mapped_column(Date)
    feature_version: Mapped[str] = mapped_column(String(16))
    features: Mapped[dict[str, Any]] = mapped_column(JSON)
    risk: Mapped[dict[str, Any]] = mapped_column(JSON)
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)


class Alert(Base):
    """An anomaly alert from the personalised baselines; the dedup key makes reruns safe.

    ``client_id`` is None for an alert about the whole clinic rather than one client (a
    feature drift found by the pipeline's monitor step)."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    client_id: Mapped[int | None] = mapped_column(
        ForeignKey("clients.id", ondelete="CASCADE"), nullable=True, index=True
    )
    dedup_key: Mapped[str] = mapped_column(String(160), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(16))
    metric: Mapped[str] = mapped_column(String(32))
    window_start: Mapped[date] = mapped_column(Date)
    window_end: Mapped[date] = mapped_column(Date)
    explanation: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


# --------------------------------------------------------------------------- plans


class Plan(Base):
    """One version of a client's plan. A client's versions are numbered 1, 2, ...; at most
    one is active. ``excluded`` and ``meta`` keep what the composer decided (exclusions by
    hard rules, fallback reason, cold start, time budget) so the plan explains itself."""

    __tablename__ = "plans"
    __table_args__ = (UniqueConstraint("client_id", "version", name="uq_plans_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), index=True)
    as_of: Mapped[date] = mapped_column(Date)
    model_version: Mapped[int | None] = mapped_column(Integer)
    catalog_version: Mapped[str] = mapped_column(String(32))
    excluded: Mapped[dict[str, Any]] = mapped_column(JSON)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    reviewed_by: Mapped[str | None] = mapped_column(String(128))
    review_comment: Mapped[str | None] = mapped_column(Text)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    items: Mapped[list[PlanItem]] = relationship(
        back_populates="plan", order_by="PlanItem.position", cascade="all, delete-orphan"
    )


class PlanItem(Base):
    __tablename__ = "plan_items"
    __table_args__ = (
        UniqueConstraint("plan_id", "intervention_id", name="uq_plan_items_intervention"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    intervention_id: Mapped[str] = mapped_column(String(64))
    domain: Mapped[str] = mapped_column(String(16))
    intensity: Mapped[str] = mapped_column(String(16))
    weekly_minutes: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Float)
    predicted_adherence: Mapped[float] = mapped_column(Float)
    expected_benefit: Mapped[float] = mapped_column(Float)
    mandatory: Mapped[bool] = mapped_column(Boolean, default=False)
    origin: Mapped[str] = mapped_column(String(16))  # composer | coordinator
    target: Mapped[dict[str, Any]] = mapped_column(JSON)
    reasons: Mapped[dict[str, Any]] = mapped_column(JSON)  # {"items": [...]}
    citation: Mapped[str] = mapped_column(Text, default="")

    plan: Mapped[Plan] = relationship(back_populates="items")


class PlanEvent(Base):
    """The plan's audit trail: every transition and every edit, with author and time."""

    __tablename__ = "plan_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    comment: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)


class CheckIn(Base):
    """A client's weekly report on one plan item; it also becomes interactions."""

    __tablename__ = "checkins"
    __table_args__ = (UniqueConstraint("plan_item_id", "week_start", name="uq_checkins_week"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_item_id: Mapped[int] = mapped_column(ForeignKey("plan_items.id", ondelete="CASCADE"))
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    week_start: Mapped[date] = mapped_column(Date)
    adherence_pct: Mapped[float] = mapped_column(Float)
    rating: Mapped[int | None] = mapped_column(Integer)
    side_effects: Mapped[str | None] = mapped_column(EncryptedString("checkins.side_effects"))
    note: Mapped[str | None] = mapped_column(EncryptedString("checkins.note"))
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# --------------------------------------------------------------------------- people


class User(Base):
    """A person who signs in: admin, coordinator, professional or client (then linked)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16))
    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id", ondelete="SET NULL"))
    display_name: Mapped[str | None] = mapped_column(EncryptedString("users.display_name"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ClientAssignment(Base):
    """Which coordinator looks after which client (object-level access)."""

    __tablename__ = "client_assignments"
    __table_args__ = (UniqueConstraint("user_id", "client_id", name="uq_client_assignments_pair"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RefreshToken(Base):
    """A refresh token, stored as its SHA-256; revocable."""

    __tablename__ = "refresh_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiKey(Base):
    """A key for machines (wearable bridges), stored hashed, with its scopes."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[dict[str, Any]] = mapped_column(JSON)  # {"scopes": ["ingest"]}
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class AuditEntry(Base):
    """Who read or changed whose data, when, from where. ``client_ref`` is the client's
    external id as a plain string (no foreign key), so erasing a client keeps the trail."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(128))
    actor_role: Mapped[str | None] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(32))
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str | None] = mapped_column(String(128))
    client_ref: Mapped[str | None] = mapped_column(String(64), index=True)
    source_address: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16), default="ok")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)


# --------------------------------------------------------------------------- pipeline


class PipelineRun(Base):
    """One execution of one pipeline step (ingest, validate, ..., monitor).

    ``run_id`` groups the steps of one pipeline run (the embedded runner's id, or the
    Airflow DAG run's). ``fingerprint`` digests the step's inputs: a step whose last
    success had the same fingerprint has nothing to do and is recorded as ``skipped``.
    ``counts`` holds the step's figures (rows ingested, snapshots, model version, ...)."""

    __tablename__ = "pipeline_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[str] = mapped_column(String(250), index=True)
    step: Mapped[str] = mapped_column(String(16), index=True)
    status: Mapped[str] = mapped_column(String(16))  # running | success | skipped | failed
    triggered_by: Mapped[str] = mapped_column(String(32))
    fingerprint: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    counts: Mapped[dict[str, Any]] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)


class DataQuality(Base):
    """Data-quality figures of one ingested file, computed once by the validate step."""

    __tablename__ = "data_quality"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(
        ForeignKey("data_sources.id", ondelete="CASCADE"), unique=True
    )
    pipeline_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("pipeline_runs.id", ondelete="SET NULL")
    )
    kind: Mapped[str] = mapped_column(String(32))
    records_read: Mapped[int] = mapped_column(Integer)
    measurements_stored: Mapped[int] = mapped_column(Integer)
    duplicates: Mapped[int] = mapped_column(Integer)
    quarantined: Mapped[int] = mapped_column(Integer)
    quarantine_share: Mapped[float] = mapped_column(Float)
    duplicate_share: Mapped[float] = mapped_column(Float)
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)


class DriftReport(Base):
    """Feature drift between the snapshot the champion was trained on and the current one.

    ``features`` holds PSI and KS per feature; above the threshold the report links the
    clinic-wide alert it raised and requests retraining until a train step resolves it."""

    __tablename__ = "drift_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    pipeline_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("pipeline_runs.id", ondelete="SET NULL")
    )
    reference_as_of: Mapped[date] = mapped_column(Date)
    current_as_of: Mapped[date] = mapped_column(Date)
    feature_version: Mapped[str] = mapped_column(String(16))
    model_version: Mapped[int | None] = mapped_column(Integer)
    reference_clients: Mapped[int] = mapped_column(Integer)
    current_clients: Mapped[int] = mapped_column(Integer)
    features_checked: Mapped[int] = mapped_column(Integer)
    features_drifted: Mapped[int] = mapped_column(Integer)
    max_psi: Mapped[float] = mapped_column(Float)
    psi_threshold: Mapped[float] = mapped_column(Float)
    drifted: Mapped[bool] = mapped_column(Boolean)
    features: Mapped[dict[str, Any]] = mapped_column(JSON)
    report_path: Mapped[str | None] = mapped_column(String(1024))
    alert_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("alerts.id", ondelete="SET NULL")
    )
    retrain_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    retrain_resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    retrain_resolved_by: Mapped[int | None] = mapped_column(
        ForeignKey("pipeline_runs.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
