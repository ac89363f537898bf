"""The shared counters of failed authentications (protocol/throttle.py), on either backend.

One upsert adds to several counters at once (`INSERT ... ON CONFLICT DO UPDATE ... RETURNING`,
PostgreSQL and SQLite >= 3.35): each row's count changes atomically, whatever the number of
processes. Rows are written in key order, so two processes cannot deadlock on them.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ehealth_auth.protocol.records import CounterKey, LiveCount
from ehealth_auth.storage.retry import retrying
from ehealth_auth.storage.tables import auth_failures


async def clear_target(conn: AsyncConnection, target: bytes) -> bool:
    """Forget every counter about one target (an account: its own and its pairs)."""
    result = await conn.execute(auth_failures.delete().where(auth_failures.c.target_hash == target))
    return result.rowcount > 0


def _upsert(dialect: str, rows: list[dict[str, object]]) -> sa.Insert:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(auth_failures).values(rows)
    return statement.on_conflict_do_update(
        index_elements=[auth_failures.c.key_hash, auth_failures.c.window_start],
        set_={"failures": auth_failures.c.failures + statement.excluded.failures},
    ).returning(auth_failures.c.key_hash, auth_failures.c.failures)


class SqlFailureCounters:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add(
        self, keys: Sequence[CounterKey], window_start: int, expires_at: int, delta: int
    ) -> dict[bytes, int]:
        rows: list[dict[str, object]] = [
            {
                "key_hash": key.key,
                "window_start": window_start,
                "target_hash": key.target,
                "failures": delta,
                "expires_at": expires_at,
            }
            for key in sorted(keys, key=lambda key: key.key)
        ]

        async def _transaction() -> dict[bytes, int]:
            async with self._engine.begin() as conn:
                result = await conn.execute(_upsert(conn.dialect.name, rows))
                return {bytes(row.key_hash): int(row.failures) for row in result}

        return await retrying(_transaction)

    async def settle(self, refund: Sequence[CounterKey], forget: bytes, window_start: int) -> None:
        async def _transaction() -> None:
            async with self._engine.begin() as conn:
                for key in sorted(refund, key=lambda key: key.key):
                    await conn.execute(
                        auth_failures.update()
                        .where(
                            auth_failures.c.key_hash == key.key,
                            auth_failures.c.window_start == window_start,
                            auth_failures.c.failures > 0,
                        )
                        .values(failures=auth_failures.c.failures - 1)
                    )
                # The pair's count goes; counters taken back to nothing go too.
                await conn.execute(
                    auth_failures.delete().where(
                        auth_failures.c.window_start == window_start,
                        sa.or_(
                            auth_failures.c.key_hash == forget,
                            sa.and_(
                                auth_failures.c.key_hash.in_([key.key for key in refund]),
                                auth_failures.c.failures <= 0,
                            ),
                        ),
                    )
                )

        await retrying(_transaction)

    async def at_least(self, now: int, failures: int) -> list[LiveCount]:
        async with self._engine.connect() as conn:
            result = await conn.execute(
                sa.select(
                    auth_failures.c.key_hash,
                    auth_failures.c.expires_at,
                    auth_failures.c.failures,
                ).where(auth_failures.c.expires_at > now, auth_failures.c.failures >= failures)
            )
            return [
                LiveCount(bytes(row.key_hash), int(row.expires_at), int(row.failures))
                for row in result
            ]

    async def purge(self, now: int) -> int:
        async with self._engine.begin() as conn:
            result = await conn.execute(
                auth_failures.delete().where(auth_failures.c.expires_at <= now)
            )
            return int(result.rowcount)
