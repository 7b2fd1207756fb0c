"""Runs the protocol conformance suite against the Python agent (on the fake package, directly and
through the mt5linux backend's wrapper) and against `mt5-bridge sim-agent` when that binary is built.

With MT5_BRIDGE_BIN or CI set (as scripts/test and CI run it), a missing binary fails the sim-agent half
instead of skipping it: the suite must check both ends of the protocol there."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import conformance
import pytest
from conformance import Account, Target
from fake_mt5 import FakeMT5

from mt5_agent import Agent, Ledger, serve_in_thread
from mt5_agent.backend import ReconnectingMt5

REPO = Path(__file__).resolve().parents[2]
FIRST = Account(10001, "Sim-10001!", "Sim-Demo")
SECOND = Account(10002, "Sim-10002!", "Sim-Demo")


def find_bridge_binary() -> Path | None:
    explicit = os.environ.get("MT5_BRIDGE_BIN")
    if explicit:
        return Path(explicit) if Path(explicit).is_file() else None
    candidates = []
    if os.environ.get("CARGO_TARGET_DIR"):
        candidates.append(Path(os.environ["CARGO_TARGET_DIR"]) / "debug" / "mt5-bridge")
    candidates.append(REPO / "target" / "debug" / "mt5-bridge")
    return next((c for c in candidates if c.is_file()), None)


def sim_agent_required() -> bool:
    """Whether the sim-agent half must run rather than skip: MT5_BRIDGE_BIN names the binary, or CI."""
    ci = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")
    return ci or bool(os.environ.get("MT5_BRIDGE_BIN"))


def skip_or_fail(why: str) -> None:
    if sim_agent_required():
        pytest.fail(f"{why} (MT5_BRIDGE_BIN or CI is set: the sim-agent half must run)")
    pytest.skip(why)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def python_target() -> Iterator[Target]:
    token = secrets.token_urlsafe(24)
    # A terminal's Market Watch: symbols outside it answer nothing until selected.
    fake = FakeMT5(server_offset_s=7200, market_watch_only=True)
    with tempfile.TemporaryDirectory(prefix="mt5-agent-ledger-") as data_dir:
        ledger = Ledger(str(Path(data_dir) / "ledger.db"))
        server = serve_in_thread(Agent(fake, token, login_poll_s=0.05, ledger=ledger), "127.0.0.1", 0)
        try:
            yield Target(f"http://127.0.0.1:{server.server_address[1]}", token, FIRST, SECOND, "python")
        finally:
            server.shutdown()
            server.server_close()
            ledger.close()
    assert fake.concurrent_failures == 0


@pytest.fixture(scope="module")
def mt5linux_target() -> Iterator[Target]:
    """The Python agent as `--backend mt5linux` runs it: every terminal call through ReconnectingMt5
    (its own thread and timeout per call), here over a link that never drops (test_mt5linux_backend.py
    drops it)."""
    token = secrets.token_urlsafe(24)
    fake = FakeMT5(server_offset_s=7200, market_watch_only=True)
    backend = ReconnectingMt5(lambda: fake, call_timeout_s=10.0)
    backend.connect()
    with tempfile.TemporaryDirectory(prefix="mt5-agent-ledger-") as data_dir:
        ledger = Ledger(str(Path(data_dir) / "ledger.db"))
        server = serve_in_thread(Agent(backend, token, login_poll_s=0.05, ledger=ledger), "127.0.0.1", 0)
        try:
            yield Target(f"http://127.0.0.1:{server.server_address[1]}", token, FIRST, SECOND, "python")
        finally:
            server.shutdown()
            server.server_close()
            ledger.close()
    assert fake.concurrent_failures == 0
    assert backend.connections == 1


@pytest.fixture(scope="module")
def sim_target() -> Iterator[Target]:
    binary = find_bridge_binary()
    if binary is None:
        skip_or_fail(
            "mt5-bridge binary not found (set MT5_BRIDGE_BIN or run `cargo build -p mt5-bridge`): "
            "sim-agent conformance skipped"
        )
        return
    help_text = subprocess.run(
        [str(binary), "--help"], check=False, capture_output=True, text=True, timeout=30
    )
    if "sim-agent" not in help_text.stdout + help_text.stderr:
        skip_or_fail(f"{binary} has no sim-agent command yet: sim-agent conformance skipped")
        return
    token = secrets.token_urlsafe(24)
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="mt5-agent-conf-") as data_dir:
        env = dict(os.environ, DATA_DIR=data_dir, MT5_SIM_STATE="memory", AGENT_TOKEN=token)
        log_path = Path(data_dir) / "sim-agent.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                [str(binary), "sim-agent", "--bind", f"127.0.0.1:{port}"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            try:
                base = f"http://127.0.0.1:{port}"
                try:
                    conformance.wait_healthy(base, token)
                except TimeoutError:
                    proc.kill()
                    proc.wait(timeout=10)
                    pytest.fail(f"sim-agent did not start: {log_path.read_text(errors='replace')[-2000:]}")
                yield Target(base, token, FIRST, SECOND, "sim")
            finally:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)


def checks_for(agent: str) -> list[object]:
    """The checks as pytest params; those `only_for` other agents are skipped with the reason."""
    out: list[object] = []
    for check in conformance.CHECKS:
        marks = []
        if not conformance.applies_to(check, agent):
            marks.append(pytest.mark.skip(reason=f"{agent} has not caught up with this protocol addition"))
        out.append(pytest.param(check, id=check.__name__, marks=marks))
    return out


@pytest.mark.parametrize("check", checks_for("python"))
def test_python_agent(python_target: Target, check) -> None:  # type: ignore[no-untyped-def]
    check(python_target)


@pytest.mark.parametrize("check", checks_for("python"))
def test_python_agent_over_mt5linux(mt5linux_target: Target, check) -> None:  # type: ignore[no-untyped-def]
    check(mt5linux_target)


@pytest.mark.parametrize("check", checks_for("sim"))
def test_sim_agent(sim_target: Target, check) -> None:  # type: ignore[no-untyped-def]
    check(sim_target)


def test_the_schema_tells_requests_and_answers_apart() -> None:
    """The schema the suite checks against is not vacuous: it refuses what the protocol refuses."""
    tag = FIRST.session_tag
    login = {"login": 1, "password": "p", "server": "S", "session_tag": tag, "timeout_ms": 1}
    assert conformance.request_errors("POST", "/v1/login", login) == []
    for bad in ({"login": "1"}, {"session_tag": tag.upper()}, {"lease": -1}, {"timeout_ms": None}):
        assert conformance.request_errors("POST", "/v1/login", {**login, **bad}), bad
    call = {"expected": FIRST.expected(), "lease": None, "args": {"symbol": "EURUSD"}}
    assert conformance.request_errors("POST", "/v1/call/symbol_info", call) == []
    assert conformance.request_errors("POST", "/v1/call/symbol_info", {**call, "args": {"symbol": 7}})
    assert conformance.request_errors("POST", "/v1/call/history_deals", {**call, "args": {"limit": 0}})
    assert conformance.request_errors("POST", "/v1/call/account_info", {"args": {}})
    deal = {name: 0 for name in conformance.SCHEMAS["TradeDeal"]}
    deal.update(symbol="X", comment="", external_id="")
    page = {"items": [deal], "next": None}
    for result in ([deal], page):
        assert conformance.answer_errors("POST", "/v1/call/history_deals", 200, {"result": result}) == []
    for result in ([dict(deal, type="buy")], [{k: v for k, v in deal.items() if k != "fee"}], {"items": []}):
        assert conformance.answer_errors("POST", "/v1/call/history_deals", 200, {"result": result}), result
    error = {"error": {"code": "bad_request", "message": "m", "last_error": [-2, "x"], "actual": None}}
    assert conformance.answer_errors("POST", "/v1/login", 400, error) == []
    assert conformance.answer_errors("POST", "/v1/login", 400, {"error": {"code": "x"}})
    assert conformance.answer_errors(
        "POST", "/v1/login", 422, {**error, "error": {**error["error"], "last_error": [1]}}
    )
