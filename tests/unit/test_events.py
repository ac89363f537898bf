"""The protocol tells its `Events` port what happened to tokens: issue, refresh, rotation,
reuse, code replay, family and operator revocations; and nothing for a refusal or a lost race."""

from __future__ import annotations

import dataclasses

import pytest

from ehealth_auth.protocol.admin import AdminService
from ehealth_auth.protocol.approvals import Approver
from ehealth_auth.protocol.errors import AccessDeniedError, InvalidGrantError, ServiceError
from ehealth_auth.protocol.events import Event, TokenEvent
from ehealth_auth.protocol.grants.authorization_code import AuthorizationCodeGrant
from ehealth_auth.protocol.grants.password import PasswordGrant
from ehealth_auth.protocol.grants.refresh_token import RefreshTokenGrant
from ehealth_auth.protocol.model import TokenName
from ehealth_auth.protocol.throttle import FailureThrottle
from tests.fakes import (
    FakeAdminStore,
    FakeClock,
    FakeCodeStore,
    FakeDatabase,
    FakeLoginStore,
    FakePasswordHasher,
    FakeRefreshGrantStore,
    FakeSuccessorCipher,
    InlinePasswordWork,
    Sha256SecretHasher,
)
from tests.unit.builders import (
    MIS_REDIRECT,
    World,
    add_approval,
    add_client,
    add_client_type,
    add_code,
    add_user,
)
from tests.unit.conftest import LOGIN_POLICY, POLICY

ROTATING = dataclasses.replace(POLICY, rotation=True)


class RecordingEvents:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def emit(self, event: Event) -> None:
        self.events.append(event)

    def kinds(self) -> list[TokenEvent]:
        return [event.kind for event in self.events]


@pytest.fixture
def events() -> RecordingEvents:
    return RecordingEvents()


def refresh_grant(
    store: FakeRefreshGrantStore, clock: FakeClock, events: RecordingEvents, rotation: bool
) -> RefreshTokenGrant:
    policy = ROTATING if rotation else POLICY
    return RefreshTokenGrant(
        store, Sha256SecretHasher(), clock, policy, FakeSuccessorCipher(), events
    )


async def test_a_refresh_is_an_issue_and_a_refresh(
    refresh_store: FakeRefreshGrantStore, clock: FakeClock, world: World, events: RecordingEvents
) -> None:
    await refresh_grant(refresh_store, clock, events, rotation=False).handle(world.params())

    assert events.kinds() == [TokenEvent.ISSUED, TokenEvent.REFRESHED]
    assert {event.grant for event in events.events} == {"refresh_token"}
    assert {event.client_id for event in events.events} == {world.client_id}


async def test_rotation_emits_rotated_and_reuse_emits_detection_and_family_revocation(
    refresh_store: FakeRefreshGrantStore,
    clock: FakeClock,
    world: World,
    events: RecordingEvents,
    db: FakeDatabase,
) -> None:
    grant = refresh_grant(refresh_store, clock, events, rotation=True)
    await grant.handle(world.params())
    assert events.kinds() == [TokenEvent.ROTATED, TokenEvent.ISSUED, TokenEvent.REFRESHED]
    live_before = sum(1 for row in db.tokens.values() if row.revoked_at is None)
    events.events.clear()
    clock.advance_ms(POLICY.race_window_ms + 1)

    with pytest.raises(InvalidGrantError):
        await grant.handle(world.params())

    reuse, revoked = events.events
    assert reuse == Event(
        TokenEvent.REUSE_DETECTED,
        "refresh_token",
        world.client_id,
        reuse.user_id,
        world.family_id,
        1,
    )
    assert revoked.kind is TokenEvent.FAMILY_REVOKED
    assert revoked.family_id == world.family_id
    assert revoked.count == live_before  # the retired token, its successor, the access tokens
    assert all(row.revoked_at is not None for row in db.tokens.values())


async def test_a_lost_race_and_a_refusal_emit_nothing(
    refresh_store: FakeRefreshGrantStore, clock: FakeClock, world: World, events: RecordingEvents
) -> None:
    grant = refresh_grant(refresh_store, clock, events, rotation=True)
    await grant.handle(world.params())
    events.events.clear()

    with pytest.raises(InvalidGrantError):
        await grant.handle(world.params())  # within the race window: a lost race
    with pytest.raises(ServiceError):
        await grant.handle(world.params() | {"client_secret": "wrong"})

    assert events.events == []


async def test_code_exchange_issues_and_a_replay_revokes_the_family(
    code_store: FakeCodeStore, clock: FakeClock, db: FakeDatabase, events: RecordingEvents
) -> None:
    client_id, client_secret, connection_id = add_client(db, add_client_type(db), "Clinic")
    user_id = add_user(db, "user@example.org")
    add_approval(db, user_id, client_id, "legal_entity:read")
    code, _ = add_code(
        db,
        user_id=user_id,
        client_id=client_id,
        connection_id=connection_id,
        issued_at=clock.now(),
        expires_at=clock.now() + 60,
        scope="legal_entity:read",
    )
    grant = AuthorizationCodeGrant(code_store, Sha256SecretHasher(), clock, POLICY, events)
    params = {
        "grant_type": "authorization_code",
        "client_id": str(client_id),
        "client_secret": client_secret,
        "code": code,
        "redirect_uri": MIS_REDIRECT,
    }
    await grant.handle(params)
    assert [(event.kind, event.grant) for event in events.events] == [
        (TokenEvent.ISSUED, "authorization_code")
    ]
    events.events.clear()

    with pytest.raises(AccessDeniedError):
        await grant.handle(params)

    assert events.kinds() == [TokenEvent.CODE_REPLAYED, TokenEvent.FAMILY_REVOKED]
    assert {event.user_id for event in events.events} == {user_id}
    assert events.events[1].count == 3  # the code and its exchange's refresh and access tokens


async def test_a_login_is_an_issue_of_the_password_grant(
    login_store: FakeLoginStore,
    clock: FakeClock,
    db: FakeDatabase,
    events: RecordingEvents,
    work: InlinePasswordWork,
    login_throttle: FailureThrottle,
) -> None:
    client_id, _, _ = add_client(db, add_client_type(db), "Portal")
    user_id = add_user(db, "user@example.org", "correct horse")
    login = PasswordGrant(
        login_store,
        login_store,
        login_store,
        login_store,
        login_throttle,
        Sha256SecretHasher(),
        FakePasswordHasher(),
        work,
        clock,
        LOGIN_POLICY,
        events,
    )
    await login.handle(
        {
            "grant_type": "password",
            "email": "user@example.org",
            "password": "correct horse",
            "client_id": str(client_id),
            "scope": "app:authorize",
        }
    )
    assert events.events == [Event(TokenEvent.ISSUED, "password", client_id, user_id)]


async def test_operator_revocations_are_events_with_their_action(
    admin_store: FakeAdminStore,
    clock: FakeClock,
    world: World,
    events: RecordingEvents,
    work: InlinePasswordWork,
) -> None:
    admin = AdminService(
        admin_store,
        admin_store,
        Approver(admin_store, admin_store, clock),
        Sha256SecretHasher(),
        FakePasswordHasher(),
        clock,
        POLICY,
        work,
        events,
    )
    minted = await admin.create_token(TokenName.ACCESS_TOKEN, world.user_id, world.client_id)
    await admin.revoke_token(minted.id)
    await admin.revoke_user_tokens(world.user_id, world.client_id)
    await admin.deactivate_client_tokens(world.client_id)
    await admin.delete_approval(world.user_id, world.client_id)
    await admin.block_user(world.user_id)

    assert {event.kind for event in events.events} == {TokenEvent.REVOKED_BY_OPERATOR}
    assert [(event.action, event.count) for event in events.events] == [
        ("revoke_token", 1),
        ("logout_user", 1),
        ("deactivate_client_tokens", 0),
        ("delete_approval", None),
        ("block_user", None),
    ]
    assert events.events[0].user_id == world.user_id
    assert events.events[2].client_id == world.client_id
