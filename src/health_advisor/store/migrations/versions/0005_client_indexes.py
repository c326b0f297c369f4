"""indexes on per-client lookups that had none: consents, alerts, check-ins, refresh tokens

Found by the load benchmark on PostgreSQL: every plan generation read the client's
consent with a sequential scan of the consents table (pg_stat_user_tables). The others
are per-client or per-user reads and the ON DELETE CASCADE of erasing a client.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 04:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_consents_client_purpose", "consents", ["client_id", "purpose", "recorded_at"]
    )
    op.create_index(op.f("ix_alerts_client_id"), "alerts", ["client_id"])
    op.create_index(op.f("ix_checkins_client_id"), "checkins", ["client_id"])
    op.create_index(op.f("ix_refresh_tokens_user_id"), "refresh_tokens", ["user_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_refresh_tokens_user_id"), table_name="refresh_tokens")
    op.drop_index(op.f("ix_checkins_client_id"), table_name="checkins")
    op.drop_index(op.f("ix_alerts_client_id"), table_name="alerts")
    op.drop_index("ix_consents_client_purpose", table_name="consents")
