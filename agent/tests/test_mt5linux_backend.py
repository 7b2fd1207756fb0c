"""The mt5linux backend (`ReconnectingMt5`) over a fake link: the Wine side drops mid-call, a call hangs
past its timeout, the server refuses or stalls connections. Asserted from outside, through the agent's
HTTP server, as the bridge sees it, except where only the wrapper itself can show it.

The fake link stands in for one RPyC connection of mt5linux: every link reaches the same fake terminal,
as every connection reaches the same terminal inside Wine. Faults are queued per function and taken by
the next call of that function."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import types
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pytest
from fake_mt5 import FakeMT5
from test_agent import FIRST, Running, buy, tag_of

from mt5_agent.__main__ import build_parser, load_backend, main
from mt5_agent.backend import CallTimedOut, LinkLost, ReconnectingMt5

# Small timeouts keep the tests fast; the margin absorbs a slow test machine.
TIMEOUT_S = 0.25
MARGIN_S = 1.5
TESTS_DIR = os.path.dirname(os.path.abspath(__file__))


@dataclass
class Fault:
    """What the next call of a function meets. `kind`:
    "break": EOFError before the terminal sees the call;
    "lose_answer": the call runs, then EOFError (its answer is lost);
    "hang": waits for `release`, then runs and answers late, even if its link was closed meanwhile
    (EOFError if the link broke);
    "delay": answers after `delay_s`;
    "dead_answer": answers an object whose fields fail to read, as an RPyC proxy of a dead connection;
    "error": the far side raises ValueError, and the link stays up."""

    kind: str
    delay_s: float = 0.0
    release: threading.Event = field(default_factory=threading.Event)
    # Set once the call has finished on the far side, answered or not.
    done: threading.Event = field(default_factory=threading.Event)
    late_answer: Any = None


class DeadAnswer:
    """An answer read over a link that died after the call returned (an RPyC netref)."""

    def __init__(self, link: FakeLink) -> None:
        self._link = link

    def __getattr__(self, name: str) -> Any:
        self._link.broken = True
        raise EOFError("stream has been closed")


class FakeLink:
    """One connection to the Wine side. Once broken or closed, every call on it raises EOFError."""

    def __init__(self, side: WineSide, number: int) -> None:
        self.side = side
        self.number = number
        self.calls: list[str] = []
        self.broken = False
        self.closed = threading.Event()

    def close(self) -> None:
        self.closed.set()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)

        def call(*args: Any, **kwargs: Any) -> Any:
            if self.broken or self.closed.is_set():
                raise EOFError("stream has been closed")
            self.calls.append(name)
            fault = self.side.take_fault(name)
            if fault is None:
                return getattr(self.side.fake, name)(*args, **kwargs)
            try:
                return self._faulty(fault, name, args, kwargs)
            finally:
                fault.done.set()

        return call

    def _faulty(self, fault: Fault, name: str, args: Any, kwargs: Any) -> Any:
        run = getattr(self.side.fake, name)
        if fault.kind == "break":
            self.broken = True
            raise EOFError("connection reset by the Wine side")
        if fault.kind == "lose_answer":
            run(*args, **kwargs)
            self.broken = True
            raise EOFError("connection reset by the Wine side")
        if fault.kind == "hang":
            assert fault.release.wait(10), "the test never released a hung call"
            if self.broken:
                raise EOFError("stream has been closed")
            fault.late_answer = run(*args, **kwargs)
            return fault.late_answer
        if fault.kind == "delay":
            time.sleep(fault.delay_s)
            return run(*args, **kwargs)
        if fault.kind == "dead_answer":
            run(*args, **kwargs)
            return DeadAnswer(self)
        if fault.kind == "error":
            raise ValueError("the far side refused the arguments")
        raise AssertionError(f"unknown fault {fault.kind}")


class WineSide:
    """The mt5linux server and its terminal. `connect` is the factory ReconnectingMt5 calls (what
    `mt5linux.MetaTrader5(host, port)` does): it opens a new link, or fails as told."""

    def __init__(self, fake: FakeMT5 | None = None) -> None:
        self.fake = fake if fake is not None else FakeMT5()
        self.links: list[FakeLink] = []
        # connect raises this while set (a server that is down).
        self.refuse: BaseException | None = None
        # connect waits for this while set (a server that accepts and then says nothing).
        self.stall: threading.Event | None = None
        self._faults: dict[str, list[Fault]] = {}
        self._lock = threading.Lock()

    def connect(self) -> FakeLink:
        stall = self.stall
        if stall is not None:
            assert stall.wait(10), "the test never ended a stalled connect"
        if self.refuse is not None:
            raise self.refuse
        link = FakeLink(self, len(self.links) + 1)
        self.links.append(link)
        return link

    def fault(self, function: str, kind: str, delay_s: float = 0.0) -> Fault:
        """The next call of `function` meets this fault."""
        fault = Fault(kind, delay_s)
        with self._lock:
            self._faults.setdefault(function, []).append(fault)
        return fault

    def take_fault(self, function: str) -> Fault | None:
        with self._lock:
            queued = self._faults.get(function)
            return queued.pop(0) if queued else None

    def restart(self) -> None:
        """The Wine side restarts with its terminal: every link dies and the new terminal is logged in
        to nothing."""
        for link in self.links:
            link.broken = True
        self.fake = FakeMT5()


class Wine:
    """An agent over ReconnectingMt5 over the fake Wine side, served over HTTP."""

    def __init__(self, side: WineSide | None = None, call_timeout_s: float = TIMEOUT_S) -> None:
        self.side = side if side is not None else WineSide()
        self.backend = ReconnectingMt5(self.side.connect, call_timeout_s=call_timeout_s)
        self.backend.connect()
        self.http = Running(self.backend)  # type: ignore[arg-type]

    @property
    def fake(self) -> FakeMT5:
        return self.side.fake

    def login(self) -> None:
        resp = self.http.login(FIRST)
        assert resp.status_code == 200, resp.text

    def call(self, operation: str, args: dict[str, Any]) -> Any:
        return self.http.call(operation, args)

    def result(self, operation: str, args: dict[str, Any]) -> Any:
        resp = self.call(operation, args)
        assert resp.status_code == 200, resp.text
        return resp.json()["result"]

    def error(self, resp: Any, status: int, code: str) -> dict[str, Any]:
        assert resp.status_code == status, resp.text
        err = dict(resp.json()["error"])
        assert err["code"] == code, err
        return err

    def close(self) -> None:
        self.http.close()


@pytest.fixture
def wine() -> Iterator[Wine]:
    w = Wine()
    yield w
    w.close()
    # The agent's lock kept every call to the terminal apart, across links too.
    assert w.fake.concurrent_failures == 0


def wait_for(event: threading.Event, what: str) -> None:
    assert event.wait(5), f"timed out waiting for {what}"


def assert_logs_in_again(w: Wine) -> None:
    """After a lost link the agent holds no session: a call answers as for a terminal it did not log in
    (409 wrong_account, nothing run), and a login makes calls work again."""
    err = w.error(w.call("account_info", {}), 409, "wrong_account")
    # The terminal itself is still on the account: only the agent's session ended.
    assert err["actual"] == {"login": FIRST["login"], "server": FIRST["server"]}, err
    assert w.http.health()["session_tag"] is None
    w.login()
    assert w.result("account_info", {})["login"] == FIRST["login"]


# ---- a link that drops ------------------------------------------------------------------------------


def test_a_dropped_link_answers_503_and_the_next_call_runs_over_a_new_link(wine: Wine) -> None:
    wine.login()
    assert wine.result("symbol_info_tick", {"symbol": "EURUSD"})["bid"] == 1.08
    assert wine.backend.connections == 1
    wine.side.fault("symbol_info_tick", "break")
    err = wine.error(wine.call("symbol_info_tick", {"symbol": "EURUSD"}), 503, "not_connected")
    assert "EOFError" in err["message"], err
    # Dropping builds nothing: the next call does.
    assert wine.backend.connections == 1
    assert_logs_in_again(wine)
    assert wine.backend.connections == 2 and len(wine.side.links) == 2
    new = wine.side.links[1]
    # The agent attached again over the new link before anything else.
    assert new.calls[0] == "initialize", new.calls
    assert wine.result("symbol_info_tick", {"symbol": "EURUSD"})["bid"] == 1.08
    assert wine.backend.connections == 2


def test_health_reports_the_lost_link_and_recovers(wine: Wine) -> None:
    wine.login()
    assert wine.http.health()["session_tag"] == tag_of(FIRST)
    wine.side.fault("account_info", "break")
    health = wine.http.health()
    assert health["connected"] is False and health["session_tag"] is None, health
    # The next health check builds a new link and sees the terminal again, still without a session.
    health = wine.http.health()
    assert health["connected"] is True and health["login"] == FIRST["login"], health
    assert health["session_tag"] is None
    assert wine.backend.connections == 2


def test_a_restarted_wine_side_is_logged_in_to_nothing(wine: Wine) -> None:
    wine.login()
    wine.side.restart()
    wine.error(wine.call("account_info", {}), 503, "not_connected")
    # A new terminal, logged in to nothing: 409 wrong_account with no account, as the protocol says.
    err = wine.error(wine.call("account_info", {}), 409, "wrong_account")
    assert err["actual"] is None, err
    wine.login()
    assert wine.result("positions", {}) == []
    assert wine.backend.connections == 2


def test_a_link_lost_while_reading_an_answer_is_not_reused(wine: Wine) -> None:
    # mt5linux answers with remote objects read after the call returned: the wrapper never sees that
    # read fail, the agent does, and drops the link itself.
    wine.login()
    wine.side.fault("symbol_info_tick", "dead_answer")
    wine.error(wine.call("symbol_info_tick", {"symbol": "EURUSD"}), 503, "not_connected")
    assert wine.side.links[0].closed.wait(5)
    # One failure, then the next call runs over a new link (not once more over the dead one).
    assert_logs_in_again(wine)
    assert wine.backend.connections == 2


def test_an_order_send_that_lost_its_link_is_in_doubt_and_not_retried(wine: Wine) -> None:
    wine.login()
    wine.side.fault("order_send", "lose_answer")
    err = wine.error(wine.call("order_send", {"request": buy("lost answer")}), 503, "not_connected")
    # Not `deadline_exceeded`, which would tell the bridge nothing was sent: the order did execute.
    assert "order_send" in err["message"], err
    assert wine.fake.calls.count("order_send") == 1
    assert_logs_in_again(wine)
    assert wine.fake.calls.count("order_send") == 1
    (position,) = wine.result("positions", {})
    assert position["comment"] == "lost answer"


def test_an_order_send_whose_link_broke_before_it_ran_is_still_503(wine: Wine) -> None:
    # The agent cannot tell this from a lost answer: 503 all the same, and the journal settles it.
    wine.login()
    wine.side.fault("order_send", "break")
    wine.error(wine.call("order_send", {"request": buy()}), 503, "not_connected")
    assert wine.fake.calls.count("order_send") == 0
    assert_logs_in_again(wine)
    assert wine.result("positions", {}) == []


def test_a_server_that_refuses_connections_answers_503_until_it_is_back(wine: Wine) -> None:
    wine.login()
    wine.side.fault("account_info", "break")
    wine.error(wine.call("account_info", {}), 503, "not_connected")
    wine.side.refuse = ConnectionRefusedError(111, "Connection refused")
    for _ in range(2):
        err = wine.error(wine.call("account_info", {}), 503, "not_connected")
        assert "ConnectionRefusedError" in err["message"], err
    assert wine.http.health()["connected"] is False
    assert wine.backend.connections == 1
    wine.side.refuse = None
    assert_logs_in_again(wine)
    assert wine.backend.connections == 2


def test_a_connect_that_stalls_answers_503_within_about_the_timeout(wine: Wine) -> None:
    wine.login()
    wine.side.fault("account_info", "break")
    wine.error(wine.call("account_info", {}), 503, "not_connected")
    wine.side.stall = threading.Event()
    started = time.monotonic()
    err = wine.error(wine.call("account_info", {}), 503, "not_connected")
    elapsed = time.monotonic() - started
    assert TIMEOUT_S <= elapsed < TIMEOUT_S + MARGIN_S, elapsed
    assert "did not answer" in err["message"], err
    # The link the stalled connect builds at last is closed, never used.
    stall, wine.side.stall = wine.side.stall, None
    stall.set()
    deadline = time.monotonic() + 5
    while len(wine.side.links) < 2:
        assert time.monotonic() < deadline, "the stalled connect never finished"
        time.sleep(0.01)
    late = wine.side.links[1]
    assert late.closed.wait(5) and late.calls == []
    assert wine.backend.connections == 1
    assert_logs_in_again(wine)
    assert wine.backend.connections == 2 and wine.side.links[2].calls[0] == "initialize"


# ---- a call that hangs ----------------------------------------------------------------------------


def test_a_hung_call_answers_504_within_about_the_timeout(wine: Wine) -> None:
    wine.login()
    hung = wine.side.fault("symbol_info_tick", "hang")
    started = time.monotonic()
    err = wine.error(wine.call("symbol_info_tick", {"symbol": "EURUSD"}), 504, "timeout")
    elapsed = time.monotonic() - started
    assert TIMEOUT_S <= elapsed < TIMEOUT_S + MARGIN_S, elapsed
    assert "symbol_info_tick" in err["message"] and "unknown" in err["message"], err
    # The hung call's link is closed in the background: nothing is read from it again.
    assert wine.side.links[0].closed.wait(5)
    hung.release.set()
    wait_for(hung.done, "the hung call to end")
    assert_logs_in_again(wine)
    assert wine.backend.connections == 2


def test_a_hung_order_send_is_a_timeout_not_deadline_exceeded_and_is_not_retried(wine: Wine) -> None:
    wine.login()
    hung = wine.side.fault("order_send", "hang")
    err = wine.error(wine.call("order_send", {"request": buy("late fill")}), 504, "timeout")
    # `timeout` leaves the order in doubt for the bridge; `deadline_exceeded` would mean "not sent".
    assert "unknown" in err["message"], err
    # The terminal gets to the order after all: it fills, and nobody sends it again.
    hung.release.set()
    wait_for(hung.done, "the hung order_send to end")
    assert hung.late_answer is not None and hung.late_answer.retcode == 10009
    assert_logs_in_again(wine)
    assert wine.fake.calls.count("order_send") == 1
    (position,) = wine.result("positions", {})
    assert position["comment"] == "late fill"


def test_a_late_answer_does_not_leak_into_the_next_call(wine: Wine) -> None:
    wine.login()
    hung = wine.side.fault("symbol_info_tick", "hang")
    wine.error(wine.call("symbol_info_tick", {"symbol": "EURUSD"}), 504, "timeout")
    wine.login()
    # The abandoned call answers now, with EURUSD's tick, while the agent serves other calls.
    hung.release.set()
    wait_for(hung.done, "the hung call to end")
    assert hung.late_answer is not None and hung.late_answer.bid == 1.08
    for symbol, bid in (("GBPUSD", 1.27), ("USDJPY", 150.0), ("GBPUSD", 1.27)):
        assert wine.result("symbol_info_tick", {"symbol": symbol})["bid"] == bid
    # Nothing ran on the abandoned link after it hung.
    assert wine.side.links[0].calls[-1] == "symbol_info_tick"


def test_login_waits_longer_than_the_call_timeout() -> None:
    # login() waits for the trade server up to its own timeout: the link waits that long plus 5 s.
    w = Wine()
    try:
        w.side.fault("login", "delay", delay_s=TIMEOUT_S * 3)
        w.login()
        # Any other call that slow is abandoned.
        w.side.fault("account_info", "delay", delay_s=TIMEOUT_S * 3)
        w.error(w.call("account_info", {}), 504, "timeout")
    finally:
        w.close()


# ---- the wrapper itself ---------------------------------------------------------------------------


def test_a_late_answer_stays_with_its_abandoned_call() -> None:
    side = WineSide()
    backend = ReconnectingMt5(side.connect, call_timeout_s=TIMEOUT_S)
    assert backend.initialize() is True
    hung = side.fault("symbol_info_tick", "hang")
    with pytest.raises(CallTimedOut):
        backend.symbol_info_tick("EURUSD")
    hung.release.set()
    wait_for(hung.done, "the hung call to end")
    # The next calls get their own answers, over a new link.
    assert backend.initialize() is True
    assert backend.symbol_info_tick("GBPUSD").bid == 1.27
    assert backend.symbol_info_tick("USDJPY").bid == 150.0
    assert backend.connections == 2


def test_errors_of_the_far_side_keep_the_link() -> None:
    side = WineSide()
    backend = ReconnectingMt5(side.connect, call_timeout_s=TIMEOUT_S)
    backend.initialize()
    side.fault("symbol_info", "error")
    with pytest.raises(ValueError):
        backend.symbol_info("EURUSD")
    assert backend.symbol_info("EURUSD").name == "EURUSD"
    assert backend.connections == 1 and not side.links[0].closed.is_set()


def test_a_failure_on_an_old_link_does_not_drop_the_new_one() -> None:
    # Two callers at once (the agent serializes its calls, the wrapper does not count on it): one call
    # hangs on link 1 and fails late, after another caller has already replaced the link.
    side = WineSide()
    backend = ReconnectingMt5(side.connect, call_timeout_s=5.0)
    backend.initialize()
    hung = side.fault("account_info", "hang")
    failures: list[BaseException] = []

    def slow_caller() -> None:
        try:
            backend.account_info()
        except BaseException as exc:  # noqa: BLE001 - checked below
            failures.append(exc)

    caller = threading.Thread(target=slow_caller)
    caller.start()
    deadline = time.monotonic() + 5
    while "account_info" not in side.links[0].calls:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    side.fault("symbol_info_tick", "break")
    with pytest.raises(LinkLost):
        backend.symbol_info_tick("EURUSD")
    assert backend.initialize() is True
    assert backend.connections == 2
    # Link 1 broke: the hung call fails on it late, as RPyC's would (EOFError).
    assert side.links[0].broken
    hung.release.set()
    caller.join(5)
    assert len(failures) == 1, failures
    # That late failure concerned link 1 only: link 2 stays.
    assert backend.symbol_info_tick("EURUSD").bid == 1.08
    assert backend.connections == 2 and not side.links[1].closed.is_set()


def test_a_dropped_mt5linux_object_has_its_rpyc_connection_closed() -> None:
    # mt5linux keeps its RPyC connection in a private attribute (`self.__conn` of class MetaTrader5).
    closed = threading.Event()

    class Conn:
        def close(self) -> None:
            closed.set()

    class MetaTrader5:
        def __init__(self) -> None:
            self.__conn = Conn()

        def account_info(self) -> Any:
            raise EOFError("stream has been closed")

    backend = ReconnectingMt5(MetaTrader5, call_timeout_s=TIMEOUT_S)
    with pytest.raises(LinkLost):
        backend.account_info()
    wait_for(closed, "the connection to be closed")


@pytest.mark.parametrize("seconds", [0.0, -1.0, float("nan"), float("inf"), 3601.0])
def test_the_wrapper_refuses_a_bad_timeout(seconds: float) -> None:
    with pytest.raises(ValueError):
        ReconnectingMt5(lambda: None, call_timeout_s=seconds)


# ---- command line -----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["0", "-1", "inf", "nan", "x", "1e9"])
def test_a_bad_call_timeout_stops_the_agent_with_status_2(value: str) -> None:
    env = dict(os.environ, AGENT_TOKEN="cli-token-2", PYTHONPATH=os.path.dirname(TESTS_DIR))
    proc = subprocess.run(
        [sys.executable, "-m", "mt5_agent", "--backend", "mt5linux", f"--call-timeout-s={value}"],
        env=env,
        capture_output=True,
        check=False,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2, proc.stderr
    assert "--call-timeout-s" in proc.stderr and "seconds" in proc.stderr, proc.stderr
    assert repr(value) in proc.stderr, proc.stderr


def test_the_call_timeout_flag_defaults_to_30_s() -> None:
    assert build_parser().parse_args([]).call_timeout_s == 30.0
    assert build_parser().parse_args(["--call-timeout-s", "0.2"]).call_timeout_s == 0.2


class FakeMt5linux:
    """`mt5linux.MetaTrader5`: remembers where it was pointed; each instance is one link."""

    built: ClassVar[list[FakeMt5linux]] = []
    refuse: ClassVar[bool] = False

    def __init__(self, host: str = "localhost", port: int = 18812) -> None:
        if FakeMt5linux.refuse:
            raise ConnectionRefusedError(111, "Connection refused")
        self.address = (host, port)
        FakeMt5linux.built.append(self)

    def initialize(self, *args: Any, **kwargs: Any) -> bool:
        return True


@pytest.fixture
def fake_mt5linux(monkeypatch: pytest.MonkeyPatch) -> type[FakeMt5linux]:
    module = types.ModuleType("mt5linux")
    module.MetaTrader5 = FakeMt5linux  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "mt5linux", module)
    monkeypatch.setattr(FakeMt5linux, "built", [])
    monkeypatch.setattr(FakeMt5linux, "refuse", False)
    return FakeMt5linux


def test_load_backend_wraps_the_mt5linux_proxy(fake_mt5linux: type[FakeMt5linux]) -> None:
    backend = load_backend("mt5linux", "10.1.2.3", 18813, 2.5)
    assert isinstance(backend, ReconnectingMt5)
    assert backend.call_timeout_s == 2.5
    # The first link is made at once, to the host and port given.
    assert backend.connections == 1
    assert [b.address for b in fake_mt5linux.built] == [("10.1.2.3", 18813)]
    assert backend.initialize() is True
    assert len(fake_mt5linux.built) == 1


def test_an_unreachable_mt5linux_server_stops_the_agent(
    fake_mt5linux: type[FakeMt5linux],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake_mt5linux.refuse = True
    monkeypatch.setenv("AGENT_TOKEN", "env-token")
    assert main(["--bind", "127.0.0.1:0", "--backend", "mt5linux", "--call-timeout-s", "0.5"]) == 2
    err = capsys.readouterr().err
    assert "backend mt5linux is not reachable" in err and "ConnectionRefusedError" in err, err
