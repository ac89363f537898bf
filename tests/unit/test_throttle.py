"""The throttle of failed authentications (protocol/throttle.py) against fake shared counters:
per address, per address and target, per target; what one address can do to a target; the
process's view of the shared counts."""

from __future__ import annotations

import asyncio

import pytest

from ehealth_auth.protocol.errors import InvalidClientError, TooManyRequestsError
from ehealth_auth.protocol.throttle import (
    CLIENT_MESSAGE,
    ClientAuthenticationError,
    ClientAuthThrottle,
    FailureThrottle,
    ThrottleView,
)
from tests.fakes import FakeClock, FakeDatabase, FakeFailureCounters, Sha256SecretHasher
from tests.unit.conftest import CLIENT_LIMITS

ATTACKER = "192.0.2.66"
HONEST = "198.51.100.7"
CLIENT = "6f1c3c1e-5d8e-4f7a-9a43-0d0b3c6f1a11"


async def fail_once(client_auth: ClientAuthThrottle, source: str, client_id: object) -> str:
    """One failed authentication; the error type it ends in."""
    try:
        async with client_auth.authenticating(source, client_id):
            raise ClientAuthenticationError()
    except InvalidClientError as error:
        return error.type
    except TooManyRequestsError as error:
        return error.type
    raise AssertionError("no error")


async def succeed_once(client_auth: ClientAuthThrottle, source: str, client_id: object) -> None:
    async with client_auth.authenticating(source, client_id):
        pass


def counts(db: FakeDatabase) -> list[int]:
    return sorted(row.failures for row in db.auth_failures.values())


async def test_wrong_secrets_from_one_address_are_refused_past_the_pair_limit(
    client_auth: ClientAuthThrottle, db: FakeDatabase
) -> None:
    answers = [await fail_once(client_auth, ATTACKER, CLIENT) for _ in range(10)]

    assert answers == ["invalid_client"] * CLIENT_LIMITS.pair + ["too_many_requests"] * 7
    # Refused attempts were not counted: one address adds at most `pair` to the client.
    assert counts(db) == [CLIENT_LIMITS.pair] * 3


async def test_the_honest_client_at_another_address_is_served(
    client_auth: ClientAuthThrottle,
) -> None:
    for _ in range(10):
        await fail_once(client_auth, ATTACKER, CLIENT)

    await succeed_once(client_auth, HONEST, CLIENT)  # no 429
    with pytest.raises(TooManyRequestsError):
        await succeed_once(client_auth, ATTACKER, CLIENT)


async def test_the_client_limit_over_every_address_stops_a_distributed_guess(
    client_auth: ClientAuthThrottle,
) -> None:
    for n in range(CLIENT_LIMITS.target):
        assert await fail_once(client_auth, f"203.0.113.{n}", CLIENT) == "invalid_client"

    assert await fail_once(client_auth, "203.0.113.250", CLIENT) == "too_many_requests"


async def test_the_address_limit_covers_guesses_at_many_clients(
    client_auth: ClientAuthThrottle,
) -> None:
    for n in range(CLIENT_LIMITS.source):
        await fail_once(client_auth, ATTACKER, f"client-{n}")

    error = None
    try:
        await succeed_once(client_auth, ATTACKER, "client-new")
    except TooManyRequestsError as refused:
        error = refused
    assert error is not None
    assert error.message == CLIENT_MESSAGE
    await succeed_once(client_auth, HONEST, "client-new")


async def test_the_refusal_says_when_the_window_ends(
    client_auth: ClientAuthThrottle, clock: FakeClock
) -> None:
    clock.set(clock.now() - clock.now() % CLIENT_LIMITS.window + 100)
    for _ in range(CLIENT_LIMITS.pair):
        await fail_once(client_auth, ATTACKER, CLIENT)

    with pytest.raises(TooManyRequestsError) as raised:
        await succeed_once(client_auth, ATTACKER, CLIENT)
    assert raised.value.headers == {"Retry-After": str(CLIENT_LIMITS.window - 100)}

    clock.advance(CLIENT_LIMITS.window - 100)
    await succeed_once(client_auth, ATTACKER, CLIENT)


async def test_client_ids_count_whatever_their_case_and_any_value_is_a_target(
    client_auth: ClientAuthThrottle,
) -> None:
    for client_id in (CLIENT, CLIENT.upper(), f" {CLIENT} "):
        await fail_once(client_auth, ATTACKER, client_id)
    assert await fail_once(client_auth, ATTACKER, CLIENT) == "too_many_requests"
    # A missing or non-string client id is one target of its own.
    for missing in (None, 42, None):
        await fail_once(client_auth, HONEST, missing)
    assert await fail_once(client_auth, HONEST, None) == "too_many_requests"


async def test_other_errors_inside_are_not_counted(
    client_auth: ClientAuthThrottle, db: FakeDatabase
) -> None:
    with pytest.raises(InvalidClientError):
        async with client_auth.authenticating(ATTACKER, CLIENT):
            raise InvalidClientError("Client is blocked.")  # the secret was right

    assert db.auth_failures == {}


async def test_another_process_learns_of_the_failures_at_its_next_sync(
    db: FakeDatabase, clock: FakeClock, hasher: Sha256SecretHasher
) -> None:
    def process() -> ClientAuthThrottle:
        view = ThrottleView(FakeFailureCounters(db), clock, sync_ms=1_000, floor=3, purge_every=600)
        throttle = FailureThrottle("client", CLIENT_LIMITS, view, hasher, clock, CLIENT_MESSAGE)
        return ClientAuthThrottle(throttle, hasher)

    first, second = process(), process()
    await succeed_once(second, ATTACKER, CLIENT)  # second's view is read now, empty
    for _ in range(CLIENT_LIMITS.pair):
        await fail_once(first, ATTACKER, CLIENT)

    # Until its view is refreshed, the second process counts the next failure in the shared
    # counters, which refuse it; its view is refreshed within sync_ms.
    assert await fail_once(second, ATTACKER, CLIENT) == "too_many_requests"
    clock.advance_ms(1_000)
    with pytest.raises(TooManyRequestsError):
        await succeed_once(second, ATTACKER, CLIENT)


async def test_ended_windows_are_purged_once_a_window(
    client_auth: ClientAuthThrottle, db: FakeDatabase, clock: FakeClock
) -> None:
    await fail_once(client_auth, ATTACKER, CLIENT)
    assert len(db.auth_failures) == 3

    clock.advance(CLIENT_LIMITS.window)
    await succeed_once(client_auth, HONEST, CLIENT)

    assert db.auth_failures == {}


async def test_a_sync_in_flight_is_not_waited_for(db: FakeDatabase, clock: FakeClock) -> None:
    started, release = asyncio.Event(), asyncio.Event()

    class SlowCounters(FakeFailureCounters):
        async def purge(self, now: int) -> int:
            started.set()
            await release.wait()
            return await super().purge(now)

    view = ThrottleView(SlowCounters(db), clock, sync_ms=1_000, floor=3, purge_every=600)
    syncing = asyncio.create_task(view.refresh_if_stale())
    await started.wait()

    await asyncio.wait_for(view.refresh_if_stale(), timeout=1)  # returns at once

    release.set()
    await syncing
