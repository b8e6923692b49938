"""Connecting an MCP client in one click: the official MCP Python SDK's OAuth client against the real
taskchat binary, from discovery (401 → protected-resource metadata → authorization server metadata →
dynamic registration) through sign-in and consent to tools/list and tools/call, with no token pasted.
The person is played over HTTP: the redirect handler signs in and presses Allow the way the consent page does.

Runs once per database, like test_mcp.py (whose server helpers it uses).
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx2
import pytest
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

from test_mcp import PASSWORD, Deployment, anyio_backend, deployment, mcp_post, sign_up  # noqa: F401

REDIRECT_URI = "http://127.0.0.1:33418/callback"


class MemoryStorage:
    """The SDK's token storage, in memory."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


@dataclasses.dataclass
class Person:
    """Someone at a browser: an account, and a cookie jar once signed in."""

    d: Deployment
    email: str
    browser: httpx2.Client = dataclasses.field(default_factory=lambda: httpx2.Client(timeout=30))
    consent_pages: list[str] = dataclasses.field(default_factory=list)
    callback: AuthorizationCodeResult | None = None

    def sign_in(self) -> None:
        r = self.browser.post(
            f"{self.d.url}/api/auth/sign-in/email",
            json={"email": self.email, "password": PASSWORD},
            headers={"Origin": self.d.url},
        )
        assert r.status_code == 200, r.text

    def open(self, url: str) -> httpx2.Response:
        return self.browser.get(url if url.startswith("http") else f"{self.d.url}{url}", follow_redirects=False)

    async def redirect_handler(self, authorization_url: str) -> None:
        """What the browser does with the authorization URL: sign in when asked, then Allow."""
        r = self.open(authorization_url)
        assert r.status_code == 302, r.text
        location = r.headers["location"]
        if location.startswith("/login?"):
            # Not signed in: the sign-in page, which sends the person back to the same request.
            next_url = parse_qs(urlparse(location).query)["next"][0]
            assert next_url.startswith("/api/auth/oauth2/authorize?")
            self.sign_in()
            r = self.open(next_url)
            assert r.status_code == 302, r.text
            location = r.headers["location"]
        if location.startswith("/oauth/consent?"):
            self.consent_pages.append(location)
            page = self.open(location)
            assert page.status_code == 200 and "<html" in page.text.lower()
            oauth_query = location.split("?", 1)[1]
            r = self.browser.post(
                f"{self.d.url}/api/auth/oauth2/consent",
                json={"accept": True, "oauth_query": oauth_query},
                headers={"Origin": self.d.url},
            )
            assert r.status_code == 200, r.text
            location = r.json()["url"]
        assert location.startswith(REDIRECT_URI), location
        q = parse_qs(urlparse(location).query)
        self.callback = AuthorizationCodeResult(code=q["code"][0], state=q["state"][0], iss=q["iss"][0])

    async def callback_handler(self) -> AuthorizationCodeResult:
        assert self.callback is not None
        return self.callback


def a_person(d: Deployment, name: str) -> Person:
    account = sign_up(d, name)
    return Person(d, account.email)


def oauth_provider(d: Deployment, person: Person, storage: MemoryStorage) -> OAuthClientProvider:
    return OAuthClientProvider(
        server_url=f"{d.url}/mcp",
        client_metadata=OAuthClientMetadata(
            client_name="Test MCP client",
            redirect_uris=[REDIRECT_URI],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
        ),
        storage=storage,
        redirect_handler=person.redirect_handler,
        callback_handler=person.callback_handler,
    )


async def tool(client: Client, name: str, args: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(name, args)
    assert not result.is_error, result
    assert result.structured_content is not None
    return result.structured_content


@pytest.mark.anyio
async def test_an_mcp_client_connects_with_oauth_and_no_pasted_token(deployment: Deployment) -> None:
    d = deployment
    ada = a_person(d, "Ada")
    storage = MemoryStorage()
    auth = oauth_provider(d, ada, storage)
    async with httpx2.AsyncClient(auth=auth, timeout=30) as http:
        transport = streamable_http_client(f"{d.url}/mcp", http_client=http)
        async with Client(transport, read_timeout_seconds=30) as client:
            names = {t.name for t in (await client.list_tools()).tools}
            assert {"add_task", "list_tasks"} <= names
            added = await tool(client, "add_task", {"title": "Buy oat milk"})
            assert added["task"]["title"] == "Buy oat milk"
            listed = await tool(client, "list_tasks", {})
            assert [t["title"] for t in listed["tasks"]] == ["Buy oat milk"]

    # The person saw the consent page once, and the client got tokens bound to /mcp.
    assert len(ada.consent_pages) == 1
    tokens = storage.tokens
    assert tokens is not None and tokens.access_token.startswith("tca_") and tokens.refresh_token
    assert set((tokens.scope or "").split()) >= {"tasks:read", "tasks:write"}
    client_info = storage.client_info
    assert client_info is not None

    # The same token is refused by the REST API: it was minted for /mcp (RFC 8707).
    rest = httpx2.get(f"{d.url}/api/tasks", headers={"Authorization": f"Bearer {tokens.access_token}"})
    assert rest.status_code == 401
    assert 'error="invalid_token"' in rest.headers["www-authenticate"]

    # Refresh: a new pair, and the old refresh token is spent.
    token_url = f"{d.url}/api/auth/oauth2/token"
    basic = (client_info.client_id, client_info.client_secret or "")
    r = httpx2.post(
        token_url, data={"grant_type": "refresh_token", "refresh_token": tokens.refresh_token}, auth=basic
    )
    assert r.status_code == 200, r.text
    fresh = r.json()
    assert fresh["access_token"] != tokens.access_token and fresh["refresh_token"] != tokens.refresh_token
    assert mcp_post(d.url, {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, fresh["access_token"]).status_code == 200

    # Revoke: the next call with that token is 401, naming where to get another.
    r = httpx2.post(f"{d.url}/api/auth/oauth2/revoke", data={"token": fresh["access_token"]}, auth=basic)
    assert r.status_code == 200, r.text
    r = mcp_post(d.url, {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, fresh["access_token"])
    assert r.status_code == 401
    challenge = r.headers["www-authenticate"]
    assert f'resource_metadata="{d.url}/.well-known/oauth-protected-resource/mcp"' in challenge
    assert "scope=" in challenge

    # A second person connects the same way and never sees the first one's tasks.
    bob = a_person(d, "Bob")
    bob_storage = MemoryStorage()
    async with httpx2.AsyncClient(auth=oauth_provider(d, bob, bob_storage), timeout=30) as http:
        transport = streamable_http_client(f"{d.url}/mcp", http_client=http)
        async with Client(transport, read_timeout_seconds=30) as client:
            listed = await tool(client, "list_tasks", {})
            assert listed["tasks"] == []
            await tool(client, "add_task", {"title": "Bob's own"})
            search = await tool(client, "list_tasks", {"search": "oat milk"})
            assert search["tasks"] == []
            result = await client.call_tool("complete_task", {"task_id": 1})
            assert result.structured_content is not None
            assert result.structured_content["task"]["title"] == "Bob's own"
    assert bob_storage.tokens is not None and bob_storage.tokens.access_token != tokens.access_token


@pytest.mark.anyio
async def test_a_read_only_grant_is_refused_writes_with_insufficient_scope(deployment: Deployment) -> None:
    d = deployment
    cleo = a_person(d, "Cleo")
    reg = httpx2.post(
        f"{d.url}/api/auth/oauth2/register",
        json={"redirect_uris": [REDIRECT_URI], "token_endpoint_auth_method": "none", "client_name": "Reader"},
    )
    assert reg.status_code == 201, reg.text
    client_id = reg.json()["client_id"]
    verifier = uuid.uuid4().hex + uuid.uuid4().hex
    import base64
    import hashlib

    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = httpx2.QueryParams(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": REDIRECT_URI,
            "state": "s1",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "scope": "tasks:read",
            "resource": f"{d.url}/mcp",
        }
    )
    cleo.sign_in()
    await cleo.redirect_handler(f"{d.url}/api/auth/oauth2/authorize?{query}")
    assert cleo.callback is not None and cleo.callback.iss == d.url
    r = httpx2.post(
        f"{d.url}/api/auth/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "code": cleo.callback.code,
            "code_verifier": verifier,
            "client_id": client_id,
            "redirect_uri": REDIRECT_URI,
        },
    )
    assert r.status_code == 200, r.text
    token = r.json()["access_token"]
    read = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "list_tasks", "arguments": {}}}
    assert mcp_post(d.url, read, token).status_code == 200
    write = {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "add_task", "arguments": {"title": "x"}}}
    r = mcp_post(d.url, write, token)
    assert r.status_code == 403, r.text
    assert 'error="insufficient_scope"' in r.headers["www-authenticate"]
    assert 'scope="tasks:write"' in r.headers["www-authenticate"]
    assert json.loads(r.text)["error"] == "insufficient_scope"
