"""In-memory fakes of the protocol's ports, faithful to the SQL stores they stand in for.

One module per port area. `FakeDatabase` (database.py) holds the rows; the stores are views over
it, as the real stores are views over one engine. tests/integration/contract runs the same
contract cases against these fakes and the SQL stores, so a fake that drifts from SQL fails
there.
"""

from tests.fakes.admin import FakeAdminStore
from tests.fakes.clock import START, FakeClock
from tests.fakes.codes import FakeCodeStore
from tests.fakes.database import (
    FailureRow,
    FakeDatabase,
    FakeIntegrityError,
    InterleavingStore,
    TokenRow,
)
from tests.fakes.grants import RecordingGrant
from tests.fakes.hashing import (
    FakePasswordHasher,
    FakeSuccessorCipher,
    InlinePasswordWork,
    RecordingPasswordHasher,
    Sha256SecretHasher,
    sha256,
)
from tests.fakes.login import FakeLoginStore
from tests.fakes.oauth import FakeClientSecretStore, FakeRevocationStore
from tests.fakes.purge import FakePurgeStore
from tests.fakes.refresh import FakeRefreshGrantStore
from tests.fakes.throttle import FakeFailureCounters
from tests.fakes.verify import FakeVerifyStore

__all__ = [
    "START",
    "FailureRow",
    "FakeAdminStore",
    "FakeClientSecretStore",
    "FakeClock",
    "FakeCodeStore",
    "FakeDatabase",
    "FakeFailureCounters",
    "FakeIntegrityError",
    "FakeLoginStore",
    "FakePasswordHasher",
    "FakePurgeStore",
    "FakeRefreshGrantStore",
    "FakeRevocationStore",
    "FakeSuccessorCipher",
    "FakeVerifyStore",
    "InlinePasswordWork",
    "InterleavingStore",
    "RecordingGrant",
    "RecordingPasswordHasher",
    "Sha256SecretHasher",
    "TokenRow",
    "sha256",
]
