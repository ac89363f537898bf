"""SQL implementation of the PurgeStore port: bounded batches, each its own transaction."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ehealth_auth.storage.retry import retrying
from ehealth_auth.storage.tables import tokens


class SqlPurgeStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def delete_dead_tokens(self, cutoff: int, limit: int) -> int:
        dead = (
            sa.select(tokens.c.id)
            .where(sa.or_(tokens.c.expires_at < cutoff, tokens.c.revoked_at < cutoff))
            .limit(limit)
            .scalar_subquery()
        )

        async def _batch() -> int:
            async with self._engine.begin() as conn:
                result = await conn.execute(tokens.delete().where(tokens.c.id.in_(dead)))
            return result.rowcount

        return await retrying(_batch)

    async def erase_successor_values(self, retired_before_ms: int) -> int:
        async def _erase() -> int:
            async with self._engine.begin() as conn:
                result = await conn.execute(
                    tokens.update()
                    .where(
                        tokens.c.successor_value_enc.is_not(None),
                        tokens.c.retired_at_ms < retired_before_ms,
                    )
                    .values(successor_value_enc=None)
                )
            return result.rowcount

        return await retrying(_erase)
