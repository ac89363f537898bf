"""The contract cases run once per backend: the in-memory fakes, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import new_database_url
from tests.integration.contract.backends import (
    BACKENDS,
    Stores,
    memory_stores,
    migrate,
    sql_stores,
)


class Databases:
    """One database per SQL backend for the whole run, made and migrated when first used."""

    def __init__(self, directory: Path, created: list[str]) -> None:
        self._directory = directory
        self._created = created
        self._urls: dict[str, str] = {}

    def url(self, backend: str) -> str:
        if backend not in self._urls:
            url = new_database_url(backend, self._directory, self._created)
            migrate(url)
            self._urls[backend] = url
        return self._urls[backend]


@pytest.fixture(scope="session")
def contract_databases(
    tmp_path_factory: pytest.TempPathFactory, pg_database_factory: list[str]
) -> Databases:
    return Databases(tmp_path_factory.mktemp("contract"), pg_database_factory)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, contract_databases: Databases) -> tuple[str, str]:
    """The backend's name and, for SQL, its database (made here: migrating runs its own loop)."""
    name: str = request.param
    return name, "" if name == "memory" else contract_databases.url(name)


@pytest.fixture
async def stores(backend: tuple[str, str]) -> AsyncIterator[Stores]:
    name, url = backend
    if name == "memory":
        yield memory_stores()
        return
    async with sql_stores(name, url) as built:
        yield built
