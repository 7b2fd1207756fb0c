"""The Python agent's ledger (protocol v3) beyond the conformance suite: it survives a restart with its id,
an unanswered order reads `interrupted` after one, a corrupted file refuses orders and says why in health,
the ledger answers while a call holds the terminal, and old entries are dropped."""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import requests
from fake_mt5 import FakeMT5

from mt5_agent import Agent, Ledger, serve_in_thread
from mt5_agent.ledger import Session

FIRST = {"login": 10001, "password": "Sim-10001!", "server": "Sim-Demo"}
TAG = hashlib.sha256(b"ledger-test|10001").hexdigest()


class Running:
    def __init__(self, fake: FakeMT5, ledger: Ledger) -> None:
        self.fake = fake
        self.ledger = ledger
        self.token = secrets.token_urlsafe(16)
        self.agent = Agent(fake, self.token, login_poll_s=0.05, ledger=ledger)
        self.server = serve_in_thread(self.agent)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"

    def post(self, path: str, body: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token}"}
        return requests.post(self.base + path, json=body, headers=headers, timeout=30)

    def login(self) -> None:
        resp = self.post("/v1/login", dict(FIRST, session_tag=TAG, timeout_ms=10_000))
        assert resp.status_code == 200, resp.text

    def send(self, client_id: str, volume: float = 0.01) -> requests.Response:
        request = {"action": 1, "symbol": "EURUSD", "volume": volume, "type": 0, "type_filling": 1}
        return self.post("/v1/call/order_send", self._body({"request": request}, client_id=client_id))

    def query(self, *ids: str) -> list[dict[str, Any]]:
        resp = self.post("/v1/call/ledger", self._body({"client_ids": list(ids)}))
        assert resp.status_code == 200, resp.text
        return list(resp.json()["result"]["entries"])

    def health(self) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.token}"}
        return dict(requests.get(self.base + "/v1/health", headers=headers, timeout=10).json())

    def _body(self, args: dict[str, Any], **extra: Any) -> dict[str, Any]:
        expected = {"login": FIRST["login"], "server": FIRST["server"], "session_tag": TAG}
        return {"expected": expected, "lease": None, "args": args, **extra}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.ledger.close()


def test_the_ledger_and_its_id_survive_a_restart(tmp_path: Path) -> None:
    path = str(tmp_path / "ledger.db")
    fake = FakeMT5()
    first = Running(fake, Ledger(path))
    ledger_id = first.health()["ledger"]["id"]
    first.login()
    sent = first.send("done-before")
    assert sent.status_code == 200, sent.text
    # An order received and never answered (the agent died mid-call): its row stays `received`.
    first.ledger.begin("died-mid-call", Session(FIRST["login"], FIRST["server"], TAG))
    assert first.query("died-mid-call")[0]["state"] == "running"
    first.close()

    second = Running(fake, Ledger(path))
    try:
        assert second.health()["ledger"] == {"id": ledger_id, "retention_s": 7 * 86_400, "error": None}
        done, died = second.query("done-before", "died-mid-call")
        assert done["state"] == "answered" and done["answer"]["result"] == sent.json()["result"], done
        assert died["state"] == "interrupted", died
        # Neither replays as a new order: the answered one replays its answer, the other is in doubt.
        second.login()
        orders_before = fake.calls.count("order_send")
        assert second.send("done-before").json()["result"] == sent.json()["result"]
        resp = second.send("died-mid-call")
        assert resp.status_code == 504 and resp.json()["error"]["code"] == "timeout", resp.text
        assert fake.calls.count("order_send") == orders_before
    finally:
        second.close()


def test_a_new_ledger_gets_a_new_id(tmp_path: Path) -> None:
    a, b = Ledger(str(tmp_path / "a.db")), Ledger(str(tmp_path / "b.db"))
    assert a.id and b.id and a.id != b.id
    a.close()
    b.close()


def test_a_corrupted_ledger_refuses_orders_and_says_why(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    path.write_bytes(b"this is not a SQLite database, just some bytes " * 100)
    fake = FakeMT5()
    r = Running(fake, Ledger(str(path)))
    try:
        health = r.health()["ledger"]
        assert health["id"] is None and health["error"], health
        r.login()
        resp = r.send("refused")
        assert resp.status_code == 503 and resp.json()["error"]["code"] == "ledger_unavailable", resp.text
        assert "order_send" not in fake.calls
        resp = r.post("/v1/call/ledger", r._body({"client_ids": ["x"]}))
        assert resp.status_code == 503 and resp.json()["error"]["code"] == "ledger_unavailable", resp.text
        # Reads still work: only trading is refused.
        assert r.post("/v1/call/account_info", r._body({})).status_code == 200
    finally:
        r.close()
    # Moved aside, a new ledger is made.
    path.rename(tmp_path / "ledger.db.bad")
    fresh = Ledger(str(path))
    assert fresh.error is None and fresh.id
    fresh.close()


def test_the_ledger_answers_while_a_call_holds_the_terminal(tmp_path: Path) -> None:
    fake = FakeMT5()
    r = Running(fake, Ledger(str(tmp_path / "ledger.db")))
    try:
        r.login()
        fake.call_delay_s = 1.0
        sending = threading.Thread(target=r.send, args=("slow-order",))
        sending.start()
        time.sleep(0.3)
        started = time.monotonic()
        states = [e["state"] for e in r.query("slow-order")]
        took = time.monotonic() - started
        sending.join()
        fake.call_delay_s = 0.0
        # Before the row was written, never_received (and the send refused), or running; never a wait.
        assert took < 0.5, took
        assert states in (["running"], ["never_received"]), states
    finally:
        r.close()


def test_old_entries_are_dropped(tmp_path: Path) -> None:
    path = str(tmp_path / "ledger.db")
    ledger = Ledger(path, retention_s=60)
    session = Session(FIRST["login"], FIRST["server"], TAG)
    ledger.begin("old", session)
    ledger.answered("old", {"status": 200, "result": {"retcode": 10009}})
    ledger.close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE ledger_entries SET received_at = received_at - 120")
    reopened = Ledger(path, retention_s=60)
    # Dropped: the id reads as never received (and gets a tombstone).
    assert reopened.query(session, ["old"])["entries"][0]["state"] == "never_received"
    assert reopened.health()["retention_s"] == 60
    reopened.close()


def test_the_ledger_never_keeps_the_session_tag(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    ledger = Ledger(str(path))
    ledger.begin("c1", Session(FIRST["login"], FIRST["server"], TAG))
    ledger.close()
    wal = Path(str(path) + "-wal")
    stored = path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
    assert TAG.encode() not in stored
    assert hashlib.sha256(TAG.encode()).hexdigest().encode() in stored
