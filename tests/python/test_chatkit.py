"""ChatKit conformance: the official `openai-chatkit` types as the oracle for every body and SSE line of
/chatkit, driven against the real taskchat binary on SQLite and (when TASKCHAT_TEST_DATABASE_URL is set)
PostgreSQL.

Every JSON body and every `data:` line is validated with pydantic in strict mode, and its raw keys are diffed
against the validated dump (pydantic ignores unknown keys, so an extra field would otherwise pass unseen).
Event order is checked against the rules of the reference server. Two models answer: the builtin assistant,
and a scripted fake OpenAI server (Chat Completions streaming) that calls a tool and then streams its answer.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx2
import pytest
from chatkit.types import Page, Thread, ThreadItem, ThreadStreamEvent
from pydantic import TypeAdapter

ROOT = Path(__file__).resolve().parents[2]
BIN = os.environ.get("TASKCHAT_BIN") or str(ROOT / "target" / "debug" / "taskchat")
PG_ADMIN_URL = os.environ.get("TASKCHAT_TEST_DATABASE_URL")
PASSWORD = "correct horse battery"

EVENT = TypeAdapter(ThreadStreamEvent)
THREAD = TypeAdapter(Thread)
THREAD_PAGE = TypeAdapter(Page[Thread])
ITEM_PAGE = TypeAdapter(Page[ThreadItem])


# ---------------------------------------------------------------------------------------------------------------
# The oracle
# ---------------------------------------------------------------------------------------------------------------


def unknown_keys(raw: Any, dumped: Any, path: str = "$") -> list[str]:
    """Keys present in what the server sent but absent from the validated model: fields ChatKit does not know."""
    out: list[str] = []
    if isinstance(raw, dict) and isinstance(dumped, dict):
        for k, v in raw.items():
            if k not in dumped:
                # Fields sent as null are dropped by exclude_none; they are not unknown.
                if v is not None:
                    out.append(f"{path}.{k}")
            else:
                out.extend(unknown_keys(v, dumped[k], f"{path}.{k}"))
    elif isinstance(raw, list) and isinstance(dumped, list):
        for i, (a, b) in enumerate(zip(raw, dumped)):
            out.extend(unknown_keys(a, b, f"{path}[{i}]"))
    return out


def check(adapter: TypeAdapter[Any], text: str) -> Any:
    """Validates strictly and returns the raw JSON; fails on any field ChatKit's types do not define."""
    model = adapter.validate_json(text, strict=True)
    raw = json.loads(text)
    dumped = adapter.dump_python(model, mode="json", by_alias=True, exclude_none=True)
    extra = unknown_keys(raw, dumped)
    assert not extra, f"fields ChatKit does not define: {extra} in {text}"
    return raw


# ---------------------------------------------------------------------------------------------------------------
# A scripted fake OpenAI server
# ---------------------------------------------------------------------------------------------------------------


class FakeOpenAI:
    """Answers POST /v1/chat/completions with scripted streams and records what it was sent."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                fake.requests.append(body)
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.end_headers()
                for chunk in fake.script(body):
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()
                self.wfile.write(b"data: [DONE]\n\n")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @staticmethod
    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "model": "fake",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }

    def script(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        last = body["messages"][-1]
        if last["role"] == "user":
            # First step: call add_task, its arguments split over two chunks as OpenAI does.
            title = last["content"].removeprefix("please add ").strip()
            args = json.dumps({"title": title})
            return [
                self.chunk({"role": "assistant", "tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                                                               "function": {"name": "add_task", "arguments": args[:5]}}]}),
                self.chunk({"tool_calls": [{"index": 0, "function": {"arguments": args[5:]}}]}),
                self.chunk({}, "tool_calls"),
            ]
        result = json.loads(last["content"])
        task = result["task"]
        return [
            self.chunk({"role": "assistant", "content": "Added "}),
            self.chunk({"content": f"task {task['number']}: "}),
            self.chunk({"content": task["title"]}),
            self.chunk({}, "stop"),
        ]

    def close(self) -> None:
        self.server.shutdown()


# ---------------------------------------------------------------------------------------------------------------
# Servers, people, requests
# ---------------------------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fresh_database_url() -> str:
    import psycopg

    name = "ck_" + uuid.uuid4().hex[:12]
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


@dataclasses.dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path


@contextlib.contextmanager
def server(database: str, extra_env: dict[str, str] | None = None) -> Iterator[Server]:
    data = Path(tempfile.mkdtemp(prefix="chatkit-"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TASKCHAT_", "OPENAI_", "GEMINI_"))}
    env.pop("DATABASE_URL", None)
    env.update({"TASKCHAT_SECRET": "chatkit-test-secret-0123456789abcdefghijklmnop",
                "TASKCHAT_RATE_LIMIT_MAX": "1000", "TASKCHAT_TRUSTED_ORIGINS": "http://localhost:3000",
                "TASKCHAT_LOG_FORMAT": "json"})
    if database == "postgres":
        env["DATABASE_URL"] = fresh_database_url()
    env.update(extra_env or {})
    log = data / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([BIN, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", str(data)],
                                env=env, stdout=out, stderr=subprocess.STDOUT, cwd=data)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            if httpx2.get(f"{url}/readyz", timeout=1).status_code == 200:
                break
        except httpx2.HTTPError:
            pass
        assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
        time.sleep(0.05)
    try:
        yield Server(url, proc, log)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def databases() -> list[str]:
    return ["sqlite", "postgres"] if PG_ADMIN_URL else ["sqlite"]


@dataclasses.dataclass
class Person:
    url: str
    token: str
    user_id: str

    def post(self, body: Any, raw: bytes | None = None) -> httpx2.Response:
        return httpx2.post(f"{self.url}/chatkit", content=raw if raw is not None else json.dumps(body),
                           headers={"authorization": f"Bearer {self.token}", "content-type": "application/json"},
                           timeout=30)

    def json(self, body: Any, adapter: TypeAdapter[Any]) -> Any:
        r = self.post(body)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("application/json")
        return check(adapter, r.text)

    def stream(self, body: Any) -> list[dict[str, Any]]:
        """Posts a streaming request; validates every line; returns the events in order."""
        events = []
        with httpx2.stream("POST", f"{self.url}/chatkit", content=json.dumps(body), timeout=30,
                           headers={"authorization": f"Bearer {self.token}", "accept": "text/event-stream"}) as r:
            assert r.status_code == 200, r.read()
            assert r.headers["content-type"].startswith("text/event-stream")
            assert r.headers["cache-control"] == "no-cache"
            assert r.headers["x-accel-buffering"] == "no"
            buffer = ""
            for text in r.iter_text():
                buffer += text
                while "\n\n" in buffer:
                    frame, buffer = buffer.split("\n\n", 1)
                    lines = frame.split("\n")
                    assert len(lines) == 1 and lines[0].startswith("data: "), f"not a one-line data frame: {frame!r}"
                    events.append(check(EVENT, lines[0][len("data: "):]))
            assert buffer == "", f"trailing bytes: {buffer!r}"
        return events


def sign_up(url: str, name: str) -> Person:
    r = httpx2.post(f"{url}/api/auth/sign-up/email",
                    json={"name": name, "email": f"{name.lower()}-{uuid.uuid4().hex[:8]}@example.com",
                          "password": PASSWORD})
    assert r.status_code == 200, r.text
    return Person(url, r.json()["token"], r.json()["user"]["id"])


def user_input(text: str) -> dict[str, Any]:
    return {"content": [{"type": "input_text", "text": text}], "attachments": [], "quoted_text": None,
            "inference_options": {"tool_choice": None, "model": None}}


# ---------------------------------------------------------------------------------------------------------------
# Event order rules
# ---------------------------------------------------------------------------------------------------------------


def check_order(events: list[dict[str, Any]], *, created: bool, echo_user: bool) -> dict[str, Any]:
    """The reference server's order; returns the finished assistant message."""
    kinds = [e["type"] for e in events]
    i = 0
    if created:
        assert kinds[0] == "thread.created", kinds
        assert events[0]["thread"]["items"] == {"data": [], "has_more": False}
        i = 1
    if echo_user:
        assert kinds[i] == "thread.item.done" and events[i]["item"]["type"] == "user_message", kinds
        i += 1
    assert kinds[i] == "stream_options" and events[i]["stream_options"] == {"allow_cancel": True}, kinds
    added: set[str] = set()
    done: set[str] = set()
    texts: dict[str, str] = {}
    answer = None
    for e in events[i + 1:]:
        if e["type"] == "thread.item.added":
            added.add(e["item"]["id"])
        elif e["type"] == "thread.item.updated":
            assert e["item_id"] in added and e["item_id"] not in done, f"update outside added..done: {e}"
            u = e["update"]
            if u["type"] == "assistant_message.content_part.text_delta":
                texts[e["item_id"]] = texts.get(e["item_id"], "") + u["delta"]
        elif e["type"] == "thread.item.done":
            item = e["item"]
            assert item["id"] not in done
            done.add(item["id"])
            if item["type"] == "assistant_message":
                answer = item
                assert item["id"] in added, "the streamed answer is announced before it is done"
                assert texts[item["id"]] == item["content"][0]["text"], "deltas add up to the final text"
        elif e["type"] == "thread.created":
            raise AssertionError("thread.created only comes first")
    assert added <= done, f"items added but never done: {added - done}"
    assert answer is not None, f"no assistant message in {kinds}"
    updated = [k for k in kinds if k == "thread.updated"]
    if updated:
        assert kinds.index("thread.updated") > kinds.index("thread.item.done", kinds.index("stream_options")), kinds
    return answer


# ---------------------------------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=databases())
def app(request: pytest.FixtureRequest) -> Iterator[Server]:
    with server(request.param) as s:
        yield s


def test_the_whole_flow_validates_against_the_official_types(app: Server) -> None:
    alice = sign_up(app.url, "Alice")
    empty = alice.json({"type": "threads.list", "params": {"limit": 9999, "order": "desc"}}, THREAD_PAGE)
    assert empty == {"data": [], "has_more": False}

    events = alice.stream({"type": "threads.create", "params": {"input": user_input("add a task to buy milk")},
                           "metadata": {}})
    answer = check_order(events, created=True, echo_user=True)
    thread_id = events[0]["thread"]["id"]
    assert "buy milk" in answer["content"][0]["text"]
    # The tool ran as a workflow the UI can render, and finished.
    workflow = next(e["item"] for e in events if e["type"] == "thread.item.done" and e["item"]["type"] == "workflow")
    assert workflow["workflow"]["tasks"][0]["status_indicator"] == "complete"
    assert "buy milk" in workflow["workflow"]["tasks"][0]["title"]
    assert any(e["type"] == "thread.updated" and e["thread"].get("title") for e in events), "the thread gets a title"
    tasks = httpx2.get(f"{app.url}/api/tasks", headers={"authorization": f"Bearer {alice.token}"}).json()
    assert [t["title"] for t in tasks["tasks"]] == ["buy milk"]

    more = alice.stream({"type": "threads.add_user_message",
                         "params": {"thread_id": thread_id, "input": user_input("mark it done")}})
    check_order(more, created=False, echo_user=True)
    user_item = more[0]["item"]

    thread = alice.json({"type": "threads.get_by_id", "params": {"thread_id": thread_id}}, THREAD)
    kinds = [i["type"] for i in thread["items"]["data"]]
    assert kinds == ["user_message", "workflow", "assistant_message", "user_message", "workflow", "assistant_message"]
    assert thread["title"]

    # Pages in both orders, with cursors, cover every item exactly once; ids are stable across reloads.
    for order in ("asc", "desc"):
        seen, after = [], None
        while True:
            params = {"thread_id": thread_id, "limit": 2, "order": order}
            if after:
                params["after"] = after
            page = alice.json({"type": "items.list", "params": params}, ITEM_PAGE)
            seen += [i["id"] for i in page["data"]]
            if not page["has_more"]:
                assert "after" not in page
                break
            after = page["after"]
        expected = [i["id"] for i in thread["items"]["data"]]
        assert seen == (expected if order == "asc" else expected[::-1])

    renamed = alice.json({"type": "threads.update", "params": {"thread_id": thread_id, "title": "Groceries"}}, THREAD)
    assert renamed["title"] == "Groceries" and renamed["items"] == {"data": [], "has_more": False}
    listed = alice.json({"type": "threads.list", "params": {}}, THREAD_PAGE)
    assert [t["title"] for t in listed["data"]] == ["Groceries"]

    # Retry after the second user message: what followed is replaced, the user message is not echoed.
    retried = alice.stream({"type": "threads.retry_after_item",
                            "params": {"thread_id": thread_id, "item_id": user_item["id"]}})
    check_order(retried, created=False, echo_user=False)
    assert not any(e["type"] == "thread.item.done" and e["item"]["type"] == "user_message" for e in retried)
    after_retry = alice.json({"type": "threads.get_by_id", "params": {"thread_id": thread_id}}, THREAD)
    assert [i["type"] for i in after_retry["items"]["data"]].count("user_message") == 2
    assert len(after_retry["items"]["data"]) == 6

    answer_id = after_retry["items"]["data"][-1]["id"]
    assert alice.post({"type": "items.feedback", "params": {"thread_id": thread_id, "item_ids": [answer_id],
                                                            "kind": "positive"}}).json() == {}

    assert alice.post({"type": "threads.delete", "params": {"thread_id": thread_id}}).json() == {}
    gone = alice.post({"type": "threads.get_by_id", "params": {"thread_id": thread_id}})
    assert gone.status_code == 404 and gone.json()["message"]


def test_threads_list_pages_newest_first_and_clamps_limit(app: Server) -> None:
    bob = sign_up(app.url, "Bob")
    ids = []
    for n in range(3):
        ev = bob.stream({"type": "threads.create", "params": {"input": user_input(f"add task number {n}")}})
        ids.append(ev[0]["thread"]["id"])
    page1 = bob.json({"type": "threads.list", "params": {"limit": 2, "order": "desc"}}, THREAD_PAGE)
    assert [t["id"] for t in page1["data"]] == ids[::-1][:2] and page1["has_more"] is True
    page2 = bob.json({"type": "threads.list", "params": {"limit": 2, "order": "desc", "after": page1["after"]}},
                     THREAD_PAGE)
    assert [t["id"] for t in page2["data"]] == [ids[0]] and page2["has_more"] is False
    asc = bob.json({"type": "threads.list", "params": {"limit": None, "order": "asc", "after": None}}, THREAD_PAGE)
    assert [t["id"] for t in asc["data"]] == ids
    huge = bob.json({"type": "threads.list", "params": {"limit": 9999}}, THREAD_PAGE)
    assert len(huge["data"]) == 3


def test_another_persons_threads_and_items_are_out_of_reach(app: Server) -> None:
    alice, mallory = sign_up(app.url, "Owner"), sign_up(app.url, "Mallory")
    events = alice.stream({"type": "threads.create", "params": {"input": user_input("add walk the dog")}})
    thread_id = events[0]["thread"]["id"]
    before = alice.json({"type": "threads.get_by_id", "params": {"thread_id": thread_id}}, THREAD)
    item_ids = [i["id"] for i in before["items"]["data"]]
    user_item = item_ids[0]
    attempts = [
        {"type": "threads.get_by_id", "params": {"thread_id": thread_id}},
        {"type": "threads.add_user_message", "params": {"thread_id": thread_id, "input": user_input("delete 1")}},
        {"type": "threads.retry_after_item", "params": {"thread_id": thread_id, "item_id": user_item}},
        {"type": "threads.update", "params": {"thread_id": thread_id, "title": "mine now"}},
        {"type": "threads.delete", "params": {"thread_id": thread_id}},
        {"type": "items.list", "params": {"thread_id": thread_id}},
        {"type": "items.feedback", "params": {"thread_id": thread_id, "item_ids": item_ids, "kind": "negative"}},
        {"type": "threads.list", "params": {"after": thread_id}},
    ]
    for body in attempts:
        r = mallory.post(body)
        assert 400 <= r.status_code < 500, (body["type"], r.status_code, r.text)
        assert r.headers["content-type"].startswith("application/json") and r.json()["message"], body["type"]
        assert "walk the dog" not in r.text
    # Mallory's own thread cannot be used to reach Alice's items either.
    own = mallory.stream({"type": "threads.create", "params": {"input": user_input("hello")}})
    r = mallory.post({"type": "threads.retry_after_item", "params": {"thread_id": own[0]["thread"]["id"],
                                                                      "item_id": user_item}})
    assert 400 <= r.status_code < 500
    assert mallory.json({"type": "threads.list", "params": {}}, THREAD_PAGE)["data"][0]["id"] != thread_id
    after = alice.json({"type": "threads.get_by_id", "params": {"thread_id": thread_id}}, THREAD)
    assert after == before, "nothing of Alice's changed"
    tasks = httpx2.get(f"{app.url}/api/tasks", headers={"authorization": f"Bearer {alice.token}"}).json()
    assert [t["title"] for t in tasks["tasks"]] == ["walk the dog"]


def test_malformed_and_unsupported_requests_are_4xx_json(app: Server) -> None:
    p = sign_up(app.url, "Fuzz")
    bad: list[Any] = [
        b"not json", b"", b"[]", b"null", b'{"params": {}}', b'{"type": 42}',
        {"type": "threads.bogus", "params": {}},
        {"type": "threads.create", "params": {}},
        {"type": "threads.create", "params": {"input": {"content": "text"}}},
        {"type": "threads.create", "params": {"input": user_input("   ")}},
        {"type": "threads.create", "params": {"input": {**user_input("x"), "attachments": ["atc_1"]}}},
        {"type": "threads.get_by_id", "params": {"thread_id": 5}},
        {"type": "threads.get_by_id", "params": {"thread_id": "thr_nope"}},
        {"type": "items.list", "params": {"thread_id": "thr_nope", "order": "sideways"}},
        {"type": "items.feedback", "params": {"thread_id": "x", "item_ids": [], "kind": "meh"}},
        {"type": "attachments.create", "params": {"name": "a.png", "size": 1, "mime_type": "image/png"}},
        {"type": "input.transcribe", "params": {"audio_base64": "", "mime_type": "audio/webm"}},
        {"type": "threads.add_client_tool_output", "params": {"thread_id": "x", "result": {}}},
        {"type": "threads.custom_action", "params": {"thread_id": "x", "action": {"type": "y"}}},
    ]
    for body in bad:
        r = p.post(None, raw=body) if isinstance(body, bytes) else p.post(body)
        assert 400 <= r.status_code < 500, (body, r.status_code, r.text)
        assert r.headers["content-type"].startswith("application/json"), body
        assert isinstance(r.json().get("message"), str) and r.json()["message"], body
    # Unknown keys and nulls where the reference accepts them are fine.
    ok = p.stream({"type": "threads.create", "params": {"input": {**user_input("add tidy up"), "extra": 1}},
                   "metadata": {"anything": True}, "unknown": "ignored"})
    check_order(ok, created=True, echo_user=True)
    # No credential: 401 JSON, never a stream.
    r = httpx2.post(f"{app.url}/chatkit", json={"type": "threads.list", "params": {}})
    assert r.status_code == 401 and r.json()["message"]


@pytest.mark.parametrize("database", databases())
def test_a_scripted_model_that_calls_a_tool_streams_progress_and_deltas(database: str) -> None:
    fake = FakeOpenAI()
    try:
        env = {"TASKCHAT_MODELS": "openai:fake-model", "OPENAI_BASE_URL": fake.url, "OPENAI_API_KEY": "sk-test"}
        with server(database, env) as s:
            p = sign_up(s.url, "Scripted")
            events = p.stream({"type": "threads.create", "params": {"input": user_input("please add water plants")}})
            answer = check_order(events, created=True, echo_user=True)
            assert answer["content"][0]["text"] == "Added task 1: water plants"
            deltas = [e["update"]["delta"] for e in events if e["type"] == "thread.item.updated"
                      and e["update"]["type"] == "assistant_message.content_part.text_delta"]
            assert deltas == ["Added ", "task 1: ", "water plants"], "one text_delta per model delta"
            updates = [e["update"] for e in events if e["type"] == "thread.item.updated"
                       and e["update"]["type"].startswith("workflow.task")]
            assert [u["task"]["status_indicator"] for u in updates] == ["loading", "complete"]
            assert updates[0]["task"]["title"] == "Adding 'water plants'…"
            assert updates[1]["task"]["title"] == "Added task 1: water plants"
            # What the model was sent: the tools, then the tool result in the second request.
            first, second = fake.requests
            assert [t["function"]["name"] for t in first["tools"]] == [
                "add_task", "list_tasks", "complete_task", "reopen_task", "delete_task", "update_task",
                "undo_last_change",
            ]
            add_props = next(t for t in first["tools"] if t["function"]["name"] == "add_task")["function"]["parameters"]
            assert {"due", "priority", "labels"} <= set(add_props["properties"])
            assert first["stream"] is True
            tool_msg = second["messages"][-1]
            assert tool_msg["role"] == "tool" and tool_msg["tool_call_id"] == "call_1"
            assert json.loads(tool_msg["content"])["task"]["title"] == "water plants"
    finally:
        fake.close()
