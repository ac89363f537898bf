"""AppAuthorizer (`POST /oauth/apps/authorize`, docs/api.md "Check orders") against fakes: the
bearer (checks 1-6), the request (checks 8-13), and the grant that approves and issues a code."""

from __future__ import annotations

import dataclasses
import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

import pytest

from ehealth_auth.protocol import pkce
from ehealth_auth.protocol.approvals import Approver
from ehealth_auth.protocol.authorize import AppAuthorizer, AuthorizationRequest
from ehealth_auth.protocol.errors import NotFoundError, ServiceError, ValidationError
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
    sha256,
)
from tests.unit.builders import (
    CEILING,
    MIS_REDIRECT,
    add_approval,
    add_client,
    add_client_type,
    add_code,
    add_connection,
    add_token,
    add_user,
    live_tokens,
)
from tests.unit.conftest import LOGIN_POLICY, POLICY
from tests.unit.invalid import failures

VALIDATION_TEXT = (
    "Validation failed. You can find validators description at our API Manifest: "
    "http://docs.apimanifest.apiary.io/#introduction/interacting-with-api/errors."
)
REDIRECT_MISMATCH = "The redirection URI provided does not match a pre-registered value."
SCOPE_NOT_ALLOWED = "Scope is not allowed by client type."
SCOPE = "legal_entity:read employee:read"
SECOND_REDIRECT = "https://mis.test/two"
PASSWORD = "correct horse battery"
VERIFIER = "k" * 50
CHALLENGE = pkce.s256(VERIFIER)
# docs/api.md: "`code_challenge` (43-128 unreserved characters)".
CHALLENGE_PATTERN = "^[A-Za-z0-9._~-]{43,128}$"


@dataclass(frozen=True)
class Expected:
    status: int
    type: str
    message: str


# docs/api.md "Check orders", `POST /oauth/apps/authorize` (7, the body, is the web layer's).
EXPECTED = {
    1: Expected(401, "access_denied", "Authorization header with a Bearer token is required."),
    2: Expected(401, "token_not_found", "Token not found."),
    3: Expected(401, "token_expired", "Token expired."),
    4: Expected(401, "invalid_client", "Client is blocked."),
    5: Expected(401, "user_blocked", "User blocked."),
    6: Expected(
        403,
        "forbidden",
        "Your scope does not allow to access this resource. Missing allowances: app:authorize",
    ),
    8: Expected(422, "validation_failed", VALIDATION_TEXT),
    9: Expected(422, "validation_failed", "Client not found."),
    10: Expected(401, "invalid_client", "Client is blocked."),
    11: Expected(422, "validation_failed", REDIRECT_MISMATCH),
    12: Expected(422, "validation_failed", SCOPE_NOT_ALLOWED),
    13: Expected(422, "validation_failed", VALIDATION_TEXT),
}


@dataclass(frozen=True)
class AuthorizeWorld:
    """The Portal client (of the login token) and Clinic A (to authorize, two connections);
    user U, signed in: `bearer` is U's login token for the Portal, scope app:authorize."""

    portal_id: UUID
    client_id: UUID
    client_secret: str
    connection_id: UUID
    second_connection_id: UUID
    user_id: UUID
    bearer: str
    bearer_id: UUID

    def params(self, **changes: object) -> dict[str, object]:
        params: dict[str, object] = {
            "client_id": str(self.client_id),
            "redirect_uri": MIS_REDIRECT,
            "scope": SCOPE,
        }
        return params | changes


@pytest.fixture
def auth_world(db: FakeDatabase, clock: FakeClock) -> AuthorizeWorld:
    kind = add_client_type(db)
    portal_id, _, _ = add_client(db, kind, "Portal", "https://portal.test/cb")
    client_id, client_secret, connection_id = add_client(db, kind, "Clinic A")
    _, second_connection_id = add_connection(db, client_id, SECOND_REDIRECT)
    db.inserted_at[connection_id] = clock.now() - 20
    db.inserted_at[second_connection_id] = clock.now() - 10
    user_id = add_user(db, "user@example.org", PASSWORD)
    bearer, bearer_id = add_token(
        db,
        name=TokenName.ACCESS_TOKEN,
        user_id=user_id,
        client_id=portal_id,
        issued_at=clock.now() - 60,
        expires_at=clock.now() + 3_600,
        scope="app:authorize",
    )
    return AuthorizeWorld(
        portal_id=portal_id,
        client_id=client_id,
        client_secret=client_secret,
        connection_id=connection_id,
        second_connection_id=second_connection_id,
        user_id=user_id,
        bearer=bearer,
        bearer_id=bearer_id,
    )


@pytest.fixture
def authorizer(
    login_store: FakeLoginStore,
    admin_store: FakeAdminStore,
    hasher: Sha256SecretHasher,
    clock: FakeClock,
) -> AppAuthorizer:
    approver = Approver(admin_store, admin_store, clock)
    return AppAuthorizer(login_store, login_store, login_store, approver, hasher, clock, POLICY)


def assert_service_error(error: ServiceError, check: int) -> None:
    expected = EXPECTED[check]
    assert (error.status, error.type, error.message) == (
        expected.status,
        expected.type,
        expected.message,
    )


async def authenticate_fails(authorizer: AppAuthorizer, bearer: str | None) -> ServiceError:
    with pytest.raises(ServiceError) as raised:
        await authorizer.authenticate(bearer)
    return raised.value


async def request_fails(
    authorizer: AppAuthorizer, params: dict[str, object], prefix: str = "$.app"
) -> ServiceError:
    with pytest.raises(ServiceError) as raised:
        await authorizer.request(params, prefix)
    return raised.value


def replace_token(db: FakeDatabase, token_id: UUID, **changes: object) -> None:
    row = db.tokens[token_id]
    row.token = dataclasses.replace(row.token, **changes)  # type: ignore[arg-type]


def block_client(db: FakeDatabase, client_id: UUID) -> None:
    db.clients[client_id] = dataclasses.replace(db.clients[client_id], is_blocked=True)


def block_user(db: FakeDatabase, user_id: UUID) -> None:
    db.users[user_id] = dataclasses.replace(db.users[user_id], is_blocked=True)


# --------------------------------------------------------------------------- authenticate


async def test_live_login_token_authenticates_its_user(
    authorizer: AppAuthorizer, auth_world: AuthorizeWorld
) -> None:
    assert await authorizer.authenticate(auth_world.bearer) == auth_world.user_id


@pytest.mark.parametrize("bearer", [None, ""], ids=["none", "empty"])
async def test_missing_bearer_is_refused_with_a_challenge(
    authorizer: AppAuthorizer, bearer: str | None
) -> None:
    error = await authenticate_fails(authorizer, bearer)

    assert_service_error(error, 1)
    assert error.headers == {"WWW-Authenticate": 'Bearer realm="ehealth-auth"'}


async def test_unknown_bearer_is_not_found(
    authorizer: AppAuthorizer, auth_world: AuthorizeWorld
) -> None:
    assert_service_error(await authenticate_fails(authorizer, "no-such-token"), 2)


@pytest.mark.parametrize("name", [TokenName.REFRESH_TOKEN, TokenName.AUTHORIZATION_CODE])
async def test_bearer_that_is_not_an_access_token_is_not_found(
    authorizer: AppAuthorizer, auth_world: AuthorizeWorld, db: FakeDatabase, name: TokenName
) -> None:
    replace_token(db, auth_world.bearer_id, name=name)

    assert_service_error(await authenticate_fails(authorizer, auth_world.bearer), 2)


async def test_revoked_bearer_is_expired(
    authorizer: AppAuthorizer, auth_world: AuthorizeWorld, db: FakeDatabase, clock: FakeClock
) -> None:
    db.tokens[auth_world.bearer_id].revoked_at = clock.now() - 1

    assert_service_error(await authenticate_fails(authorizer, auth_world.bearer), 3)


async def test_bearer_expires_at_its_expiry_second(
    authorizer: AppAuthorizer, auth_world: AuthorizeWorld, db: FakeDatabase, clock: FakeClock
) -> None:
    clock.set(db.tokens[auth_world.bearer_id].token.expires_at - 1)
    assert await authorizer.authenticate(auth_world.bearer) == auth_world.user_id

    clock.advance(1)
    assert_service_error(await authenticate_fails(authorizer, auth_world.bearer), 3)


@pytest.mark.parametrize(
    "scope", ["legal_entity:read app:authorize", "app:authorize app:authorize", " app:authorize "]
)
async def test_bearer_scope_needs_app_authorize_among_its_items(
    authorizer: AppAuthorizer, auth_world: AuthorizeWorld, db: FakeDatabase, scope: str
) -> None:
    replace_token(db, auth_world.bearer_id, scope=scope)

    assert await authorizer.authenticate(auth_world.bearer) == auth_world.user_id


@pytest.mark.parametrize("scope", ["", "app:authorizer", "app:authorize:all", "app:"])
async def test_bearer_scope_without_the_app_authorize_item_is_forbidden(
    authorizer: AppAuthorizer, auth_world: AuthorizeWorld, db: FakeDatabase, scope: str
) -> None:
    replace_token(db, auth_world.bearer_id, scope=scope)

    assert_service_error(await authenticate_fails(authorizer, auth_world.bearer), 6)


@dataclass
class BearerScene:
    db: FakeDatabase
    world: AuthorizeWorld
    clock: FakeClock
    bearer: str | None


def _no_bearer(scene: BearerScene) -> None:
    scene.bearer = None


def _bearer_is_refresh_token(scene: BearerScene) -> None:
    replace_token(scene.db, scene.world.bearer_id, name=TokenName.REFRESH_TOKEN)


def _expire_bearer(scene: BearerScene) -> None:
    replace_token(scene.db, scene.world.bearer_id, expires_at=scene.clock.now())


def _block_bearer_client(scene: BearerScene) -> None:
    block_client(scene.db, scene.world.portal_id)


def _block_bearer_user(scene: BearerScene) -> None:
    block_user(scene.db, scene.world.user_id)


def _bearer_without_app_authorize(scene: BearerScene) -> None:
    replace_token(scene.db, scene.world.bearer_id, scope="legal_entity:read")


BEARER_BREAKAGES: dict[int, Callable[[BearerScene], None]] = {
    1: _no_bearer,
    2: _bearer_is_refresh_token,
    3: _expire_bearer,
    4: _block_bearer_client,
    5: _block_bearer_user,
    6: _bearer_without_app_authorize,
}


@pytest.fixture
def bearer_scene(db: FakeDatabase, auth_world: AuthorizeWorld, clock: FakeClock) -> BearerScene:
    return BearerScene(db, auth_world, clock, auth_world.bearer)


@pytest.mark.parametrize("check", sorted(BEARER_BREAKAGES), ids=lambda n: f"check{n}")
async def test_bearer_check_fails_alone_with_its_error(
    authorizer: AppAuthorizer, bearer_scene: BearerScene, check: int
) -> None:
    BEARER_BREAKAGES[check](bearer_scene)

    assert_service_error(await authenticate_fails(authorizer, bearer_scene.bearer), check)


@pytest.mark.parametrize(
    ("first", "later"),
    list(itertools.combinations(sorted(BEARER_BREAKAGES), 2)),
    ids=lambda n: f"check{n}",
)
async def test_bearer_checks_report_the_earlier_when_two_fail(
    authorizer: AppAuthorizer, bearer_scene: BearerScene, first: int, later: int
) -> None:
    BEARER_BREAKAGES[later](bearer_scene)
    BEARER_BREAKAGES[first](bearer_scene)

    assert_service_error(await authenticate_fails(authorizer, bearer_scene.bearer), first)


# -------------------------------------------------------------------------------- request


async def test_request_names_the_client_and_the_connection_whose_uri_matched(
    authorizer: AppAuthorizer, auth_world: AuthorizeWorld
) -> None:
    checked = await authorizer.request(auth_world.params())

    assert checked == AuthorizationRequest(
        client_id=auth_world.client_id,
        client_name="Clinic A",
        connection_id=auth_world.connection_id,
        redirect_uri=MIS_REDIRECT,
        scope=SCOPE,
        code_challenge=None,
    )


async def test_request_binds_the_second_connection_when_its_uri_matched(
    authorizer: AppAuthorizer, auth_world: AuthorizeWorld
) -> None:
    checked = await authorizer.request(auth_world.params(redirect_uri="HTTPS://mis.test:443/two"))

    assert checked.connection_id == auth_world.second_connection_id
    assert checked.redirect_uri == "HTTPS://mis.test:443/two"  # as presented, to go back to


async def test_request_binds_the_oldest_connection_when_several_register_the_uri(
    authorizer: AppAuthorizer, auth_world: AuthorizeWorld, db: FakeDatabase, clock: FakeClock
) -> None:
    _, third = add_connection(db, auth_world.client_id, SECOND_REDIRECT)
    db.inserted_at[third] = clock.now() - 30  # older than the other two

    checked = await authorizer.request(auth_world.params(redirect_uri=SECOND_REDIRECT))

    assert checked.connection_id == third


async def test_request_normalises_scope_and_trims_redirect_uri(
    authorizer: AppAuthorizer, auth_world: AuthorizeWorld
) -> None:
    params = auth_world.params(
        scope=" employee:read  employee:read legal_entity:read ",
        redirect_uri=f"  {MIS_REDIRECT}?tab=2 ",
    )

    checked = await authorizer.request(params)

    assert (checked.scope, checked.redirect_uri) == (
        "employee:read legal_entity:read",
        f"{MIS_REDIRECT}?tab=2",
    )


async def test_request_lists_every_bad_field_at_its_prefix(authorizer: AppAuthorizer) -> None:
    with pytest.raises(ValidationError) as raised:
        await authorizer.request({"client_id": "", "scope": ["x"]}, "$.query")

    assert failures(raised.value) == [
        ("$.query.client_id", "required", "can't be blank", ()),
        ("$.query.redirect_uri", "required", "can't be blank", ()),
        ("$.query.scope", "cast", "is invalid", ("string",)),
    ]


@pytest.mark.parametrize(
    "client_id", ["not-a-uuid", str(uuid.uuid4()), str(uuid.UUID(int=0)) + "0"]
)
async def test_request_for_unknown_client_is_a_422_without_entries(
    authorizer: AppAuthorizer, auth_world: AuthorizeWorld, client_id: str
) -> None:
    error = await request_fails(authorizer, auth_world.params(client_id=client_id))

    assert_service_error(error, 9)
    assert isinstance(error, ValidationError)
    assert error.invalid == ()


async def test_request_for_client_whose_type_is_gone_is_unknown(
    authorizer: AppAuthorizer, auth_world: AuthorizeWorld, db: FakeDatabase
) -> None:
    db.client_types.clear()

    assert_service_error(await request_fails(authorizer, auth_world.params()), 9)


async def test_request_for_client_without_connections_matches_no_uri(
    authorizer: AppAuthorizer, auth_world: AuthorizeWorld, db: FakeDatabase
) -> None:
    for connection_id in (auth_world.connection_id, auth_world.second_connection_id):
        del db.connections[connection_id]

    error = await request_fails(authorizer, auth_world.params())

    assert_service_error(error, 11)
    assert isinstance(error, ValidationError)
    assert error.invalid == ()


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "https://portal.test/cb",  # registered, but for another client
        "https://mis.test/cb/",
        "https://mis.test/cb#frag",
        "http://mis.test/cb",
        "https://mis.test:8443/cb",
    ],
)
async def test_request_refuses_a_redirect_uri_no_connection_of_the_client_registered(
    authorizer: AppAuthorizer, auth_world: AuthorizeWorld, redirect_uri: str
) -> None:
    error = await request_fails(authorizer, auth_world.params(redirect_uri=redirect_uri))

    assert_service_error(error, 11)


@pytest.mark.parametrize("prefix", ["$.app", "$.query"])
async def test_request_scope_beyond_ceiling_names_the_scope_field_at_the_prefix(
    authorizer: AppAuthorizer, auth_world: AuthorizeWorld, prefix: str
) -> None:
    error = await request_fails(authorizer, auth_world.params(scope="admin:all"), prefix)

    assert isinstance(error, ValidationError)
    assert failures(error) == [
        (f"{prefix}.scope", "inclusion", SCOPE_NOT_ALLOWED, tuple(CEILING.split()))
    ]


@pytest.mark.parametrize(
    "pkce_params",
    [{}, {"code_challenge": "", "code_challenge_method": ""}, {"code_challenge": None}],
    ids=["absent", "empty", "null"],
)
async def test_request_without_pkce_has_no_challenge(
    authorizer: AppAuthorizer, auth_world: AuthorizeWorld, pkce_params: dict[str, object]
) -> None:
    checked = await authorizer.request(auth_world.params(**pkce_params))

    assert checked.code_challenge is None


@pytest.mark.parametrize("challenge", [CHALLENGE, "a" * 43, "Z" * 128, "-._~" * 11])
async def test_request_keeps_an_s256_challenge(
    authorizer: AppAuthorizer, auth_world: AuthorizeWorld, challenge: str
) -> None:
    params = auth_world.params(code_challenge=challenge, code_challenge_method="S256")

    assert (await authorizer.request(params)).code_challenge == challenge


INCLUSION = ("inclusion", "value is not allowed in enum", ("S256",))
FORMAT = ("format", "string does not match pattern", (CHALLENGE_PATTERN,))
CAST = ("cast", "is invalid", ("string",))
REQUIRED = ("required", "can't be blank", ())


ABSENT = object()
METHOD = "code_challenge_method"
CHALLENGE_FIELD = "code_challenge"


@pytest.mark.parametrize(
    ("challenge", "method", "field", "failure"),
    [
        (CHALLENGE, ABSENT, METHOD, INCLUSION),
        (CHALLENGE, "", METHOD, INCLUSION),
        (CHALLENGE, "plain", METHOD, INCLUSION),
        (CHALLENGE, "s256", METHOD, INCLUSION),
        (ABSENT, "S256", CHALLENGE_FIELD, REQUIRED),
        ("", "S256", CHALLENGE_FIELD, REQUIRED),
        ("a" * 42, "S256", CHALLENGE_FIELD, FORMAT),
        ("a" * 129, "S256", CHALLENGE_FIELD, FORMAT),
        ("a" * 42 + "+", "S256", CHALLENGE_FIELD, FORMAT),
        (42, "S256", CHALLENGE_FIELD, CAST),
        (CHALLENGE, 256, METHOD, CAST),
    ],
    ids=[
        "no-method-means-plain",
        "empty-method-means-plain",
        "plain",
        "lower-case-s256",
        "method-without-challenge",
        "empty-challenge-with-method",
        "challenge-too-short",
        "challenge-too-long",
        "challenge-outside-unreserved",
        "challenge-not-a-string",
        "method-not-a-string",
    ],
)
@pytest.mark.parametrize("prefix", ["$.app", "$.query"])
async def test_request_refuses_bad_pkce_parameters_at_their_path(
    authorizer: AppAuthorizer,
    auth_world: AuthorizeWorld,
    challenge: object,
    method: object,
    field: str,
    failure: tuple[str, str, tuple[str, ...]],
    prefix: str,
) -> None:
    given = {CHALLENGE_FIELD: challenge, METHOD: method}
    params = auth_world.params(
        **{name: value for name, value in given.items() if value is not ABSENT}
    )

    error = await request_fails(authorizer, params, prefix)

    assert_service_error(error, 13)
    assert isinstance(error, ValidationError)
    assert failures(error) == [(f"{prefix}.{field}", *failure)]


async def test_check_client_alone_ignores_scope_and_pkce(
    authorizer: AppAuthorizer, auth_world: AuthorizeWorld
) -> None:
    client, connection_id = await authorizer.check_client(
        str(auth_world.client_id), SECOND_REDIRECT
    )

    assert (client.id, client.name, client.is_blocked) == (auth_world.client_id, "Clinic A", False)
    assert client.type_scope == CEILING
    assert connection_id == auth_world.second_connection_id


@dataclass
class RequestScene:
    db: FakeDatabase
    world: AuthorizeWorld
    params: dict[str, object]


def _break_request_fields(scene: RequestScene) -> None:
    scene.params["client_id"] = " "


def _client_gone(scene: RequestScene) -> None:
    # The directory no longer finds the client (params untouched, so checks can be combined).
    del scene.db.clients[scene.world.client_id]


def _block_requested_client(scene: RequestScene) -> None:
    if scene.world.client_id in scene.db.clients:
        block_client(scene.db, scene.world.client_id)


def _unregistered_redirect_uri(scene: RequestScene) -> None:
    scene.params["redirect_uri"] = "https://mis.test/elsewhere"


def _scope_beyond_ceiling(scene: RequestScene) -> None:
    scene.params["scope"] = "legal_entity:read admin:all"


def _plain_pkce(scene: RequestScene) -> None:
    scene.params |= {"code_challenge": CHALLENGE, "code_challenge_method": "plain"}


REQUEST_BREAKAGES: dict[int, Callable[[RequestScene], None]] = {
    8: _break_request_fields,
    9: _client_gone,
    10: _block_requested_client,
    11: _unregistered_redirect_uri,
    12: _scope_beyond_ceiling,
    13: _plain_pkce,
}


@pytest.fixture
def request_scene(db: FakeDatabase, auth_world: AuthorizeWorld) -> RequestScene:
    return RequestScene(db, auth_world, auth_world.params())


@pytest.mark.parametrize("check", sorted(REQUEST_BREAKAGES), ids=lambda n: f"check{n}")
async def test_request_check_fails_alone_with_its_error(
    authorizer: AppAuthorizer, request_scene: RequestScene, check: int
) -> None:
    REQUEST_BREAKAGES[check](request_scene)

    assert_service_error(await request_fails(authorizer, request_scene.params), check)


@pytest.mark.parametrize(
    ("first", "later"),
    list(itertools.combinations(sorted(REQUEST_BREAKAGES), 2)),
    ids=lambda n: f"check{n}",
)
async def test_request_reports_the_earlier_check_when_two_fail(
    authorizer: AppAuthorizer, request_scene: RequestScene, first: int, later: int
) -> None:
    REQUEST_BREAKAGES[later](request_scene)
    REQUEST_BREAKAGES[first](request_scene)

    assert_service_error(await request_fails(authorizer, request_scene.params), first)


@pytest.mark.parametrize("first", sorted(REQUEST_BREAKAGES), ids=lambda n: f"check{n}")
async def test_request_reports_the_earliest_check_when_it_and_all_later_fail(
    authorizer: AppAuthorizer, request_scene: RequestScene, db: FakeDatabase, first: int
) -> None:
    for check in sorted(REQUEST_BREAKAGES):
        if check >= first:
            REQUEST_BREAKAGES[check](request_scene)
    approvals, tokens = dict(db.approvals), set(db.tokens)

    assert_service_error(await request_fails(authorizer, request_scene.params), first)
    assert (db.approvals, set(db.tokens)) == (approvals, tokens)


# ---------------------------------------------------------------------------------- grant


async def test_grant_issues_a_code_for_the_requested_scope_and_redirect_uri(
    authorizer: AppAuthorizer, auth_world: AuthorizeWorld, clock: FakeClock
) -> None:
    checked = await authorizer.request(auth_world.params())

    app = await authorizer.grant(auth_world.user_id, checked)

    code = app.code
    assert code.name is TokenName.AUTHORIZATION_CODE
    assert code.user_id == auth_world.user_id
    assert code.expires_at == clock.now() + POLICY.code_ttl
    assert code.details == {
        "client_id": str(auth_world.client_id),
        "redirect_uri": MIS_REDIRECT,
        "scope_request": SCOPE,
    }
    assert app.location == f"{MIS_REDIRECT}?code={code.value}"


async def test_grant_stores_the_code_as_a_hash_rooting_its_own_family(
    authorizer: AppAuthorizer, auth_world: AuthorizeWorld, db: FakeDatabase, clock: FakeClock
) -> None:
    params = auth_world.params(
        redirect_uri=SECOND_REDIRECT, code_challenge=CHALLENGE, code_challenge_method="S256"
    )
    before = set(db.tokens)

    app = await authorizer.grant(auth_world.user_id, await authorizer.request(params))

    assert set(db.tokens) - before == {app.code.id}
    row = db.tokens[app.code.id]
    assert (row.revoked_at, row.retired_at_ms) == (None, None)
    record = row.token
    assert record.value_hash == sha256(app.code.value)
    assert app.code.value not in repr(record)
    assert (record.family_id, record.parent_id) == (app.code.id, None)
    assert record.connection_id == auth_world.second_connection_id
    assert (record.redirect_uri, record.code_challenge) == (SECOND_REDIRECT, CHALLENGE)
    assert (record.user_id, record.client_id) == (auth_world.user_id, auth_world.client_id)
    assert (record.issued_at, record.expires_at) == (clock.now(), app.code.expires_at)
    assert (record.scope, record.details) == (SCOPE, app.code.details)


async def test_grant_creates_the_approval_with_the_requested_scope(
    authorizer: AppAuthorizer, auth_world: AuthorizeWorld, db: FakeDatabase
) -> None:
    await authorizer.grant(auth_world.user_id, await authorizer.request(auth_world.params()))

    (approval,) = db.approvals.values()
    assert (approval.user_id, approval.client_id, approval.scope) == (
        auth_world.user_id,
        auth_world.client_id,
        SCOPE,
    )


async def test_grant_widens_an_existing_approval_but_codes_only_the_requested_scope(
    authorizer: AppAuthorizer, auth_world: AuthorizeWorld, db: FakeDatabase
) -> None:
    approval_id = add_approval(db, auth_world.user_id, auth_world.client_id, "declaration:write")

    app = await authorizer.grant(
        auth_world.user_id, await authorizer.request(auth_world.params(scope="employee:read"))
    )

    assert db.approvals[approval_id].scope == "employee:read declaration:write"
    assert len(db.approvals) == 1
    assert app.code.details["scope_request"] == "employee:read"
    assert db.tokens[app.code.id].token.scope == "employee:read"


async def test_grant_location_keeps_the_uris_query_and_replaces_a_stale_code(
    authorizer: AppAuthorizer, auth_world: AuthorizeWorld, db: FakeDatabase
) -> None:
    presented = f"{MIS_REDIRECT}?tab=2&code=stale"
    checked = await authorizer.request(auth_world.params(redirect_uri=presented))

    app = await authorizer.grant(auth_world.user_id, checked)

    assert app.location == f"{MIS_REDIRECT}?tab=2&code={app.code.value}"
    assert app.code.details["redirect_uri"] == presented
    assert db.tokens[app.code.id].token.redirect_uri == presented


async def test_each_grant_issues_a_new_code_in_a_new_family(
    authorizer: AppAuthorizer, auth_world: AuthorizeWorld, db: FakeDatabase
) -> None:
    checked = await authorizer.request(auth_world.params())

    first = await authorizer.grant(auth_world.user_id, checked)
    second = await authorizer.grant(auth_world.user_id, checked)

    assert first.code.value != second.code.value
    assert db.tokens[first.code.id].token.family_id != db.tokens[second.code.id].token.family_id
    assert live_tokens(db) >= {first.code.id, second.code.id}


async def test_grant_for_a_user_who_is_gone_issues_nothing(
    authorizer: AppAuthorizer, auth_world: AuthorizeWorld, db: FakeDatabase
) -> None:
    checked = await authorizer.request(auth_world.params())
    before = set(db.tokens)

    with pytest.raises(NotFoundError):
        await authorizer.grant(uuid.uuid4(), checked)

    assert (db.approvals, set(db.tokens)) == ({}, before)


async def test_grant_checks_the_ceiling_again_when_approving(
    authorizer: AppAuthorizer, auth_world: AuthorizeWorld, db: FakeDatabase
) -> None:
    checked = await authorizer.request(auth_world.params())
    kind_id = db.clients[auth_world.client_id].client_type_id
    db.client_types[kind_id] = dataclasses.replace(db.client_types[kind_id], scope="app:authorize")
    before = set(db.tokens)

    with pytest.raises(ValidationError) as raised:
        await authorizer.grant(auth_world.user_id, checked)

    assert failures(raised.value) == [
        ("$.app.scope", "inclusion", SCOPE_NOT_ALLOWED, ("app:authorize",))
    ]
    assert (db.approvals, set(db.tokens)) == ({}, before)


# ------------------------------------------------------------------------ the whole flow


async def test_login_authorize_exchange_and_refresh_work_together_and_reuse_ends_them(
    authorizer: AppAuthorizer,
    auth_world: AuthorizeWorld,
    db: FakeDatabase,
    clock: FakeClock,
    hasher: Sha256SecretHasher,
    login_store: FakeLoginStore,
    code_store: FakeCodeStore,
    refresh_store: FakeRefreshGrantStore,
    login_throttle: FailureThrottle,
    work: InlinePasswordWork,
) -> None:
    login = PasswordGrant(
        login_store,
        login_store,
        login_store,
        login_store,
        login_throttle,
        hasher,
        FakePasswordHasher(),
        work,
        clock,
        LOGIN_POLICY,
    )
    exchange = AuthorizationCodeGrant(code_store, hasher, clock, POLICY)
    refresh = RefreshTokenGrant(refresh_store, hasher, clock, POLICY, FakeSuccessorCipher())

    login_token = await login.handle(
        {
            "email": "USER@example.org",
            "password": PASSWORD,
            "client_id": str(auth_world.portal_id),
            "scope": "app:authorize",
        }
    )
    user_id = await authorizer.authenticate(login_token.value)
    app = await authorizer.grant(
        user_id,
        await authorizer.request(
            auth_world.params(code_challenge=CHALLENGE, code_challenge_method="S256")
        ),
    )
    code = app.location.split("code=", 1)[1]
    token_params = {
        "client_id": str(auth_world.client_id),
        "client_secret": auth_world.client_secret,
        "redirect_uri": MIS_REDIRECT,
    }
    access = await exchange.handle(token_params | {"code": code, "code_verifier": VERIFIER})
    refreshed = await refresh.handle(
        token_params | {"refresh_token": access.details["refresh_token"]}
    )

    assert (access.user_id, refreshed.user_id) == (auth_world.user_id, auth_world.user_id)
    assert refreshed.details["scope"] == SCOPE  # the approval's scope, as every refresh
    assert db.tokens[refreshed.id].token.family_id == app.code.id

    with pytest.raises(ServiceError) as raised:
        await exchange.handle(token_params | {"code": code, "code_verifier": VERIFIER})

    assert raised.value.message == "Token has already been used."
    assert live_tokens(db) == {auth_world.bearer_id, login_token.id}


async def test_code_exchange_refuses_a_code_from_another_clients_authorization(
    auth_world: AuthorizeWorld,
    db: FakeDatabase,
    clock: FakeClock,
    hasher: Sha256SecretHasher,
    code_store: FakeCodeStore,
) -> None:
    """The builders' codes look like the ones `grant` issues: the Portal's code is the Portal's."""
    code, _ = add_code(
        db,
        user_id=auth_world.user_id,
        client_id=auth_world.portal_id,
        connection_id=None,
        issued_at=clock.now(),
        expires_at=clock.now() + 60,
    )
    exchange = AuthorizationCodeGrant(code_store, hasher, clock, POLICY)

    with pytest.raises(ServiceError) as raised:
        await exchange.handle(
            {
                "client_id": str(auth_world.client_id),
                "client_secret": auth_world.client_secret,
                "code": code,
                "redirect_uri": MIS_REDIRECT,
            }
        )

    assert raised.value.message == "Token not found or expired."
