"""Stored signatures wide enough for a contract wallet's: a Safe's ERC-1271 signature is 65 bytes per owner, so
a 2-of-3 wallet's is 130 bytes (262 hex characters), and the columns that keep a party's signature (the banks'
finance and pre-payment offers, credit consents, order drafts, document-key statements) were ``VARCHAR(132)``:
room for a key's 65 bytes only. They become ``VARCHAR(4098)``, 2048 bytes as ``0x`` hex, the most the API's
``WalletSignature`` accepts. On PostgreSQL widening a ``VARCHAR`` rewrites nothing. SQLite never enforces a
length, so its columns keep the declared ``VARCHAR(132)`` (``api.v1.store.SIGNATURE`` declares it so there) and
hold a wallet's signature as they are; rebuilding its tables would change nothing they store.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WIDE = 2 + 2 * 2048
TABLES = ("api_offers", "api_prepayment_offers", "api_credit_consents", "api_order_drafts", "api_document_public_keys")


def upgrade() -> None:
    _retype(sa.String(132), sa.String(WIDE))


def downgrade() -> None:
    _retype(sa.String(WIDE), sa.String(132))


def _retype(old: sa.String, new: sa.String) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    present = set(sa.inspect(bind).get_table_names())
    for table in TABLES:
        if table in present:
            op.alter_column(table, "signature", type_=new, existing_type=old)
