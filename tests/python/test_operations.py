"""Running taskchat for real: several copies on one PostgreSQL, live updates across them, /metrics.

Two `taskchat serve` processes share one throwaway PostgreSQL database: a session made on one works on the
other, a change made through the second reaches an /api/events stream held open on the first (LISTEN/NOTIFY),
the sign-in rate limit holds across both, and nobody receives another person's events. /metrics parses as
Prometheus text (with the official prometheus_client parser) and its counters move with traffic.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
from prometheus_client.parser import text_string_to_metric_families

from test_chatkit import PASSWORD, Server, fresh_database_url, server

PG = os.environ.get("TASKCHAT_TEST_DATABASE_URL")


def sign_up(url: str, name: str) -> dict[str, Any]:
    email = f"{name.lower()}-{uuid.uuid4().hex[:8]}@example.com"
    r = httpx2.post(f"{url}/api/auth/sign-up/email", json={"name": name, "email": email, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"email": email, "token": r.json()["token"], "id": r.json()["user"]["id"]}


def auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


class EventStream:
    """Holds GET /api/events open in a thread and queues what arrives."""

    def __init__(self, url: str, token: str) -> None:
        self.events: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
        self.ready = threading.Event()
        self._stop = False
        self._thread = threading.Thread(target=self._run, args=(url, token), daemon=True)
        self._thread.start()
        assert self.ready.wait(10), "the event stream did not open"

    def _run(self, url: str, token: str) -> None:
        with httpx2.stream("GET", f"{url}/api/events", headers=auth(token), timeout=None) as r:
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/event-stream")
            kind = None
            for line in r.iter_lines():
                if self._stop:
                    return
                if line.startswith("event:"):
                    kind = line[6:].strip()
                elif line.startswith("data:") and kind:
                    if kind == "ready":
                        self.ready.set()
                    else:
                        self.events.put((kind, json.loads(line[5:].strip())))
                    kind = None

    def next(self, timeout: float = 5.0) -> tuple[str, dict[str, Any]]:
        return self.events.get(timeout=timeout)

    def assert_quiet(self, seconds: float) -> None:
        with contextlib.suppress(queue.Empty):
            got = self.events.get(timeout=seconds)
            raise AssertionError(f"received someone else's event: {got}")

    def close(self) -> None:
        self._stop = True


@contextlib.contextmanager
def two_copies() -> Iterator[tuple[Server, Server]]:
    url = fresh_database_url()
    # Copies behind one load balancer share one public URL: the JWT issuer and audience.
    shared = {"DATABASE_URL": url, "TASKCHAT_RATE_LIMIT_MAX": "3", "TASKCHAT_BASE_URL": "http://taskchat.test"}
    with server("postgres", shared) as a, \
            server("postgres", shared) as b:
        yield a, b


@pytest.mark.skipif(not PG, reason="needs the throwaway PostgreSQL that scripts/test.sh starts")
def test_two_copies_share_sessions_events_and_rate_limits() -> None:
    with two_copies() as (a, b):
        ada = sign_up(a.url, "Ada")
        bob = sign_up(a.url, "Bob")
        # A session made on the first copy works on the second, cookie or bearer, and so does a JWT.
        assert httpx2.get(f"{b.url}/api/tasks", headers=auth(ada["token"])).status_code == 200
        jwt = httpx2.get(f"{a.url}/api/auth/token", headers=auth(ada["token"])).json()["token"]
        assert httpx2.get(f"{b.url}/api/tasks", headers=auth(jwt)).status_code == 200

        ada_events = EventStream(a.url, ada["token"])
        bob_events = EventStream(a.url, bob["token"])
        try:
            started = time.monotonic()
            r = httpx2.post(f"{b.url}/api/tasks", headers=auth(ada["token"]), json={"title": "from the second copy"})
            assert r.status_code == 201
            kind, data = ada_events.next()
            assert kind == "task.created" and data["task"]["title"] == "from the second copy"
            assert time.monotonic() - started < 1.0, "live updates arrive within a second"
            httpx2.post(f"{b.url}/api/tasks/1/complete", headers=auth(ada["token"]))
            kind, data = ada_events.next()
            assert kind == "task.updated" and data["task"]["completed"] is True
            # A chat on the second copy: the thread and its messages reach the first.
            chat = httpx2.post(f"{b.url}/api/{ada['id']}/chat", headers=auth(ada["token"]),
                               json={"message": "add call the plumber"}, timeout=30)
            assert chat.status_code == 200, chat.text
            seen = set()
            while "task.created" not in seen or "thread.created" not in seen:
                seen.add(ada_events.next()[0])
            bob_events.assert_quiet(1.0)
        finally:
            ada_events.close()
            bob_events.close()

        # The sign-in limit counts attempts on both copies together.
        statuses = []
        for i in range(4):
            target = a if i % 2 == 0 else b
            statuses.append(httpx2.post(f"{target.url}/api/auth/sign-in/email",
                                        json={"email": ada["email"], "password": "wrong password"}).status_code)
        assert statuses == [401, 401, 401, 429], statuses


def metric_value(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


def test_metrics_parse_and_move_with_traffic() -> None:
    with server("sqlite", {"TASKCHAT_METRICS_TOKEN": "metrics-secret"}) as s:
        assert httpx2.get(f"{s.url}/metrics").status_code == 401
        scrape = lambda: httpx2.get(f"{s.url}/metrics", headers=auth("metrics-secret"))  # noqa: E731
        first = scrape()
        assert first.status_code == 200 and first.headers["content-type"].startswith("text/plain")
        families = {f.name: f.type for f in text_string_to_metric_families(first.text)}
        assert families["taskchat_http_requests"] == "counter"
        assert families["taskchat_http_request_duration_seconds"] == "histogram"
        assert families["taskchat_open_streams"] == "gauge"
        assert families["taskchat_db_pool_connections"] == "gauge"
        assert families["taskchat_db_writes_waiting"] == "gauge"
        # Present on SQLite (nothing is writing now, so none wait).
        samples = {x.name: x.value for f in text_string_to_metric_families(first.text) for x in f.samples}
        assert samples["taskchat_db_writes_waiting"] == 0
        before = metric_value(first.text, "taskchat_http_requests_total", route="/api/tasks", method="GET", status="200")
        p = sign_up(s.url, "Metric")
        for _ in range(3):
            assert httpx2.get(f"{s.url}/api/tasks", headers=auth(p["token"])).status_code == 200
        chat = httpx2.post(f"{s.url}/api/{p['id']}/chat", headers=auth(p["token"]), json={"message": "add milk"})
        assert chat.status_code == 200
        # The turn is counted when it ends, just after its answer was sent: wait for it, briefly.
        deadline = time.monotonic() + 5
        while metric_value(after := scrape().text, "taskchat_chat_turns_total", outcome="answered") < 1:
            assert time.monotonic() < deadline, "the chat turn was never counted"
            time.sleep(0.02)
        assert metric_value(after, "taskchat_http_requests_total", route="/api/tasks", method="GET",
                            status="200") == before + 3
        assert metric_value(after, "taskchat_chat_turns_total", outcome="answered") == 1
        assert metric_value(after, "taskchat_chat_turn_seconds_count", part="server") == 1
        assert metric_value(after, "taskchat_http_request_duration_seconds_count", route="/api/tasks") >= 3
        # Ids never become labels: the route pattern is used.
        assert "/api/tasks/1" not in after
