"""STYLE habit 3: the protocol core imports no web framework and no database library."""

from __future__ import annotations

import json
import subprocess
import sys

FORBIDDEN = (
    "starlette",
    "sqlalchemy",
    "asyncpg",
    "aiosqlite",
    "uvicorn",
    "httpx",
    "alembic",
    "click",
)

# Runs in a fresh interpreter: this test process has long since imported all of them.
_PROBE = """
import importlib, json, pkgutil, sys
import ehealth_auth.protocol as protocol
imported = [protocol.__name__]
for module in pkgutil.walk_packages(protocol.__path__, protocol.__name__ + "."):
    importlib.import_module(module.name)
    imported.append(module.name)
forbidden = set(sys.argv[1:])
loaded = sorted(name for name in sys.modules if name.split(".")[0] in forbidden)
print(json.dumps({"imported": imported, "loaded": loaded}))
"""


def _probe() -> dict[str, list[str]]:
    completed = subprocess.run(
        [sys.executable, "-c", _PROBE, *FORBIDDEN],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    result: dict[str, list[str]] = json.loads(completed.stdout)
    return result


def test_protocol_modules_load_no_web_or_database_library() -> None:
    result = _probe()

    assert result["loaded"] == []
    # The walk must really have reached the modules, or the check above proves nothing.
    assert {
        "ehealth_auth.protocol.admin",
        "ehealth_auth.protocol.grants",
        "ehealth_auth.protocol.grants.refresh_token",
        "ehealth_auth.protocol.token_endpoint",
        "ehealth_auth.protocol.views",
    } <= set(result["imported"])
