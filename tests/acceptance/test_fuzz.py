"""The document is the behaviour: schemathesis fuzzes every operation of the served
/openapi.json against the real server, on both backends, with valid and invalid data.

The tier fails on any 5xx, any answer the document does not describe (status, content type,
body, headers), and any request the document forbids that the service accepts. It is driven
by the document alone, so a route added later is fuzzed with no change here. Authenticated
routes get real credentials: the admin key on /admin routes (and, half the time, a live access
token as the path of verify), a login token on `POST /oauth/apps/authorize`.

`make test` runs a bounded number of examples per operation and mode; `make fuzz` sets
EHEALTH_AUTH_FUZZ_EXAMPLES high for the long run.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from ehealth_auth.settings import Settings
from ehealth_auth.storage import migrate
from ehealth_auth.wiring import build_services
from tests.admin_support import ADMIN_KEY
from tests.conftest import BACKENDS, create_pg_database, drop_pg_database
from tests.servers import clean_env, free_port, start_server, stop
from tests.support import CHEAP_PASSWORD_HASHING, TEST_SECRET_KEY, seed_world

EXAMPLES = int(os.environ.get("EHEALTH_AUTH_FUZZ_EXAMPLES", "15"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection,
]


@dataclass(frozen=True)
class Target:
    base_url: str
    access_token: str
    login_token: str


def _seed(url: str) -> str:
    """A world to fuzz in: a client, a user, an approval; a live access token (issued by a
    login, so it carries app:authorize) serves both verify and /oauth/apps/authorize."""
    migrate.upgrade(url)

    async def seed() -> str:
        settings = Settings.model_validate(
            {"database_url": url, "secret_key": TEST_SECRET_KEY, **CHEAP_PASSWORD_HASHING}
        )
        services = build_services(settings)
        try:
            world = await seed_world(services.admin)
            login = await services.login.handle(
                {
                    "grant_type": "password",
                    "email": world.user_email,
                    "password": world.user_password,
                    "client_id": str(world.client_id),
                    "scope": "app:authorize",
                }
            )
        finally:
            await services.close()
        return login.value

    return asyncio.run(seed())


@pytest.fixture(params=BACKENDS)
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    sqlite = request.param == "sqlite"
    url = f"sqlite:///{tmp_path / 'fuzz.db'}" if sqlite else create_pg_database()
    try:
        token = _seed(url)
        env = clean_env(
            EHEALTH_AUTH_DATABASE_URL=url,
            EHEALTH_AUTH_SECRET_KEY=TEST_SECRET_KEY,
            EHEALTH_AUTH_ADMIN_KEYS=ADMIN_KEY,
            EHEALTH_AUTH_LOG_LEVEL="WARNING",
        )
        port = free_port()
        server = start_server(tmp_path, env, port, tmp_path / "server.log")
        try:
            yield Target(f"http://127.0.0.1:{port}", token, token)
        finally:
            stop(server)
        log = (tmp_path / "server.log").read_text()
        assert "unhandled error" not in log, log[-4000:]
    finally:
        if not sqlite:
            drop_pg_database(url)


def _authorize(case: Case[Any], target: Target, use_real_token: bool) -> dict[str, str]:
    """Credentials for the route, unless the case is about headers being wrong."""
    if case.meta is not None and case.meta.is_negative_at(ParameterLocation.HEADER):
        return {}
    path = case.operation.path
    if path == "/admin/tokens/{value}/verify" and use_real_token:
        case.path_parameters = {**(case.path_parameters or {}), "value": target.access_token}
    if path.startswith("/admin/"):
        return {"Authorization": f"Bearer {ADMIN_KEY}"}
    if path == "/oauth/apps/authorize":
        return {"Authorization": f"Bearer {target.login_token}"}
    return {}


def _fuzzer(operation: Any, mode: GenerationMode, target: Target, cases: Counter[str]) -> Any:
    label = f"{operation.label} ({mode.value})"

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def fuzz(case: Case[Any]) -> None:
        cases[label] += 1
        headers = _authorize(case, target, cases[label] % 2 == 0)
        case.call_and_validate(base_url=target.base_url, headers=headers, checks=CHECKS, timeout=10)

    return fuzz


def test_every_operation_answers_as_documented_under_fuzzing(target: Target) -> None:
    # Unknown query parameters are ignored, as RFC 6749 §3.1 requires of the OAuth endpoints;
    # U+0000 is generated (allow-x00 is on by default).
    config = schemathesis.Config.from_dict({"generation": {"allow-extra-parameters": False}})
    schema = schemathesis.openapi.from_url(f"{target.base_url}/openapi.json", config=config)
    cases: Counter[str] = Counter()
    failures: list[str] = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"the document has an invalid operation: {result.err()}"
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _fuzzer(operation, mode, target, cases)()
            except Unsatisfiable:
                # Only when nothing in the operation can be made invalid (no parameters, no body).
                assert mode is GenerationMode.NEGATIVE, operation.label
                assert not operation.path_parameters
                assert not operation.query
                assert not operation.body
            except (Exception, BaseExceptionGroup) as failure:  # all operations, all failures
                failures.append(f"{operation.label} ({mode.value}): {failure}")
    assert not failures, "\n\n".join(failures)
    operations = {label.rsplit(" (", 1)[0] for label in cases}
    assert len(operations) == len(list(schema.get_all_operations())), "every operation ran"
    print(f"fuzzed {sum(cases.values())} cases over {len(cases)} operations and modes")
