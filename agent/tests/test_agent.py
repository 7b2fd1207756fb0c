"""Unit tests of the terminal agent against the fake MetaTrader5 package."""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from itertools import pairwise
from typing import Any

import fake_mt5
import pytest
import requests
from fake_mt5 import FakeMT5

from mt5_agent import Agent, AgentError, serve_in_thread
from mt5_agent.__main__ import main, parse_bind
from mt5_agent.server import to_json, truncate_comment

FIRST = {"login": 10001, "password": "Sim-10001!", "server": "Sim-Demo"}
SECOND = {"login": 10002, "password": "Sim-10002!", "server": "Sim-Demo"}
# The investor (read-only) passwords of the fake's accounts.
FIRST_INVESTOR = dict(FIRST, password="Inv-10001!")


def tag_of(account: dict[str, Any]) -> str:
    """A session tag for a credential, as the bridge derives one (its HMAC key aside)."""
    credential = f"{account['login']}|{account['server']}|{account['password']}".encode()
    return hashlib.sha256(b"unit-test-tag|" + credential).hexdigest()


class Running:
    """An agent on a fake terminal, served over HTTP on a free port."""

    def __init__(self, fake: FakeMT5) -> None:
        self.fake = fake
        self.token = secrets.token_urlsafe(16)
        # Logins settle over SETTLE_READS polls: poll faster than a real terminal needs, to keep tests quick.
        self.agent = Agent(fake, self.token, login_poll_s=0.05)
        self.server = serve_in_thread(self.agent)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"

    def post(self, path: str, body: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token}"}
        return requests.post(self.base + path, json=body, headers=headers, timeout=30)

    def login(self, account: dict[str, Any], timeout_ms: int = 10_000) -> requests.Response:
        return self.post("/v1/login", dict(account, session_tag=tag_of(account), timeout_ms=timeout_ms))

    def call(
        self, operation: str, args: dict[str, Any], account: dict[str, Any] = FIRST
    ) -> requests.Response:
        expected = {"login": account["login"], "server": account["server"], "session_tag": tag_of(account)}
        return self.post(f"/v1/call/{operation}", {"expected": expected, "lease": 7, "args": args})

    def health(self) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.token}"}
        resp = requests.get(self.base + "/v1/health", headers=headers, timeout=10)
        assert resp.status_code == 200, resp.text
        return dict(resp.json())

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def running() -> Iterator[Running]:
    r = Running(FakeMT5())
    yield r
    r.close()


def buy(comment: str = "unit", volume: float = 0.01) -> dict[str, Any]:
    return {
        "action": 1,
        "symbol": "EURUSD",
        "volume": volume,
        "type": 0,
        "type_filling": 1,
        "comment": comment,
    }


# ---- login --------------------------------------------------------------------------------------


def test_login_returns_account_info_of_the_new_account(running: Running) -> None:
    assert running.login(FIRST).status_code == 200
    resp = running.login(SECOND)
    assert resp.status_code == 200, resp.text
    info = resp.json()["account_info"]
    assert info["login"] == 10002 and info["server"] == "Sim-Demo"
    assert info["margin_mode"] == 0 and info["trade_mode"] == 0 and info["leverage"] == 100
    assert list(info)[:3] == ["login", "trade_mode", "leverage"]


def test_login_waits_until_the_terminal_shows_the_account() -> None:
    # The terminal answers account_info with nothing for a few reads after switching.
    r = Running(FakeMT5(login_settle_reads=3))
    try:
        assert r.login(FIRST).status_code == 200
        r.fake.calls.clear()
        resp = r.login(SECOND)
        assert resp.status_code == 200, resp.text
        assert resp.json()["account_info"]["login"] == 10002
        # 3 stale reads, then three reads of positions, orders and deals that agree before answering.
        assert r.fake.calls.count("account_info") == 6
        assert r.fake.calls.count("positions_get") == 3
        assert r.fake.calls.count("history_deals_get") == 3
    finally:
        r.close()


def test_login_that_never_settles_times_out() -> None:
    r = Running(FakeMT5(login_settle_reads=10_000))
    try:
        assert r.login(FIRST).status_code == 200
        started = time.monotonic()
        resp = r.login(SECOND, timeout_ms=600)
        assert resp.status_code == 504, resp.text
        assert resp.json()["error"]["code"] == "timeout"
        assert time.monotonic() - started < 3.0
    finally:
        r.close()


def test_wrong_password_is_mt5_error_with_last_error(running: Running) -> None:
    resp = running.login(dict(FIRST, password="nope-123"))
    assert resp.status_code == 422
    err = resp.json()["error"]
    assert err["code"] == "mt5_error"
    assert err["last_error"] == [-6, "Terminal: Authorization failed"]
    assert err["actual"] is None
    assert "nope-123" not in resp.text


def test_password_token_and_session_tag_never_reach_the_logs(
    running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = dict(FIRST, password="Secret-Wrong-9")
    malformed = tag_of(SECOND).upper()
    assert running.login(FIRST).status_code == 200
    assert running.call("order_send", {"request": buy()}).status_code == 200
    assert running.login(wrong).status_code == 422
    # The refused login ended the session: its tag no longer runs anything.
    assert running.call("order_send", {"request": buy()}).status_code == 409
    assert running.login(FIRST).status_code == 200
    assert running.call("order_send", {"request": buy()}).status_code == 200
    assert running.call("positions", {}, account=FIRST_INVESTOR).status_code == 409
    assert running.post("/v1/login", dict(SECOND, session_tag=malformed)).status_code == 400
    expected = {"login": 10001, "server": "Sim-Demo", "session_tag": malformed}
    assert running.post("/v1/call/positions", {"expected": expected, "args": {}}).status_code == 400
    assert running.health()["session_tag"] == tag_of(FIRST)
    # A login elsewhere, seen by the agent, is logged (without the dropped session's tag).
    running.fake.login(10002, password="Sim-10002!", server="Sim-Demo")
    assert running.health()["session_tag"] is None
    assert running.post("/v1/logout", {}).status_code == 200
    assert "login 10001 on Sim-Demo" in caplog.text
    assert "session dropped" in caplog.text
    tags = [tag_of(a) for a in (FIRST, SECOND, wrong, FIRST_INVESTOR)] + [malformed]
    for secret in ["Sim-10001!", "Secret-Wrong-9", running.token, *tags]:
        assert secret.lower() not in caplog.text.lower(), secret
        assert secret not in repr(running.agent)


# ---- the account guard ----------------------------------------------------------------------------


def test_wrong_expected_account_runs_nothing(running: Running) -> None:
    assert running.login(FIRST).status_code == 200
    running.fake.calls.clear()
    resp = running.call("order_send", {"request": buy()}, account=SECOND)
    assert resp.status_code == 409
    err = resp.json()["error"]
    assert err["code"] == "wrong_account"
    assert err["actual"] == {"login": 10001, "server": "Sim-Demo"}
    assert running.fake.calls == ["account_info"]
    assert running.call("positions", {}).json()["result"] == []


def test_another_tag_of_the_same_account_runs_nothing(running: Running) -> None:
    assert running.login(FIRST).status_code == 200
    running.fake.calls.clear()
    # Same login and server, the tag of another credential (here the investor password's).
    resp = running.call("order_send", {"request": buy()}, account=FIRST_INVESTOR)
    assert resp.status_code == 409, resp.text
    err = resp.json()["error"]
    assert err["code"] == "wrong_account"
    assert err["actual"] == {"login": 10001, "server": "Sim-Demo"}
    assert tag_of(FIRST) not in resp.text and tag_of(FIRST_INVESTOR) not in resp.text
    assert running.fake.calls == ["account_info"]
    assert running.call("positions", {}).json()["result"] == []


def test_malformed_session_tags_run_nothing(running: Running) -> None:
    assert running.login(FIRST).status_code == 200
    running.fake.calls.clear()
    good = tag_of(SECOND)
    for tag in (None, "", good.upper(), good[:-1], good + "a", good + "\n", good[:-1] + "z", 12):
        resp = running.post("/v1/login", dict(SECOND, session_tag=tag, timeout_ms=5000))
        assert resp.status_code == 400 and resp.json()["error"]["code"] == "bad_request", (tag, resp.text)
        expected = {"login": 10001, "server": "Sim-Demo", "session_tag": tag}
        resp = running.post("/v1/call/order_send", {"expected": expected, "args": {"request": buy()}})
        assert resp.status_code == 400 and resp.json()["error"]["code"] == "bad_request", (tag, resp.text)
    resp = running.post("/v1/login", dict(SECOND, timeout_ms=5000))
    assert resp.status_code == 400 and "session_tag" in resp.json()["error"]["message"]
    untagged = {"login": 10001, "server": "Sim-Demo"}
    resp = running.post("/v1/call/positions", {"expected": untagged, "args": {}})
    assert resp.status_code == 400 and "session_tag" in resp.json()["error"]["message"]
    # Nothing reached the terminal: no login, no order, and the session is still the first account's.
    assert running.fake.calls == []
    assert running.health()["session_tag"] == tag_of(FIRST)
    assert running.call("positions", {}).json()["result"] == []


def test_a_login_that_times_out_leaves_no_session() -> None:
    r = Running(FakeMT5(login_settle_reads=10_000))
    try:
        assert r.login(FIRST).status_code == 200
        assert r.login(SECOND, timeout_ms=600).status_code == 504
        r.fake.login_settle_reads = 0
        r.fake._stale_reads = 0
        health = r.health()
        assert (health["login"], health["session_tag"]) == (10002, None)
        # The terminal did switch, but the agent never saw the login through: no tag runs.
        for account in (FIRST, SECOND):
            resp = r.call("positions", {}, account=account)
            assert resp.status_code == 409 and resp.json()["error"]["code"] == "wrong_account"
        assert r.login(SECOND).status_code == 200
        assert r.call("positions", {}, account=SECOND).status_code == 200
    finally:
        r.close()


def test_a_login_by_hand_elsewhere_ends_the_session(running: Running) -> None:
    assert running.login(FIRST).status_code == 200
    assert running.health()["session_tag"] == tag_of(FIRST)
    # Someone logs the terminal in to the other account by hand, behind the agent's back.
    running.fake.login(10002, password="Sim-10002!", server="Sim-Demo")
    health = running.health()
    assert (health["login"], health["server"], health["session_tag"]) == (10002, "Sim-Demo", None)
    resp = running.call("order_send", {"request": buy()})
    assert resp.status_code == 409
    assert resp.json()["error"]["actual"] == {"login": 10002, "server": "Sim-Demo"}
    # Nor does the account on the terminal now run for any tag: the agent did not log it in.
    assert running.call("positions", {}, account=SECOND).status_code == 409
    # Back on the first account by hand (with who knows which password): the old session stays gone.
    running.fake.login(10001, password="Inv-10001!", server="Sim-Demo")
    health = running.health()
    assert (health["login"], health["session_tag"]) == (10001, None)
    resp = running.call("order_send", {"request": buy()})
    assert resp.status_code == 409 and resp.json()["error"]["code"] == "wrong_account"
    assert running.login(FIRST).status_code == 200
    assert running.call("positions", {}).json()["result"] == []


def test_a_login_by_hand_seen_first_by_a_call_ends_the_session(running: Running) -> None:
    assert running.login(FIRST).status_code == 200
    running.fake.login(10002, password="Sim-10002!", server="Sim-Demo")
    running.fake.calls.clear()
    # The call is the first to notice; it refuses, and so does every later call and health.
    resp = running.call("order_send", {"request": buy()})
    assert resp.status_code == 409 and resp.json()["error"]["actual"]["login"] == 10002
    assert running.fake.calls == ["account_info"]
    running.fake.login(10001, password="Sim-10001!", server="Sim-Demo")
    assert running.call("positions", {}).status_code == 409
    assert running.health()["session_tag"] is None


def test_not_logged_in_is_wrong_account_with_null_actual() -> None:
    r = Running(FakeMT5())
    try:
        resp = r.call("positions", {})
        assert resp.status_code == 409
        assert resp.json()["error"]["actual"] is None
    finally:
        r.close()


def test_no_login_can_slip_between_check_and_call() -> None:
    # A slow terminal widens the window; a switching thread must never make an order land on SECOND.
    r = Running(FakeMT5(call_delay_s=0.005))
    try:
        assert r.login(FIRST).status_code == 200
        stop = threading.Event()

        def switch() -> None:
            while not stop.is_set():
                r.login(SECOND)
                r.login(FIRST)

        switcher = threading.Thread(target=switch)
        switcher.start()
        statuses = [r.call("order_send", {"request": buy()}).status_code for _ in range(8)]
        stop.set()
        switcher.join()
        assert set(statuses) <= {200, 409}
        r.login(SECOND)
        assert r.call("positions", {}, account=SECOND).json()["result"] == []
        r.login(FIRST)
        assert len(r.call("positions", {}).json()["result"]) == statuses.count(200)
        assert r.fake.concurrent_failures == 0
    finally:
        r.close()


# ---- investor and changed passwords (the fake) -----------------------------------------------------


def test_investor_password_is_read_only(running: Running) -> None:
    resp = running.login(FIRST_INVESTOR)
    assert resp.status_code == 200, resp.text
    info = resp.json()["account_info"]
    assert info["login"] == 10001 and info["trade_allowed"] is False
    assert running.health()["session_tag"] == tag_of(FIRST_INVESTOR)
    # order_check still answers; order_send is refused by the "server", nothing executes.
    checked = running.call("order_check", {"request": buy()}, account=FIRST_INVESTOR)
    assert checked.status_code == 200 and checked.json()["result"]["retcode"] == 0
    resp = running.call("order_send", {"request": buy()}, account=FIRST_INVESTOR)
    assert resp.status_code == 200, resp.text
    result = resp.json()["result"]
    assert result["retcode"] == 10017 and result["comment"] == "Trade disabled"
    assert result["deal"] == 0 and result["order"] == 0
    assert running.call("positions", {}, account=FIRST_INVESTOR).json()["result"] == []
    history = {"date_from": 0, "date_to": 2**31}
    assert running.call("history_deals", history, account=FIRST_INVESTOR).json()["result"] == []
    assert running.call("history_orders", history, account=FIRST_INVESTOR).json()["result"] == []
    # The master password's tag is another session: refused while the investor one is logged in.
    assert running.call("order_send", {"request": buy()}).status_code == 409
    assert running.call("positions", {}, account=FIRST_INVESTOR).json()["result"] == []
    # Logged in with the master password, the account trades again; the investor tag is refused.
    resp = running.login(FIRST)
    assert resp.status_code == 200 and resp.json()["account_info"]["trade_allowed"] is True
    assert running.call("order_send", {"request": buy()}).json()["result"]["retcode"] == 10009
    assert running.call("positions", {}, account=FIRST_INVESTOR).status_code == 409
    assert len(running.call("positions", {}).json()["result"]) == 1


def test_fake_investor_session_directly() -> None:
    fake = FakeMT5()
    fake.initialize()
    assert fake.login(10002, password="Inv-10002!", server="Sim-Demo")
    assert fake.account_info().trade_allowed is False
    sent = fake.order_send(buy())
    assert sent.retcode == fake_mt5.TRADE_RETCODE_TRADE_DISABLED == 10017 and sent.deal == 0
    assert fake.positions_get() == () and fake.history_deals_get(0, 2**31) == ()
    # An account without an investor password refuses any other password.
    fake.set_investor_password(10002, None)
    assert not fake.login(10002, password="Inv-10002!", server="Sim-Demo")
    assert fake.last_error() == (-6, "Terminal: Authorization failed")
    assert fake.login(10002, password="Sim-10002!", server="Sim-Demo")
    assert fake.account_info().trade_allowed is True


def test_password_change_refuses_the_old_password(running: Running) -> None:
    assert running.login(FIRST).status_code == 200
    running.fake.set_password(10001, "New-10001!")
    # The session already logged in goes on, as at a broker.
    assert running.call("order_send", {"request": buy()}).json()["result"]["retcode"] == 10009
    resp = running.login(FIRST)
    assert resp.status_code == 422
    assert resp.json()["error"]["last_error"] == [-6, "Terminal: Authorization failed"]
    # The refused login ended the session: the old credential's tag runs nothing any more.
    assert running.health()["session_tag"] is None
    assert running.call("positions", {}).status_code == 409
    changed = dict(FIRST, password="New-10001!")
    resp = running.login(changed)
    assert resp.status_code == 200 and resp.json()["account_info"]["trade_allowed"] is True
    assert running.health()["session_tag"] == tag_of(changed)
    assert len(running.call("positions", {}, account=changed).json()["result"]) == 1
    assert running.call("positions", {}).status_code == 409
    # The investor password is unchanged.
    assert running.login(FIRST_INVESTOR).status_code == 200


# ---- serialization --------------------------------------------------------------------------------


def test_the_fake_fails_concurrent_calls_without_a_lock() -> None:
    fake = FakeMT5(call_delay_s=0.02)
    fake.initialize()
    fake.login(10001, password="Sim-10001!", server="Sim-Demo")
    results: list[Any] = []
    threads = [threading.Thread(target=lambda: results.append(fake.positions_get())) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert fake.concurrent_failures > 0
    assert None in results
    assert fake.last_error() in ((-1, "Terminal: Call failed"), (1, "Success"))


def test_agent_serializes_concurrent_requests() -> None:
    r = Running(FakeMT5(call_delay_s=0.01))
    try:
        assert r.login(FIRST).status_code == 200
        statuses: list[int] = []
        lock = threading.Lock()

        def work(i: int) -> None:
            op = ("positions", {}) if i % 2 else ("symbol_info_tick", {"symbol": "EURUSD"})
            code = r.call(*op).status_code
            with lock:
                statuses.append(code)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert statuses == [200] * 12
        assert r.fake.concurrent_failures == 0
    finally:
        r.close()


def test_logout_refuses_every_account_until_the_next_login(running: Running) -> None:
    assert running.login(FIRST).status_code == 200
    assert running.post("/v1/logout", {}).json() == {}
    running.fake.calls.clear()
    resp = running.call("order_send", {"request": buy()})
    assert resp.status_code == 409 and resp.json()["error"]["actual"] is None
    assert running.fake.calls == []
    assert running.login(FIRST).status_code == 200
    assert running.call("positions", {}).json()["result"] == []


def test_a_forged_lease_is_logged_and_reaches_no_terminal_call(
    running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    assert running.login(FIRST).status_code == 200
    assert running.call("account_info", {}).status_code == 200  # under lease 7
    caplog.set_level(logging.WARNING, logger="mt5_agent")
    calls_before = list(running.fake.calls)
    forged = 2**63
    expected = {"login": 10001, "server": "Sim-Demo", "session_tag": tag_of(FIRST)}
    resp = running.post("/v1/call/account_info", {"expected": expected, "lease": forged, "args": {}})
    assert resp.status_code == 422 and resp.json()["error"]["code"] == "invalid_lease", resp.text
    assert f"refused lease {forged}" in caplog.text
    assert running.fake.calls == calls_before
    assert running.health()["lease"] == 7


def test_health_answers_while_a_call_holds_the_terminal(running: Running) -> None:
    assert running.login(FIRST).status_code == 200
    running.agent._lock.acquire()
    try:
        started = time.monotonic()
        resp = requests.get(
            running.base + "/v1/health", headers={"Authorization": f"Bearer {running.token}"}, timeout=10
        )
        assert resp.status_code == 200
        assert time.monotonic() - started < 2.0
        assert resp.json()["agent"] == "python" and resp.json()["version"] == "3"
        # The account and session last seen, as the terminal cannot be asked right now.
        assert resp.json()["login"] == 10001 and resp.json()["server"] == "Sim-Demo"
        assert resp.json()["session_tag"] == tag_of(FIRST)
    finally:
        running.agent._lock.release()


# ---- comments, requests, results ------------------------------------------------------------------


def test_truncate_comment() -> None:
    assert truncate_comment("short") == "short"
    assert truncate_comment("a" * 40) == "a" * 27
    assert truncate_comment("Ünïcode: tp/sl #1 (x)") == "ncode tpsl 1 x"
    assert truncate_comment("keep_these-chars 0.9") == "keep_these-chars 0.9"


def test_order_send_truncates_comment_before_mt5(running: Running) -> None:
    assert running.login(FIRST).status_code == 200
    resp = running.call("order_send", {"request": buy("a comment, much too long for any MT5 terminal")})
    assert resp.status_code == 200, resp.text
    result = resp.json()["result"]
    assert result["retcode"] == 10009
    assert result["request"]["comment"] == "a comment much too long for"
    position = running.call("positions", {"ticket": result["order"]}).json()["result"][0]
    assert position["comment"] == "a comment much too long for"


def test_invalid_trade_requests_are_bad_requests(running: Running) -> None:
    assert running.login(FIRST).status_code == 200
    running.fake.calls.clear()
    for request in (
        dict(buy(), volume="1"),
        dict(buy(), type=True),
        dict(buy(), unknown_field=1),
        {"symbol": "EURUSD"},
        None,
    ):
        resp = running.call("order_send", {"request": request})
        assert resp.status_code == 400, (request, resp.text)
        assert resp.json()["error"]["code"] == "bad_request"
    assert "order_send" not in running.fake.calls


def test_broker_rejection_is_a_result_and_none_is_mt5_error(running: Running) -> None:
    assert running.login(FIRST).status_code == 200
    resp = running.call("order_send", {"request": buy(volume=1000.0)})
    assert resp.status_code == 200
    assert resp.json()["result"]["retcode"] == 10014
    original = running.fake.order_send

    def refuse(request: dict[str, Any]) -> None:
        running.fake._last_error = (-2, 'Invalid "volume" argument')

    running.fake.order_send = refuse  # type: ignore[method-assign]
    try:
        resp = running.call("order_send", {"request": buy()})
    finally:
        running.fake.order_send = original  # type: ignore[method-assign]
    assert resp.status_code == 422
    assert resp.json()["error"]["last_error"] == [-2, 'Invalid "volume" argument']


# ---- error mapping --------------------------------------------------------------------------------


def test_unknown_symbol_is_not_found(running: Running) -> None:
    assert running.login(FIRST).status_code == 200
    for op in ("symbol_info", "symbol_info_tick"):
        resp = running.call(op, {"symbol": "NOPE"})
        assert resp.status_code == 422
        assert resp.json()["error"]["last_error"] == [-4, "Terminal: Not found"]
    resp = running.call(
        "copy_rates", {"symbol": "NOPE", "timeframe": 1, "mode": "from_pos", "start": 0, "count": 5}
    )
    assert resp.status_code == 422 and resp.json()["error"]["last_error"][0] == -4


def test_lost_terminal_is_not_connected_then_recovers(running: Running) -> None:
    assert running.login(FIRST).status_code == 200
    running.fake.connected = False
    resp = running.call("positions", {})
    assert resp.status_code == 503
    err = resp.json()["error"]
    assert err["code"] == "not_connected" and err["last_error"] == [-10004, "No IPC connection"]
    health = requests.get(
        running.base + "/v1/health", headers={"Authorization": f"Bearer {running.token}"}, timeout=10
    )
    assert health.json()["connected"] is False
    running.fake.connected = True
    assert running.call("positions", {}).status_code == 200
    assert running.fake.calls.count("initialize") >= 2


def test_ipc_timeout_is_timeout(running: Running) -> None:
    assert running.login(FIRST).status_code == 200

    def slow(*args: Any, **kwargs: Any) -> None:
        running.fake._last_error = (-10005, "IPC timeout")

    running.fake.symbols_get = slow  # type: ignore[method-assign]
    resp = running.call("symbols", {})
    assert resp.status_code == 504
    assert resp.json()["error"]["code"] == "timeout"


def test_busy_terminal_past_the_deadline_is_timeout() -> None:
    fake = FakeMT5()
    agent = Agent(fake, "t", lock_timeout_s=0.2)
    agent._lock.acquire()
    try:
        with pytest.raises(AgentError) as caught:
            expected = {"login": 1, "server": "s", "session_tag": "0" * 64}
            agent.call("positions", {"expected": expected, "args": {}})
        assert caught.value.status == 504 and caught.value.code == "timeout"
    finally:
        agent._lock.release()


def test_unauthorized_before_routing(running: Running) -> None:
    for path in ("/v1/health", "/v1/call/nope", "/anything"):
        for headers in ({}, {"Authorization": "Bearer x"}, {"Authorization": running.token}):
            resp = requests.post(running.base + path, json={}, headers=headers, timeout=10)
            assert resp.status_code == 401
            assert resp.json()["error"]["code"] == "unauthorized"
    assert running.agent.authorized(f"Bearer {running.token}")
    assert not running.agent.authorized(f"Bearer {running.token[:-1]}")
    assert not running.agent.authorized(None)


# ---- data conversion ----------------------------------------------------------------------------


def test_to_json_converts_records_and_nested_tuples() -> None:
    rates = fake_mt5.RecordArray([(60, 1.0, 1.2, 0.9, 1.1, 5, 10, 0)])
    assert to_json(rates) == [
        {
            "time": 60,
            "open": 1.0,
            "high": 1.2,
            "low": 0.9,
            "close": 1.1,
            "tick_volume": 5,
            "spread": 10,
            "real_volume": 0,
        }
    ]
    req = fake_mt5.TradeRequest(1, 0, 0, "EURUSD", 0.1, 1.1, 0.0, 0.0, 0.0, 5, 0, 1, 0, 0, "c", 0, 0)
    res = fake_mt5.OrderCheckResult(0, 1.0, 1.0, 0.0, 1.0, 0.0, 100.0, "Done", req)
    as_json = to_json(res)
    assert as_json["request"]["symbol"] == "EURUSD" and as_json["comment"] == "Done"
    assert to_json(()) == [] and to_json(True) is True


def test_copy_rates_modes(running: Running) -> None:
    assert running.login(FIRST).status_code == 200
    base = {"symbol": "EURUSD", "timeframe": 16385}
    bars = running.call("copy_rates", dict(base, mode="from_pos", start=1, count=4)).json()["result"]
    assert len(bars) == 4 and [b["time"] for b in bars] == sorted(b["time"] for b in bars)
    assert all(b2["time"] - b1["time"] == 3600 for b1, b2 in pairwise(bars))
    resp = running.call("copy_rates", dict(base, mode="from_pos", start=0))
    assert resp.status_code == 400


@pytest.mark.parametrize(("offset", "expected"), [(7200, 7200), (-3600, -3600), (0, 0), (7200 + 450, None)])
def test_server_time_offset_estimate(offset: int, expected: int | None) -> None:
    # A tick off a quarter hour is stale (a quiet market): the agent says it cannot tell (null).
    fake = FakeMT5(server_offset_s=offset)
    agent = Agent(fake, "t")
    agent.login(dict(FIRST, session_tag=tag_of(FIRST)))
    want = {"login": 10001, "server": "Sim-Demo", "session_tag": tag_of(FIRST)}
    out = agent.call("server_time_offset", {"expected": want, "args": {}})
    assert out == {"result": expected}


def test_history_forms(running: Running) -> None:
    assert running.login(FIRST).status_code == 200
    sent = running.call("order_send", {"request": buy()}).json()["result"]
    by_ticket = running.call("history_deals", {"ticket": sent["order"]}).json()["result"]
    assert [d["ticket"] for d in by_ticket] == [sent["deal"]]
    by_position = running.call("history_orders", {"position": sent["order"]}).json()["result"]
    assert [o["ticket"] for o in by_position] == [sent["order"]]
    assert running.call("history_deals", {"date_from": 1}).status_code == 400
    assert running.call("history_deals", {}).status_code == 400


# ---- command line ---------------------------------------------------------------------------------


def test_cli_parsing_and_refusals(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert parse_bind("127.0.0.1:9101") == ("127.0.0.1", 9101)
    assert parse_bind("[::1]:80") == ("::1", 80)
    monkeypatch.delenv("AGENT_TOKEN", raising=False)
    assert main(["--bind", "127.0.0.1:0"]) == 2
    assert "token" in capsys.readouterr().err
    monkeypatch.setenv("AGENT_TOKEN", "env-token")
    # The MetaTrader5 package is not installed here: the agent says so instead of crashing.
    assert main(["--bind", "127.0.0.1:0", "--backend", "metatrader5"]) == 2
    assert "not installed" in capsys.readouterr().err


def test_cli_serves_the_protocol(tmp_path: Any) -> None:
    # `python -m mt5_agent` end to end, with the fake standing in for the MetaTrader5 package.
    (tmp_path / "MetaTrader5.py").write_text(
        "import sys\nimport fake_mt5\nsys.modules[__name__] = fake_mt5\n"
    )
    tests_dir = os.path.dirname(os.path.abspath(__file__))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = dict(
        os.environ,
        AGENT_TOKEN="cli-token-1",
        PYTHONPATH=os.pathsep.join([str(tmp_path), tests_dir, os.path.dirname(tests_dir)]),
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "mt5_agent", "--bind", f"127.0.0.1:{port}", "--backend", "metatrader5"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        headers = {"Authorization": "Bearer cli-token-1"}
        deadline = time.monotonic() + 20
        while True:
            try:
                health = requests.get(base + "/v1/health", headers=headers, timeout=2)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline and proc.poll() is None, "the agent did not start"
                time.sleep(0.1)
        assert health.status_code == 200 and health.json()["agent"] == "python"
        assert requests.get(base + "/v1/health", timeout=2).status_code == 401
        login = dict(FIRST, session_tag=tag_of(FIRST), timeout_ms=5000)
        resp = requests.post(base + "/v1/login", json=login, headers=headers, timeout=10)
        assert resp.status_code == 200 and resp.json()["account_info"]["login"] == 10001
        health = requests.get(base + "/v1/health", headers=headers, timeout=2).json()
        assert health["version"] == "3" and health["session_tag"] == tag_of(FIRST)
        # The ledger by default: beside the agent, one file per port, with its id in health.
        assert (tmp_path / f"mt5-agent-ledger-{port}.db").is_file()
        assert health["ledger"]["error"] is None and len(health["ledger"]["id"]) == 32, health
    finally:
        proc.terminate()
        output = proc.communicate(timeout=10)[0].decode(errors="replace")
    assert "Sim-10001!" not in output and "cli-token-1" not in output
    assert tag_of(FIRST) not in output
    assert "login 10001 on Sim-Demo" in output


def test_keep_alive_connections_survive_errors(running: Running) -> None:
    headers = {"Authorization": f"Bearer {running.token}"}
    with requests.Session() as session:
        for _ in range(3):
            bad = session.post(
                running.base + "/v1/nowhere", json={"x": "y" * 1000}, headers=headers, timeout=10
            )
            assert bad.status_code == 404
            refused = session.post(running.base + "/v1/login", json=FIRST, timeout=10)
            assert refused.status_code == 401
            ok = session.get(running.base + "/v1/health", headers=headers, timeout=10)
            assert ok.status_code == 200 and ok.json()["version"] == "3"
            out = session.post(running.base + "/v1/logout", json={}, headers=headers, timeout=10)
            assert out.status_code == 200


def test_answers_are_quick_on_kept_alive_connections(running: Running) -> None:
    # Headers and body in separate segments would wait for delayed ACKs (~40 ms each) without
    # TCP_NODELAY; 40 answers well under that budget prove the small writes go out at once.
    headers = {"Authorization": f"Bearer {running.token}"}
    with requests.Session() as session:
        session.get(running.base + "/v1/health", headers=headers, timeout=10)
        started = time.monotonic()
        for _ in range(40):
            assert session.get(running.base + "/v1/health", headers=headers, timeout=10).status_code == 200
        elapsed = time.monotonic() - started
        assert elapsed < 1.0, elapsed
