"""The MCP server, driven by the official MCP Python SDK against the real taskchat binary.

Every test runs once per database: SQLite, and PostgreSQL when TASKCHAT_TEST_DATABASE_URL names a throwaway
cluster (scripts/test.sh starts one). Each database gets its own `taskchat serve` on a free loopback port.
MCP sessions run in both of the SDK's modes: "modern" negotiates the 2026-07-28 protocol through
server/discover (no initialize, no sessions) and "legacy" does the initialize handshake of 2025-11-25.
Changes made through MCP are checked through the REST API with the same bearer token.

Environment: TASKCHAT_BIN (default target/debug/taskchat), TASKCHAT_TEST_DATABASE_URL (optional).
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import json
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx2
import nacl.bindings
import nacl.signing
import pytest
from mcp import Client
from mcp import types
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

ROOT = Path(__file__).resolve().parents[2]
BIN = os.environ.get("TASKCHAT_BIN") or str(ROOT / "target" / "debug" / "taskchat")
PG_ADMIN_URL = os.environ.get("TASKCHAT_TEST_DATABASE_URL")
PASSWORD = "correct horse battery"
TRUSTED_ORIGIN = "http://localhost:3000"
TOOL_NAMES = [
    "add_task",
    "list_tasks",
    "complete_task",
    "reopen_task",
    "delete_task",
    "update_task",
    "undo_last_change",
]
# What src/chat/tools.rs defines: each tool's properties and required ones (user_id is MCP's addition).
SCHEMAS = {
    "add_task": ({"title", "description", "due", "priority", "labels"}, ["title"]),
    "list_tasks": ({"status", "search", "label", "priority", "due", "sort", "limit", "cursor"}, None),
    # One task by task_id, or several by task_ids.
    "complete_task": ({"task_id", "task_ids"}, None),
    "reopen_task": ({"task_id", "task_ids"}, None),
    "delete_task": ({"task_id", "task_ids", "confirm"}, None),
    "update_task": (
        {"task_id", "task_ids", "title", "description", "due", "priority", "labels", "add_labels", "remove_labels"},
        None,
    ),
    "undo_last_change": (set(), None),
}
# The SDK's two ways in: the 2026-07-28 protocol (discover) and the initialize handshake.
MODES = {"modern": "auto", "legacy": "legacy"}


# --------------------------------------------------------------------------------------------------------------
# Servers and databases
# --------------------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@dataclasses.dataclass
class Deployment:
    """One database and the taskchat serving it."""

    backend: str
    data_dir: Path
    database_url: str | None
    secret: str
    server: Server

    @property
    def url(self) -> str:
        return self.server.url

    def start_copy(self, **env: str) -> Server:
        """Another taskchat on the same database and secret, as behind a load balancer."""
        return start_server(self.data_dir, self.database_url, self.secret, env)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env() -> dict[str, str]:
    """The environment without any taskchat setting, so only what a test sets applies."""
    drop = ("DATABASE_URL", "BETTER_AUTH_SECRET")
    return {k: v for k, v in os.environ.items() if not k.startswith("TASKCHAT_") and k not in drop}


def start_server(data_dir: Path, database_url: str | None, secret: str, extra: dict[str, str]) -> Server:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = data_dir / f"serve-{port}.log"
    env = clean_env() | {
        "TASKCHAT_SECRET": secret,
        "TASKCHAT_RATE_LIMIT_MAX": "1000",
        "TASKCHAT_TRUSTED_ORIGINS": TRUSTED_ORIGIN,
        "TASKCHAT_LOG_FORMAT": "json",
    }
    if database_url:
        env["DATABASE_URL"] = database_url
    env |= extra
    with open(log, "wb") as out:
        # cwd = data dir, so a developer's .env in the repository is not read.
        process = subprocess.Popen(
            [BIN, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", str(data_dir)],
            cwd=data_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = Server(url, process, log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            if httpx2.get(f"{url}/readyz", timeout=2).status_code == 200:
                return server
        except httpx2.HTTPError:
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"taskchat did not become ready on {url}; its log:\n{log.read_text(errors='replace')[-5000:]}")


def create_pg_database() -> str:
    import psycopg

    assert PG_ADMIN_URL
    name = f"mcp_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"


def drop_pg_database(url: str) -> None:
    import psycopg

    assert PG_ADMIN_URL
    name = url.rsplit("/", 1)[1]
    with contextlib.suppress(psycopg.Error), psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")


def backends() -> list[Any]:
    postgres = pytest.param(
        "postgres",
        marks=pytest.mark.skipif(
            not PG_ADMIN_URL, reason="TASKCHAT_TEST_DATABASE_URL is unset (./scripts/test.sh sets it)"
        ),
    )
    return ["sqlite", postgres]


@pytest.fixture(scope="session", params=backends())
def deployment(request: pytest.FixtureRequest) -> Iterator[Deployment]:
    if request.param == "postgres" and not PG_ADMIN_URL and os.environ.get("CI"):
        pytest.fail("TASKCHAT_TEST_DATABASE_URL is not set under CI: run the tests through ./scripts/test.sh")
    if not Path(BIN).is_file():
        pytest.fail(f"no taskchat binary at {BIN}: run cargo build (or set TASKCHAT_BIN)")
    with tempfile.TemporaryDirectory(prefix=f"taskchat-mcp-{request.param}-") as tmp:
        data_dir = Path(tmp)
        database_url = create_pg_database() if request.param == "postgres" else None
        secret = base64.b64encode(os.urandom(36)).decode()  # 48 characters
        server = start_server(data_dir, database_url, secret, {})
        try:
            yield Deployment(request.param, data_dir, database_url, secret, server)
        finally:
            server.stop()
            if database_url:
                drop_pg_database(database_url)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# --------------------------------------------------------------------------------------------------------------
# Accounts, REST and MCP helpers
# --------------------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Account:
    email: str
    user_id: str
    token: str


def sign_up(d: Deployment, name: str = "Ada") -> Account:
    email = f"{name.lower()}-{uuid.uuid4().hex[:10]}@example.com"
    r = httpx2.post(
        f"{d.url}/api/auth/sign-up/email", json={"name": name, "email": email, "password": PASSWORD}, timeout=30
    )
    assert r.status_code == 200, r.text
    body = r.json()
    return Account(email, body["user"]["id"], body["token"])


def rest_tasks(d: Deployment, token: str) -> list[dict[str, Any]]:
    r = httpx2.get(f"{d.url}/api/tasks", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["tasks"]


def rest_task(d: Deployment, token: str, number: int) -> dict[str, Any] | None:
    return next((t for t in rest_tasks(d, token) if t["number"] == number), None)


@contextlib.asynccontextmanager
async def mcp_http(url: str, token: str, mode: str = "auto", **options: Any) -> AsyncIterator[Client]:
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
        transport = streamable_http_client(f"{url}/mcp", http_client=http)
        async with Client(transport, mode=mode, read_timeout_seconds=30, **options) as client:
            yield client


def stdio_params(d: Deployment, *args: str) -> StdioServerParameters:
    env = {"TASKCHAT_LOG": "info"}
    if d.database_url:
        env["DATABASE_URL"] = d.database_url
    return StdioServerParameters(
        command=BIN, args=["mcp", *args, "--data-dir", str(d.data_dir)], env=env, cwd=str(d.data_dir)
    )


async def call(client: Client, name: str, args: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
    """A tool call: whether it is an error result, and its structured content (which the text repeats)."""
    result = await client.call_tool(name, args)
    assert result.structured_content is not None, result
    assert len(result.content) == 1 and result.content[0].type == "text"
    assert json.loads(result.content[0].text) == result.structured_content
    return bool(result.is_error), result.structured_content


def mcp_post(url: str, body: Any, token: str | None, **headers: str) -> httpx2.Response:
    """A raw JSON-RPC POST to /mcp, for what the SDK would never send."""
    h = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    if token is not None:
        h["Authorization"] = f"Bearer {token}"
    h |= headers
    content = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return httpx2.post(f"{url}/mcp", content=content, headers=h, timeout=30)


INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}},
}


def jsonrpc_reply(r: httpx2.Response) -> dict[str, Any]:
    """The JSON-RPC message of a reply, whether sent as JSON or as an SSE stream."""
    if r.headers.get("content-type", "").startswith("text/event-stream"):
        for line in r.text.splitlines():
            if line.startswith("data:") and line[5:].strip():
                return json.loads(line[5:])
        raise AssertionError(f"no data event in {r.text!r}")
    return r.json()


# --------------------------------------------------------------------------------------------------------------
# JWTs
# --------------------------------------------------------------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def server_signing_key(d: Deployment) -> tuple[str, nacl.signing.SigningKey]:
    """The server's newest JWT key from the jwks table, decrypted as Better Auth stores it: hex of
    nonce(24) ‖ XChaCha20-Poly1305(key = SHA-256(secret)) of the private JWK, as a JSON string."""
    query = 'SELECT "id", "privateKey" FROM "jwks" ORDER BY "createdAt" DESC LIMIT 1'
    if d.database_url:
        import psycopg

        with psycopg.connect(d.database_url) as conn:
            row = conn.execute(query).fetchone()
    else:
        with contextlib.closing(sqlite3.connect(d.data_dir / "taskchat.db")) as conn:
            row = conn.execute(query).fetchone()
    assert row, "the server has no JWT key yet"
    kid, column = row
    stored = json.loads(column)
    if isinstance(stored, dict):
        jwk = stored
    else:
        blob = bytes.fromhex(stored.rsplit("$", 1)[-1])
        key = hashlib.sha256(d.secret.encode()).digest()
        plain = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(blob[24:], None, blob[:24], key)
        jwk = json.loads(plain)
    signing = nacl.signing.SigningKey(b64url_decode(jwk["d"]))
    assert bytes(signing.verify_key) == b64url_decode(jwk["x"]), "the decrypted key does not match its public half"
    return kid, signing


def sign_jwt(kid: str, key: nacl.signing.SigningKey, claims: dict[str, Any]) -> str:
    header = b64url(json.dumps({"alg": "EdDSA", "kid": kid}).encode())
    payload = b64url(json.dumps(claims).encode())
    signature = key.sign(f"{header}.{payload}".encode()).signature
    return f"{header}.{payload}.{b64url(signature)}"


def jwt_for(d: Deployment, account: Account) -> str:
    r = httpx2.get(f"{d.url}/api/auth/token", headers={"Authorization": f"Bearer {account.token}"}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["token"]


# --------------------------------------------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES.values(), ids=MODES.keys())
async def test_connect_and_list_tools(deployment: Deployment, mode: str) -> None:
    account = sign_up(deployment)
    async with mcp_http(deployment.url, account.token, mode) as client:
        assert client.server_info is not None
        assert client.server_info.name == "taskchat"
        assert client.server_info.version
        assert client.instructions and "task" in client.instructions
        assert client.server_capabilities.tools is not None
        if mode == "legacy":
            assert client.protocol_version < "2026-07-28"
        tools = (await client.list_tools()).tools
    assert [t.name for t in tools] == TOOL_NAMES
    for tool in tools:
        properties, required = SCHEMAS[tool.name]
        schema = tool.input_schema
        assert schema["type"] == "object"
        assert set(schema["properties"]) == properties | {"user_id"}, tool.name
        assert schema["properties"]["user_id"]["type"] == "string"
        assert schema.get("required") == required, tool.name
        assert schema["additionalProperties"] is False
        assert tool.description and tool.title
        assert tool.output_schema and tool.output_schema["type"] == "object"
        assert tool.annotations is not None
        assert tool.annotations.read_only_hint == (tool.name == "list_tasks")
        assert tool.annotations.destructive_hint == (tool.name == "delete_task")
    by_name = {t.name: t for t in tools}
    assert by_name["list_tasks"].input_schema["properties"]["status"]["enum"] == ["all", "pending", "completed"]
    assert by_name["complete_task"].input_schema["properties"]["task_id"]["type"] == "integer"


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES.values(), ids=MODES.keys())
async def test_every_tool_changes_what_rest_shows(deployment: Deployment, mode: str) -> None:
    ada = sign_up(deployment)
    async with mcp_http(deployment.url, ada.token, mode) as client:
        is_error, added = await call(client, "add_task", {"title": "buy milk", "description": "2 litres"})
        assert not is_error
        assert added["task"] == {
            "number": 1,
            "title": "buy milk",
            "description": "2 litres",
            "completed": False,
            "due": None,
            "priority": "none",
            "labels": [],
        }
        task = rest_task(deployment, ada.token, 1)
        assert task and (task["title"], task["description"]) == ("buy milk", "2 litres")

        is_error, added = await call(client, "add_task", {"title": "call mum"})
        assert not is_error and added["task"]["number"] == 2
        assert [t["title"] for t in rest_tasks(deployment, ada.token)] == ["buy milk", "call mum"]

        is_error, done = await call(client, "complete_task", {"task_id": 1})
        assert not is_error and done["task"]["completed"] is True
        assert rest_task(deployment, ada.token, 1)["completed"] is True

        is_error, listed = await call(client, "list_tasks", {"status": "pending"})
        assert not is_error
        assert listed["status"] == "pending" and listed["count"] == 1
        assert [t["title"] for t in listed["tasks"]] == ["call mum"]

        is_error, updated = await call(client, "update_task", {"task_id": 2, "title": "call mum on Sunday"})
        assert not is_error and updated["task"]["title"] == "call mum on Sunday"
        assert rest_task(deployment, ada.token, 2)["title"] == "call mum on Sunday"

        is_error, deleted = await call(client, "delete_task", {"task_id": 1})
        assert not is_error and deleted["deleted"] is True and deleted["task"]["title"] == "buy milk"
        assert [t["number"] for t in rest_tasks(deployment, ada.token)] == [2]

        is_error, listed = await call(client, "list_tasks", {})
        assert not is_error and listed["status"] == "all"
        rest = rest_tasks(deployment, ada.token)
        assert [(t["number"], t["title"], t["completed"]) for t in listed["tasks"]] == [
            (t["number"], t["title"], t["completed"]) for t in rest
        ]


@pytest.mark.anyio
async def test_batches_report_each_task_confirm_deletions_and_undo(deployment: Deployment) -> None:
    ada = sign_up(deployment)
    async with mcp_http(deployment.url, ada.token) as client:
        for title in ["one", "two", "three"]:
            assert not (await call(client, "add_task", {"title": title, "labels": ["home"]}))[0]
        # A batch with a missing task: the others are done, each result says what happened (and the SDK checks
        # the structured content against the tool's output schema).
        is_error, done = await call(client, "complete_task", {"task_ids": [1, 2, 9]})
        assert not is_error and (done["succeeded"], done["failed"]) == (2, 1)
        assert [r["ok"] for r in done["results"]] == [True, True, False]
        assert done["results"][0]["task"]["completed"] is True
        assert "no task 9" in done["results"][2]["error"]
        # Deleting several without confirm changes nothing and says what to ask about.
        is_error, asked = await call(client, "delete_task", {"task_ids": [1, 2, 3]})
        assert is_error and asked["error"] == "confirmation_required"
        assert [t["title"] for t in asked["tasks"]["found"]] == ["one", "two", "three"]
        assert len(rest_tasks(deployment, ada.token)) == 3
        is_error, deleted = await call(client, "delete_task", {"task_ids": [1, 2, 3], "confirm": True})
        assert not is_error and deleted["deleted"] is True and deleted["succeeded"] == 3
        assert rest_tasks(deployment, ada.token) == []
        # One undo brings the three back, as they were; the next reverses the completions.
        is_error, undone = await call(client, "undo_last_change", {})
        assert not is_error and undone["count"] == 3
        assert {c["undone"] for c in undone["changes"]} == {"restored"}
        back = rest_tasks(deployment, ada.token)
        assert [(t["number"], t["completed"], t["labels"]) for t in back] == [
            (1, True, ["home"]),
            (2, True, ["home"]),
            (3, False, ["home"]),
        ]
        is_error, undone = await call(client, "undo_last_change", {})
        assert not is_error and undone["count"] == 2
        assert not any(t["completed"] for t in rest_tasks(deployment, ada.token))
        r = httpx2.get(
            f"{deployment.url}/api/activity", headers={"Authorization": f"Bearer {ada.token}"}, timeout=10
        )
        assert r.status_code == 200
        assert {e["door"] for e in r.json()["entries"]} == {"mcp"}
        # Bad lists are error results.
        for args in [{"task_ids": []}, {"task_ids": list(range(1, 102))}, {"task_ids": ["x"]}]:
            is_error, bad = await call(client, "complete_task", args)
            assert is_error and bad["error"] == "invalid_arguments", args


@pytest.mark.anyio
async def test_rich_fields_are_set_changed_cleared_and_filtered(deployment: Deployment) -> None:
    ada = sign_up(deployment)
    r = httpx2.post(
        f"{deployment.url}/api/auth/update-user",
        json={"timezone": "America/New_York"},
        headers={"Authorization": f"Bearer {ada.token}", "Origin": TRUSTED_ORIGIN},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    async with mcp_http(deployment.url, ada.token) as client:
        # 8 March 2026, 02:30 does not exist in New York (clocks go 02:00 -> 03:00): it is 03:30 EDT, 07:30Z.
        args = {"title": "file taxes", "due": "2026-03-08 02:30", "priority": "urgent", "labels": ["Money", "money"]}
        is_error, added = await call(client, "add_task", args)
        assert not is_error, added
        task = added["task"]
        assert task["due"]["date"] == "2026-03-08" and task["due"]["time"] == "02:30"
        assert task["due"]["timezone"] == "America/New_York"
        assert task["priority"] == "urgent" and task["labels"] == ["Money"]
        assert rest_task(deployment, ada.token, 1)["due"]["at"] == "2026-03-08T07:30:00.000Z"
        assert not (await call(client, "add_task", {"title": "water plants", "labels": ["home"]}))[0]

        is_error, listed = await call(client, "list_tasks", {"label": "money", "priority": "urgent", "search": "tax"})
        assert not is_error and [t["number"] for t in listed["tasks"]] == [1], listed
        is_error, listed = await call(client, "list_tasks", {"due": "none"})
        assert [t["number"] for t in listed["tasks"]] == [2], listed
        is_error, listed = await call(client, "list_tasks", {"due": "on:2026-03-08"})
        assert [t["number"] for t in listed["tasks"]] == [1], listed
        is_error, listed = await call(client, "list_tasks", {"due": "on:2026-03-09"})
        assert not is_error and listed["tasks"] == [], listed
        is_error, page = await call(client, "list_tasks", {"limit": 1})
        assert page["count"] == 1 and page["total"] == 2 and page["next_cursor"], page
        is_error, rest = await call(client, "list_tasks", {"limit": 1, "cursor": page["next_cursor"]})
        assert [t["number"] for t in rest["tasks"]] == [2] and rest["next_cursor"] is None, rest

        is_error, updated = await call(
            client, "update_task", {"task_id": 1, "due": None, "priority": "low", "add_labels": ["admin"]}
        )
        assert not is_error, updated
        assert updated["task"]["due"] is None and updated["task"]["priority"] == "low"
        assert updated["task"]["labels"] == ["Money", "admin"]
        assert rest_task(deployment, ada.token, 1)["labels"] == ["Money", "admin"]

        is_error, done = await call(client, "complete_task", {"task_id": 2})
        is_error, reopened = await call(client, "reopen_task", {"task_id": 2})
        assert not is_error and reopened["task"]["completed"] is False

        before = rest_tasks(deployment, ada.token)
        for name, args in [
            ("add_task", {"title": "x", "due": "someday maybe"}),
            ("add_task", {"title": "x", "priority": "huge"}),
            ("add_task", {"title": "x", "labels": ["y" * 41]}),
            ("update_task", {"task_id": 1, "title": "renamed", "due": "2026-02-30"}),
            ("list_tasks", {"due": "someday"}),
            ("list_tasks", {"cursor": "garbage"}),
            ("list_tasks", {"limit": 0}),
        ]:
            is_error, result = await call(client, name, args)
            assert is_error and result["error"] == "invalid_arguments", (name, args, result)
        assert rest_tasks(deployment, ada.token) == before, "a refused call writes nothing"


@pytest.mark.anyio
async def test_a_jwt_works_as_the_bearer_too(deployment: Deployment) -> None:
    ada = sign_up(deployment)
    async with mcp_http(deployment.url, jwt_for(deployment, ada)) as client:
        is_error, added = await call(client, "add_task", {"title": "via a JWT"})
    assert not is_error
    assert rest_task(deployment, ada.token, added["task"]["number"])["title"] == "via a JWT"


@pytest.mark.anyio
async def test_two_users_never_see_or_touch_each_others_tasks(deployment: Deployment) -> None:
    ada, bob = sign_up(deployment, "Ada"), sign_up(deployment, "Bob")
    async with mcp_http(deployment.url, ada.token) as a, mcp_http(deployment.url, bob.token) as b:
        assert not (await call(a, "add_task", {"title": "ada's secret plan"}))[0]
        is_error, listed = await call(b, "list_tasks", {})
        assert not is_error and listed["count"] == 0 and listed["tasks"] == []
        for name, args in [
            ("complete_task", {"task_id": 1}),
            ("update_task", {"task_id": 1, "title": "hijacked"}),
            ("delete_task", {"task_id": 1}),
        ]:
            is_error, result = await call(b, name, args)
            assert is_error and result["error"] == "not_found", (name, result)
            assert "secret" not in json.dumps(result), result
            assert result.get("suggestions", []) == []
        assert not (await call(b, "add_task", {"title": "bob's own"}))[0]
        is_error, listed = await call(a, "list_tasks", {})
        assert [t["title"] for t in listed["tasks"]] == ["ada's secret plan"]
    assert [(t["title"], t["completed"]) for t in rest_tasks(deployment, ada.token)] == [("ada's secret plan", False)]
    assert [t["title"] for t in rest_tasks(deployment, bob.token)] == ["bob's own"]


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES.values(), ids=MODES.keys())
async def test_a_user_id_argument_must_be_the_callers_own(deployment: Deployment, mode: str) -> None:
    ada, bob = sign_up(deployment, "Ada"), sign_up(deployment, "Bob")
    async with mcp_http(deployment.url, bob.token, mode) as client:
        # Clients written for the original system send the caller's own id: accepted.
        is_error, added = await call(client, "add_task", {"title": "mine", "user_id": bob.user_id})
        assert not is_error and added["task"]["number"] == 1
        # Anyone else's id, an id nobody has, or not even a string: the same refusal, which reveals nothing.
        refusals = []
        for user_id in [ada.user_id, "no-such-user", 42]:
            for name, args in [("list_tasks", {}), ("add_task", {"title": "theirs"}), ("delete_task", {"task_id": 1})]:
                result = await client.call_tool(name, args | {"user_id": user_id})
                assert result.is_error, (name, user_id)
                refusals.append((result.structured_content, result.content[0].text))
        assert all(r == refusals[0] for r in refusals), refusals
        assert refusals[0][0] == {"error": "not_allowed", "message": "Not allowed."}
    assert rest_tasks(deployment, ada.token) == []
    assert [t["title"] for t in rest_tasks(deployment, bob.token)] == ["mine"]


@pytest.mark.anyio
async def test_bad_arguments_are_error_results_and_the_server_carries_on(deployment: Deployment) -> None:
    ada = sign_up(deployment)
    async with mcp_http(deployment.url, ada.token) as client:
        assert not (await call(client, "add_task", {"title": "the only task"}))[0]
        cases = [
            ("complete_task", {}, "invalid_arguments"),
            ("delete_task", {"task_id": "abc"}, "invalid_arguments"),
            ("update_task", {"task_id": [1], "title": "x"}, "invalid_arguments"),
            ("update_task", {"task_id": 1}, "invalid_arguments"),
            ("update_task", {"task_id": 1, "title": 5}, "invalid_arguments"),
            ("add_task", {}, "invalid_arguments"),
            ("add_task", {"title": "   "}, "invalid_arguments"),
            ("add_task", {"title": "x" * 201}, "invalid_arguments"),
            ("add_task", {"title": {"nested": True}}, "invalid_arguments"),
            ("list_tasks", {"status": "bogus"}, "invalid_arguments"),
            ("complete_task", {"task_id": 0}, "invalid_arguments"),
            ("complete_task", {"task_id": 999}, "not_found"),
            ("delete_task", {"task_id": 999}, "not_found"),
        ]
        for name, args, kind in cases:
            is_error, result = await call(client, name, args)
            assert is_error, (name, args, result)
            assert result["error"] == kind and result["message"], (name, args, result)
        # A missing task names the ones that exist.
        _, result = await call(client, "complete_task", {"task_id": 999})
        assert [t["title"] for t in result["suggestions"]] == ["the only task"]
        # An unknown tool is a protocol error, not a result.
        with pytest.raises(MCPError):
            await client.call_tool("drop_all_tables", {})
        is_error, listed = await call(client, "list_tasks", {})
        assert not is_error and [(t["title"], t["completed"]) for t in listed["tasks"]] == [("the only task", False)]

    # What no SDK sends: arguments that are not an object, a body that is not JSON, one that is too large.
    url = deployment.url
    r = mcp_post(url, INITIALIZE, ada.token)
    assert r.status_code == 200, r.text
    headers = {"MCP-Protocol-Version": "2025-06-18"}
    bad_call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "add_task", "arguments": "x"}}
    r = mcp_post(url, bad_call, ada.token, **headers)
    assert r.status_code < 500, r.text
    assert "error" in jsonrpc_reply(r) or jsonrpc_reply(r)["result"]["isError"], r.text
    r = mcp_post(url, b"{not json", ada.token, **headers)
    assert 400 <= r.status_code < 500, r.text
    r = mcp_post(url, {"jsonrpc": "2.0", "id": 3, "method": "tools/list", "params": {"x": "y" * 2_000_000}}, ada.token)
    assert r.status_code == 413, r.text
    assert httpx2.get(f"{url}/readyz", timeout=10).status_code == 200
    assert [t["title"] for t in rest_tasks(deployment, ada.token)] == ["the only task"]


def test_requests_without_a_valid_bearer_get_401(deployment: Deployment) -> None:
    url = deployment.url
    ada = sign_up(deployment)
    jwt = jwt_for(deployment, ada)
    header, payload, signature = jwt.split(".")
    claims = json.loads(b64url_decode(payload))
    now = int(time.time())

    # The expiry changed in a token the server signed: the signature no longer matches.
    tampered = f"{header}.{b64url(json.dumps(claims | {'exp': now - 600}).encode())}.{signature}"
    # A token signed with the server's own key that expired ten minutes ago.
    kid, key = server_signing_key(deployment)
    base = {"sub": ada.user_id, "iss": claims["iss"], "aud": claims["aud"]}
    expired = sign_jwt(kid, key, base | {"iat": now - 1800, "exp": now - 600})
    # The same, unexpired: shows the expired one fails for its expiry alone.
    fresh = sign_jwt(kid, key, base | {"iat": now, "exp": now + 600})
    assert mcp_post(url, INITIALIZE, fresh).status_code == 200
    assert mcp_post(url, INITIALIZE, jwt).status_code == 200

    for name, token in [
        ("no token", None),
        ("an unknown session token", "A" * 32),
        ("not a token", "not a token at all"),
        ("a tampered JWT", tampered),
        ("an expired JWT", expired),
    ]:
        r = mcp_post(url, INITIALIZE, token)
        assert r.status_code == 401, (name, r.status_code, r.text)
        assert r.json() == {"code": "UNAUTHORIZED", "message": "Unauthorized"}, name
        challenge = r.headers["www-authenticate"]
        assert challenge.startswith("Bearer "), challenge
        assert f'resource_metadata="{url}/.well-known/oauth-protected-resource/mcp"' in challenge

    # The session cookie alone is not a bearer credential.
    r = httpx2.post(
        f"{url}/api/auth/sign-in/email", json={"email": ada.email, "password": PASSWORD}, timeout=30
    )
    assert r.status_code == 200, r.text
    cookie = "; ".join(f"{k}={v}" for k, v in r.cookies.items())
    assert "session_token" in cookie
    assert mcp_post(url, INITIALIZE, None, Cookie=cookie, Origin=url).status_code == 401

    # Other methods are guarded the same way.
    assert httpx2.get(f"{url}/mcp", headers={"Accept": "text/event-stream"}, timeout=10).status_code == 401
    assert httpx2.delete(f"{url}/mcp", timeout=10).status_code == 401

    # The protected-resource metadata the challenge points to.
    for path in ["/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"]:
        r = httpx2.get(f"{url}{path}", timeout=10)
        assert r.status_code == 200, path
        assert r.json()["resource"] == f"{url}/mcp"
        assert r.json()["bearer_methods_supported"] == ["header"]


@pytest.mark.anyio
async def test_the_sdk_reports_a_bad_token_as_a_failure(deployment: Deployment) -> None:
    with pytest.raises(Exception):  # noqa: B017 - the SDK may wrap the HTTP error in an exception group
        async with mcp_http(deployment.url, "A" * 32) as client:
            await client.list_tools()


def test_wrong_host_or_origin_is_refused(deployment: Deployment) -> None:
    url = deployment.url
    ada = sign_up(deployment)
    for host in ["evil.example.com", f"evil.example.com:{url.rsplit(':', 1)[1]}", "127.0.0.1.evil.example.com"]:
        r = mcp_post(url, INITIALIZE, ada.token, Host=host)
        assert r.status_code == 403, (host, r.status_code, r.text)
        assert r.json()["code"] == "INVALID_HOST"
        # Refused before the credential is looked at.
        assert mcp_post(url, INITIALIZE, None, Host=host).status_code == 403
    r = mcp_post(url, INITIALIZE, ada.token, Origin="https://evil.example.com")
    assert r.status_code == 403 and r.json()["code"] == "INVALID_ORIGIN", r.text
    # Loopback names and trusted origins pass.
    assert mcp_post(url, INITIALIZE, ada.token, Host=f"localhost:{url.rsplit(':', 1)[1]}").status_code == 200
    assert mcp_post(url, INITIALIZE, ada.token, Origin=TRUSTED_ORIGIN).status_code == 200
    assert mcp_post(url, INITIALIZE, ada.token, Origin=url).status_code == 200


def test_configured_hosts_replace_the_loopback_names(deployment: Deployment) -> None:
    copy = deployment.start_copy(TASKCHAT_MCP_ALLOWED_HOSTS="mcp.example.com")
    try:
        ada = sign_up(deployment)
        assert mcp_post(copy.url, INITIALIZE, ada.token, Host="mcp.example.com").status_code == 200
        # The base URL's host (here 127.0.0.1) stays allowed; other loopback names no longer are.
        assert mcp_post(copy.url, INITIALIZE, ada.token).status_code == 200
        assert mcp_post(copy.url, INITIALIZE, ada.token, Host="localhost").status_code == 403
    finally:
        copy.stop()


@pytest.mark.anyio
async def test_stateless_copies_behind_a_load_balancer_serve_one_client(deployment: Deployment) -> None:
    """Each request of one client may reach another copy: stateless (the default) serves that."""
    ada = sign_up(deployment)
    other = deployment.start_copy()
    stateful = deployment.start_copy(TASKCHAT_MCP_STATELESS="false")
    try:
        a, b = deployment.url, other.url
        r = mcp_post(a, INITIALIZE, ada.token)
        assert r.status_code == 200 and "mcp-session-id" not in r.headers
        assert jsonrpc_reply(r)["result"]["serverInfo"]["name"] == "taskchat"
        headers = {"MCP-Protocol-Version": "2025-06-18"}
        initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        assert mcp_post(b, initialized, ada.token, **headers).status_code == 202
        for i, url in enumerate([b, a, b], start=2):
            add = {"jsonrpc": "2.0", "id": i, "method": "tools/call",
                   "params": {"name": "add_task", "arguments": {"title": f"via copy {i}"}}}
            reply = jsonrpc_reply(mcp_post(url, add, ada.token, **headers))
            assert reply["result"]["isError"] is False, reply
        assert [t["title"] for t in rest_tasks(deployment, ada.token)] == ["via copy 2", "via copy 3", "via copy 4"]

        # The SDK through either copy, in both protocol versions.
        for url in [a, b]:
            for mode in MODES.values():
                async with mcp_http(url, ada.token, mode) as client:
                    _, listed = await call(client, "list_tasks", {})
                    assert listed["count"] == 3

        # Stateful mode keeps a session in one process: it works with the SDK, and another copy does not know it.
        async with mcp_http(stateful.url, ada.token, "legacy") as client:
            _, listed = await call(client, "list_tasks", {})
            assert listed["count"] == 3
        r = mcp_post(stateful.url, INITIALIZE, ada.token)
        session = r.headers["mcp-session-id"]
        call_list = {"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {"name": "list_tasks"}}
        r = mcp_post(stateful.url, call_list, ada.token, **headers, **{"Mcp-Session-Id": session})
        assert r.status_code == 200
        # A session is not a credential: another user presenting it acts as themselves.
        bob = sign_up(deployment, "Bob")
        reply = jsonrpc_reply(mcp_post(stateful.url, call_list, bob.token, **headers, **{"Mcp-Session-Id": session}))
        assert reply["result"]["structuredContent"]["count"] == 0
        assert mcp_post(b, call_list, ada.token, **headers, **{"Mcp-Session-Id": session}).status_code != 500
    finally:
        other.stop()
        stateful.stop()


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES.values(), ids=MODES.keys())
async def test_stdio_serves_the_same_tools_as_one_user(deployment: Deployment, mode: str) -> None:
    ada, bob = sign_up(deployment, "Ada"), sign_up(deployment, "Bob")
    r = httpx2.post(f"{deployment.url}/api/tasks", json={"title": "from REST"},
                    headers={"Authorization": f"Bearer {ada.token}"}, timeout=30)
    assert r.status_code == 201, r.text
    with tempfile.TemporaryFile("w+") as errlog:
        # The email is matched as sign-up stores it (lower case).
        params = stdio_params(deployment, "--user", ada.email.upper())
        async with Client(params, mode=mode, read_timeout_seconds=30) as client:
            assert client.server_info is not None and client.server_info.name == "taskchat"
            assert client.instructions
            tools = (await client.list_tools()).tools
            assert [t.name for t in tools] == TOOL_NAMES
            assert all(t.input_schema["properties"] for t in tools)
            is_error, added = await call(client, "add_task", {"title": "from stdio"})
            assert not is_error and added["task"]["number"] == 2
            is_error, listed = await call(client, "list_tasks", {})
            assert [t["title"] for t in listed["tasks"]] == ["from REST", "from stdio"]
            result = await client.call_tool("list_tasks", {"user_id": bob.user_id})
            assert result.is_error and result.structured_content["message"] == "Not allowed."
            is_error, _ = await call(client, "complete_task", {"task_id": "nope"})
            assert is_error
    assert [t["title"] for t in rest_tasks(deployment, ada.token)] == ["from REST", "from stdio"]
    assert rest_tasks(deployment, bob.token) == []


def test_stdio_refuses_an_unknown_account_clearly(deployment: Deployment) -> None:
    env = clean_env() | ({"DATABASE_URL": deployment.database_url} if deployment.database_url else {})
    out = subprocess.run(
        [BIN, "mcp", "--user", "nobody@example.com", "--data-dir", str(deployment.data_dir)],
        cwd=deployment.data_dir, env=env, input=b"", capture_output=True, timeout=30,
    )
    assert out.returncode != 0
    assert out.stdout == b"", "stdout is for MCP messages only"
    assert b"no account with the email" in out.stderr, out.stderr


def test_stdio_refuses_a_missing_database(tmp_path: Path) -> None:
    out = subprocess.run(
        [BIN, "mcp", "--user", "ada@example.com", "--data-dir", str(tmp_path / "nothing")],
        cwd=tmp_path, env=clean_env(), input=b"", capture_output=True, timeout=30,
    )
    assert out.returncode != 0 and out.stdout == b""
    assert b"there is no database" in out.stderr, out.stderr
    assert not (tmp_path / "nothing" / "taskchat.db").exists()



# --------------------------------------------------------------------------------------------------------------
# Confirming a batch deletion by elicitation
# --------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def stateful_url(deployment: Deployment) -> Iterator[str]:
    """A copy of taskchat that keeps MCP sessions, so it can wait for a handshake client's answer."""
    server = deployment.start_copy(TASKCHAT_MCP_STATELESS="false")
    try:
        yield server.url
    finally:
        server.stop()


class Person:
    """An elicitation callback: answers as told ("error" refuses to ask) and keeps what it was asked."""

    def __init__(self, action: str, confirm: bool = True) -> None:
        self.action, self.confirm = action, confirm
        self.asked: list[types.ElicitRequestFormParams] = []

    async def __call__(self, context: Any, params: Any) -> types.ElicitResult | types.ErrorData:
        self.asked.append(params)
        if self.action == "error":
            return types.ErrorData(code=-32600, message="this client cannot ask now")
        content = {"confirm": self.confirm} if self.action == "accept" else None
        return types.ElicitResult(action=self.action, content=content)


# Where the client connects and how: default (stateless) HTTP or a stateful copy or stdio; "auto" negotiates
# 2026-07-28 (the server asks through the call's result), "legacy" the handshake (the server sends
# elicitation/create and waits).
ROUTES = {
    "http-modern": ("http", "auto"),
    "http-stateful-modern": ("stateful", "auto"),
    "http-stateful-legacy": ("stateful", "legacy"),
    "stdio-modern": ("stdio", "auto"),
    "stdio-legacy": ("stdio", "legacy"),
}


@contextlib.asynccontextmanager
async def connect(d: Deployment, url: str, account: Account, route: str, mode: str, **options: Any) -> AsyncIterator[Client]:
    if route == "stdio":
        async with Client(stdio_params(d, "--user", account.email), mode=mode, read_timeout_seconds=30, **options) as c:
            yield c
    else:
        async with mcp_http(url, account.token, mode, **options) as c:
            yield c


@pytest.mark.anyio
@pytest.mark.parametrize("route,mode", ROUTES.values(), ids=ROUTES.keys())
async def test_a_batch_deletion_asks_the_person_when_the_client_can(
    deployment: Deployment, stateful_url: str, route: str, mode: str
) -> None:
    ada = sign_up(deployment)
    url = stateful_url if route == "stateful" else deployment.url
    titles = ["buy milk", "call mum", "pay rent", "keep me"]
    batch = {"task_ids": [1, 2, 3, 9]}

    # Without the capability the result is the one the model acts on, as before.
    async with connect(deployment, url, ada, route, mode) as client:
        assert (client.protocol_version == "2026-07-28") == (mode == "auto")
        for title in titles:
            assert not (await call(client, "add_task", {"title": title}))[0]
        is_error, asked = await call(client, "delete_task", batch)
        assert is_error and asked["error"] == "confirmation_required"
        assert [t["number"] for t in asked["tasks"]["found"]] == [1, 2, 3]

    def left() -> list[str]:
        return [t["title"] for t in rest_tasks(deployment, ada.token)]

    # No, dismissed, or "accept" without the yes: nothing is deleted, and that is the call's (non-error) result.
    for person, why in [
        (Person("decline"), "the person said no"),
        (Person("cancel"), "the question was dismissed"),
        (Person("accept", confirm=False), "the person said no"),
    ]:
        async with connect(deployment, url, ada, route, mode, elicitation_callback=person) as client:
            is_error, result = await call(client, "delete_task", batch)
        assert not is_error, result
        assert result["deleted"] is False and result["declined"] is True and result["results"] == []
        assert result["message"] == f"Nothing was deleted: {why}."
        assert len(person.asked) == 1
        question = person.asked[0]
        assert question.message == "Delete these 3 tasks? 1 buy milk, 2 call mum, 3 pay rent (there is no task 9.)"
        schema = question.requested_schema
        assert schema["properties"]["confirm"]["type"] == "boolean" and schema["required"] == ["confirm"]
        assert left() == titles

    # A client that fails to ask: over the handshake the server falls back to the unchanged result; in 2026-07-28
    # the client gives up the call itself. Either way nothing is deleted.
    person = Person("error")
    async with connect(deployment, url, ada, route, mode, elicitation_callback=person) as client:
        if mode == "legacy":
            is_error, asked = await call(client, "delete_task", batch)
            assert is_error and asked["error"] == "confirmation_required"
        else:
            with pytest.raises(MCPError):
                await client.call_tool("delete_task", batch)
    assert len(person.asked) == 1 and left() == titles

    # Yes: the call goes ahead as if confirm: true had been passed, and its result lists each task.
    person = Person("accept")
    async with connect(deployment, url, ada, route, mode, elicitation_callback=person) as client:
        is_error, deleted = await call(client, "delete_task", batch)
        assert not is_error and deleted["deleted"] is True
        assert (deleted["succeeded"], deleted["failed"]) == (3, 1)
        assert [(r["number"], r["ok"]) for r in deleted["results"]] == [(1, True), (2, True), (3, True), (9, False)]
        assert [r["task"]["title"] for r in deleted["results"][:3]] == titles[:3]
        assert len(person.asked) == 1
        assert left() == ["keep me"]
        # Already confirmed, or one task: nobody is asked.
        assert not (await call(client, "add_task", {"title": "another"}))[0]
        assert not (await call(client, "delete_task", {"task_id": 4}))[0]
        is_error, _ = await call(client, "delete_task", {"task_ids": [5, 6], "confirm": True})
        assert not is_error
        assert len(person.asked) == 1 and left() == []


@pytest.mark.anyio
async def test_stateless_http_does_not_ask_handshake_clients(deployment: Deployment) -> None:
    """Without sessions the client's answer to elicitation/create would reach no one: the model asks instead."""
    ada = sign_up(deployment)
    person = Person("accept")
    async with mcp_http(deployment.url, ada.token, "legacy", elicitation_callback=person) as client:
        for title in ["one", "two"]:
            assert not (await call(client, "add_task", {"title": title}))[0]
        is_error, asked = await call(client, "delete_task", {"task_ids": [1, 2]})
        assert is_error and asked["error"] == "confirmation_required"
    assert person.asked == []
    assert len(rest_tasks(deployment, ada.token)) == 2


def test_a_retry_with_a_yes_for_other_tasks_is_asked_again(deployment: Deployment) -> None:
    """A 2026-07-28 retry's answer counts only for the tasks it was asked about (the echoed requestState)."""
    ada = sign_up(deployment)
    headers = {"MCP-Protocol-Version": "2026-07-28"}
    meta = {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "raw", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": {"elicitation": {"form": {}}},
    }

    def tools_call(i: int, name: str, arguments: dict[str, Any], **extra: Any) -> dict[str, Any]:
        body = {"jsonrpc": "2.0", "id": i, "method": "tools/call",
                "params": {"name": name, "arguments": arguments, "_meta": meta, **extra}}
        r = mcp_post(deployment.url, body, ada.token, **headers, **{"Mcp-Method": "tools/call", "Mcp-Name": name})
        assert r.status_code == 200, r.text
        return jsonrpc_reply(r)

    for i, title in enumerate(["one", "two", "three"]):
        assert tools_call(i, "add_task", {"title": title})["result"]["isError"] is False
    first = tools_call(10, "delete_task", {"task_ids": [1, 2]})["result"]
    assert first["resultType"] == "input_required", first
    question = first["inputRequests"]["confirm_delete"]
    assert question["method"] == "elicitation/create"
    assert question["params"]["message"] == "Delete these 2 tasks? 1 one, 2 two"
    yes = {"confirm_delete": {"action": "accept", "content": {"confirm": True}}}
    # The yes to tasks 1 and 2, replayed for 2 and 3: asked again, nothing deleted.
    again = tools_call(11, "delete_task", {"task_ids": [2, 3]}, inputResponses=yes, requestState=first["requestState"])
    assert again["result"]["resultType"] == "input_required"
    assert again["result"]["inputRequests"]["confirm_delete"]["params"]["message"] == "Delete these 2 tasks? 2 two, 3 three"
    # A reply that is not an elicitation result: the unchanged confirmation_required.
    bad = {"confirm_delete": {"nonsense": 1}}
    odd = tools_call(12, "delete_task", {"task_ids": [1, 2]}, inputResponses=bad, requestState=first["requestState"])
    assert odd["result"]["isError"] is True
    assert odd["result"]["structuredContent"]["error"] == "confirmation_required"
    assert len(rest_tasks(deployment, ada.token)) == 3
    done = tools_call(13, "delete_task", {"task_ids": [1, 2]}, inputResponses=yes, requestState=first["requestState"])
    assert done["result"]["structuredContent"]["succeeded"] == 2
    assert [t["title"] for t in rest_tasks(deployment, ada.token)] == ["three"]

if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
