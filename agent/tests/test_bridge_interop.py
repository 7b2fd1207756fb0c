"""The bridge itself (`mt5-bridge serve`) trading through the Python agent on the fake terminal:
proves the bridge's agent client reads what this agent writes. Skipped when the binary is not built."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import sqlite3
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from fake_mt5 import FakeMT5
from test_conformance import find_bridge_binary, free_port
from tls_certs import make_tls_files

from mt5_agent import Agent, Ledger, serve_in_thread, tls_context

JWT_SECRET = secrets.token_urlsafe(40)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def mint_user_token(user: str) -> str:
    """An HS256 access token as the bridge's auth provider issues them."""
    now = int(time.time())
    header = {"alg": "HS256", "typ": "JWT"}
    claims = {
        "sub": user,
        "role": "authenticated",
        "aud": "authenticated",
        "iat": now,
        "exp": now + 3600,
        "email": "agent-test@example.com",
        "session_id": str(uuid.uuid4()),
        "is_anonymous": False,
        "aal": "aal1",
    }
    signing_input = _b64url(json.dumps(header).encode()) + "." + _b64url(json.dumps(claims).encode())
    signature = hmac.new(JWT_SECRET.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + _b64url(signature)


@contextmanager
def running_bridge(binary: Path, terminals: str, agent_token: str, **extra_env: str) -> Iterator[str]:
    """`mt5-bridge serve` on a free port with `terminals`; yields its base URL."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="mt5-agent-interop-") as data_dir:
        env = dict(
            os.environ,
            DATA_DIR=data_dir,
            DATABASE_URL=f"sqlite://{data_dir}/bridge.db?mode=rwc",
            BIND=f"127.0.0.1:{port}",
            TERMINALS=terminals,
            AGENT_TOKEN=agent_token,
            JWT_SECRET=JWT_SECRET,
            CREDENTIALS_KEY=base64.b64encode(os.urandom(32)).decode(),
            CREDENTIALS_KEY_ID="t1",
            TERMINAL_TIMEOUT_MS="10000",
            **extra_env,
        )
        for name in ("AGENT_TOKENS", "AGENT_CA_FILE", "AGENT_ALLOW_INSECURE"):
            if name not in extra_env:
                env.pop(name, None)
        log_path = Path(data_dir) / "bridge.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen([str(binary), "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if requests.get(base + "/healthz", timeout=1).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the bridge did not start: {log_path.read_text(errors='replace')[-2000:]}")
                time.sleep(0.1)
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def bridge_binary() -> Path:
    binary = find_bridge_binary()
    if binary is None:
        pytest.skip("mt5-bridge binary not found (set MT5_BRIDGE_BIN): bridge interop skipped")
    return binary


@pytest.fixture(params=["http", "https"])
def bridge(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, FakeMT5]]:
    """The bridge with the Python agent as its only terminal: over plain HTTP on loopback, or over TLS
    with the agent's private CA in AGENT_CA_FILE."""
    binary = bridge_binary()
    token = secrets.token_urlsafe(24)
    fake = FakeMT5()
    extra: dict[str, str] = {}
    context = None
    if request.param == "https":
        tls = make_tls_files(tmp_path)
        context = tls_context(str(tls.cert), str(tls.key))
        extra["AGENT_CA_FILE"] = str(tls.ca)
    ledger = Ledger(str(tmp_path / "ledger.db"))
    agent_server = serve_in_thread(Agent(fake, token, ledger=ledger), ssl_context=context)
    terminal = f"agent:{request.param}://127.0.0.1:{agent_server.server_address[1]}"
    try:
        with running_bridge(binary, terminal, token, **extra) as base:
            yield base, fake
    finally:
        agent_server.shutdown()
        agent_server.server_close()
        ledger.close()


def connect(base: str) -> requests.Response:
    headers = {"Authorization": f"Bearer {mint_user_token(str(uuid.uuid4()))}"}
    body = {"account_name": "agent", "login": "10001", "password": "Sim-10001!", "server": "Sim-Demo"}
    return requests.post(base + "/api/v1/accounts/connect", json=body, headers=headers, timeout=30)


def test_the_bridge_refuses_a_tls_agent_it_cannot_verify(tmp_path: Path) -> None:
    """Without the agent's CA in AGENT_CA_FILE the bridge does not talk to it: no login reaches MT5."""
    binary = bridge_binary()
    tls = make_tls_files(tmp_path)
    token = secrets.token_urlsafe(24)
    fake = FakeMT5()
    agent_server = serve_in_thread(Agent(fake, token), ssl_context=tls_context(str(tls.cert), str(tls.key)))
    terminal = f"agent:https://127.0.0.1:{agent_server.server_address[1]}"
    try:
        with running_bridge(binary, terminal, token) as base:
            resp = connect(base)
            assert resp.status_code == 503, resp.text
            assert resp.json()["error"]["code"] == "terminal_unavailable", resp.text
    finally:
        agent_server.shutdown()
        agent_server.server_close()
    assert "login" not in fake.calls, fake.calls


def test_the_bridge_trades_through_the_python_agent(bridge: tuple[str, FakeMT5], tmp_path: Path) -> None:
    base, fake = bridge
    headers = {"Authorization": f"Bearer {mint_user_token(str(uuid.uuid4()))}"}
    with requests.Session() as http:
        http.headers.update(headers)
        connect = {"account_name": "agent", "login": "10001", "password": "Sim-10001!", "server": "Sim-Demo"}
        resp = http.post(base + "/api/v1/accounts/connect", json=connect, timeout=30)
        assert resp.status_code == 201, resp.text
        account = http.get(base + "/api/v1/account", timeout=30).json()
        assert account["login"] == 10001 and account["margin_mode"] == "retail_hedging", account
        resp = http.post(
            base + "/api/v1/orders", json={"symbol": "EURUSD", "type": "buy", "volume": 0.1}, timeout=30
        )
        assert resp.status_code == 200, resp.text
        sent = resp.json()
        assert sent["retcode"] == 10009 and sent["request"]["type"] == "buy", sent
        positions = http.get(base + "/api/v1/positions", timeout=30).json()["positions"]
        assert [p["ticket"] for p in positions] == [sent["order"]], positions
        resp = http.post(base + f"/api/v1/positions/{sent['order']}/close", json={}, timeout=30)
        assert resp.status_code == 200, resp.text
        assert http.get(base + "/api/v1/positions", timeout=30).json()["positions"] == []
        deals = http.get(base + "/api/v1/history/deals", timeout=30).json()["deals"]
        assert {d["entry"] for d in deals} >= {"in", "out"}, deals
        tick = http.get(base + "/api/v1/symbols/EURUSD/tick", timeout=30)
        assert tick.status_code == 200 and tick.json()["bid"] == 1.08, tick.text
        journal = http.get(base + "/api/v1/journal", timeout=30).json()["entries"]
    # Both orders reached the agent's ledger under the journal's client ids, answered.
    with sqlite3.connect(tmp_path / "ledger.db") as conn:
        rows = conn.execute("SELECT client_id, state FROM ledger_entries").fetchall()
    assert sorted(rows) == sorted((e["client_id"], "answered") for e in journal), (rows, journal)
    assert fake.concurrent_failures == 0
    assert "order_send" in fake.calls
    # The broker's clock is read once (at login) and cached per server, not on each of the requests
    # above that report times (each reading costs symbols_get() and a tick per symbol).
    assert fake.calls.count("symbols_get") == 1, fake.calls


def test_the_bridge_carries_values_mt5_does_not_list() -> None:
    """Enum values the fake terminal reports outside the package's lists reach the bridge's API as
    `unknown_<n>`: every read answers, orders still go through, and a position whose type the bridge
    cannot read is not closed on a guess (422 naming the ticket)."""
    binary = bridge_binary()
    token = secrets.token_urlsafe(24)
    fake = FakeMT5()
    fake.override("TradeDeal", type=99, entry=7, reason=42)
    fake.override("TradeOrder", state=17, reason=30)
    fake.override("TradePosition", type=5, reason=11)
    fake.override("SymbolInfo", trade_calc_mode=77, trade_exemode=6, swap_mode=20)
    fake.override("AccountInfo", margin_mode=5, margin_so_mode=4)
    agent_server = serve_in_thread(Agent(fake, token))
    terminal = f"agent:http://127.0.0.1:{agent_server.server_address[1]}"
    headers = {"Authorization": f"Bearer {mint_user_token(str(uuid.uuid4()))}"}
    try:
        with running_bridge(binary, terminal, token) as base, requests.Session() as http:
            http.headers.update(headers)
            body = {"account_name": "agent", "login": "10001", "password": "Sim-10001!", "server": "Sim-Demo"}
            resp = http.post(base + "/api/v1/accounts/connect", json=body, timeout=30)
            assert resp.status_code == 201, resp.text
            account = http.get(base + "/api/v1/account", timeout=30)
            assert account.status_code == 200, account.text
            modes = (account.json()["margin_mode"], account.json()["margin_so_mode"])
            assert modes == ("unknown_5", "unknown_4"), account.text
            info = http.get(base + "/api/v1/symbols/EURUSD", timeout=30).json()
            assert (info["trade_calc_mode"], info["trade_exemode"], info["swap_mode"]) == (
                "unknown_77",
                "unknown_6",
                "unknown_20",
            ), info
            symbols = http.get(base + "/api/v1/symbols", timeout=30).json()["symbols"]
            assert {s["trade_calc_mode"] for s in symbols} == {"unknown_77"}
            resp = http.post(
                base + "/api/v1/orders", json={"symbol": "EURUSD", "type": "buy", "volume": 0.1}, timeout=30
            )
            assert resp.status_code == 200, resp.text
            ticket = resp.json()["order"]
            (position,) = http.get(base + "/api/v1/positions", timeout=30).json()["positions"]
            assert (position["type"], position["reason"]) == ("unknown_5", "unknown_11"), position
            resp = http.post(base + f"/api/v1/positions/{ticket}/close", json={}, timeout=30)
            assert resp.status_code == 422, resp.text
            assert [f["field"] for f in resp.json()["error"]["details"]["fields"]] == ["ticket"], resp.text
            (deal,) = http.get(base + "/api/v1/history/deals", timeout=30).json()["deals"]
            assert (deal["type"], deal["entry"]) == ("unknown_99", "unknown_7"), deal
            assert deal["reason"] == "unknown_42", deal
            (order,) = http.get(base + "/api/v1/history/orders", timeout=30).json()["orders"]
            assert (order["state"], order["reason"]) == ("unknown_17", "unknown_30"), order
            bad = http.post(
                base + "/api/v1/orders",
                json={"symbol": "EURUSD", "type": "unknown_5", "volume": 0.1},
                timeout=30,
            )
            assert bad.status_code == 422 and bad.json()["error"]["details"]["fields"][0]["field"] == "type"
    finally:
        agent_server.shutdown()
        agent_server.server_close()
    assert fake.calls.count("order_send") == 1, fake.calls


def test_a_connect_to_a_server_the_terminal_calls_otherwise_is_refused_naming_server(
    bridge: tuple[str, FakeMT5],
) -> None:
    """The terminal logged in, but to a server it names otherwise than asked (not just in case or
    blanks): the bridge stores nothing and answers 422 naming `server`."""
    base, fake = bridge
    fake.server_aliases["Sim-Access-7"] = "Sim-Demo"
    headers = {"Authorization": f"Bearer {mint_user_token(str(uuid.uuid4()))}"}
    body = {"account_name": "alias", "login": "10001", "password": "Sim-10001!", "server": "Sim-Access-7"}
    resp = requests.post(base + "/api/v1/accounts/connect", json=body, headers=headers, timeout=30)
    assert resp.status_code == 422, resp.text
    error = resp.json()["error"]
    assert error["code"] == "validation_failed", error
    assert [f["field"] for f in error["details"]["fields"]] == ["server"], error
    assert "Sim-Demo" in error["details"]["fields"][0]["message"], error
    assert "login" in fake.calls
    listed = requests.get(base + "/api/v1/accounts", headers=headers, timeout=30).json()
    assert listed["accounts"] == [], listed
