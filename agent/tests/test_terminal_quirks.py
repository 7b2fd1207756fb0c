"""The agent against a terminal that behaves like a real one at its edges: slow to settle after a login,
trading switched off, NaN in its numbers, invalid-argument errors, symbols outside Market Watch, enum
values newer than the package's lists, and (for a Wine terminal) a link that drops.

Each quirk is switched on per test in the fake (`fake_mt5.FakeMT5`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from fake_mt5 import FakeMT5
from test_agent import FIRST, SECOND, Running, buy, tag_of

from mt5_agent.server import to_json

NAN, INF = float("nan"), float("inf")


@pytest.fixture
def running_fake() -> Iterator[Running]:
    r = Running(FakeMT5())
    yield r
    r.close()


def strict_json(resp: requests.Response) -> Any:
    """The body parsed as strict JSON: a NaN or Infinity token fails the test."""

    def refuse(name: str) -> Any:
        raise AssertionError(f"the agent sent {name}: {resp.text[:200]}")

    return json.loads(resp.text, parse_constant=refuse)


# ---- NaN and infinity ---------------------------------------------------------------------------


def test_to_json_turns_non_finite_floats_into_null() -> None:
    assert to_json(NAN) is None and to_json(INF) is None and to_json(-INF) is None
    assert to_json([1.5, NAN, {"a": -INF}]) == [1.5, None, {"a": None}]
    assert to_json(0.0) == 0.0 and to_json(True) is True and to_json(3) == 3


def test_non_finite_numbers_from_the_terminal_leave_as_null() -> None:
    fake = FakeMT5()
    fake.override("Tick", last=NAN, volume_real=INF)
    fake.override("SymbolInfo", session_aw=NAN, price_theoretical=-INF, bid=NAN)
    fake.override("TradePosition", swap=NAN, profit=INF)
    r = Running(fake)
    try:
        assert r.login(FIRST).status_code == 200
        assert r.call("order_send", {"request": buy()}).status_code == 200
        tick = strict_json(r.call("symbol_info_tick", {"symbol": "EURUSD"}))["result"]
        assert tick["last"] is None and tick["volume_real"] is None and tick["bid"] == 1.08
        info = strict_json(r.call("symbol_info", {"symbol": "EURUSD"}))["result"]
        assert (info["session_aw"], info["price_theoretical"], info["bid"]) == (None, None, None)
        assert info["digits"] == 5
        for info in strict_json(r.call("symbols", {}))["result"]:
            assert info["session_aw"] is None
        (position,) = strict_json(r.call("positions", {}))["result"]
        assert position["swap"] is None and position["profit"] is None and position["volume"] == 0.01
    finally:
        r.close()


def test_an_answer_holding_nan_is_a_500_not_a_nan_token(running_fake: Running) -> None:
    # A bug past to_json (here a health answer built by hand) must still never put NaN on the wire.
    running_fake.agent.health = lambda: {"connected": True, "odd": NAN}  # type: ignore[method-assign]
    headers = {"Authorization": f"Bearer {running_fake.token}"}
    resp = requests.get(running_fake.base + "/v1/health", headers=headers, timeout=10)
    assert resp.status_code == 500
    err = strict_json(resp)["error"]
    assert err["code"] == "internal" and err["last_error"] is None and err["actual"] is None
    assert "NaN" not in resp.text


def test_nan_in_a_request_is_a_bad_request_and_reaches_no_terminal(running_fake: Running) -> None:
    assert running_fake.login(FIRST).status_code == 200
    running_fake.fake.calls.clear()
    expected = {"login": 10001, "server": "Sim-Demo", "session_tag": tag_of(FIRST)}
    for token in ("NaN", "Infinity", "-Infinity"):
        request = '{"action": 1, "symbol": "EURUSD", "type": 0, "volume": ' + token + "}"
        raw = f'{{"expected": {json.dumps(expected)}, "args": {{"request": {request}}}}}'
        resp = requests.post(
            running_fake.base + "/v1/call/order_send",
            data=raw,
            headers={"Authorization": f"Bearer {running_fake.token}", "Content-Type": "application/json"},
            timeout=10,
        )
        assert resp.status_code == 400, resp.text
        assert resp.json()["error"]["code"] == "bad_request"
    assert running_fake.fake.calls == []


# ---- enum values outside the known lists ------------------------------------------------------


def test_unknown_enum_values_pass_through_as_integers() -> None:
    # Servers add deal types, reasons and calc modes the package does not list (the MT5 server API
    # has deal types past 17): the agent carries MT5's integers unchanged and interprets none.
    fake = FakeMT5()
    fake.override("TradeDeal", type=99, entry=7, reason=42)
    fake.override("TradeOrder", state=17, type=12, reason=30, type_filling=9, type_time=8)
    fake.override("TradePosition", type=5, reason=11)
    fake.override("SymbolInfo", trade_calc_mode=77, trade_mode=9, trade_exemode=6, swap_mode=20)
    fake.override("AccountInfo", margin_mode=5, trade_mode=3, margin_so_mode=4)
    r = Running(fake)
    try:
        login = r.login(FIRST)
        assert login.status_code == 200, login.text
        assert login.json()["account_info"]["margin_mode"] == 5
        sent = r.call("order_send", {"request": buy()})
        assert sent.status_code == 200, sent.text
        history = {"date_from": 0, "date_to": 2**31}
        (deal,) = r.call("history_deals", history).json()["result"]
        assert (deal["type"], deal["entry"], deal["reason"]) == (99, 7, 42)
        (order,) = r.call("history_orders", dict(history, limit=10)).json()["result"]["items"]
        assert (order["state"], order["type"], order["reason"]) == (17, 12, 30)
        assert (order["type_filling"], order["type_time"]) == (9, 8)
        (position,) = r.call("positions", {}).json()["result"]
        assert (position["type"], position["reason"]) == (5, 11)
        info = r.call("symbol_info", {"symbol": "EURUSD"}).json()["result"]
        assert (info["trade_calc_mode"], info["trade_mode"], info["trade_exemode"]) == (77, 9, 6)
        assert info["swap_mode"] == 20 and info["select"] is True
        assert {s["trade_calc_mode"] for s in r.call("symbols", {}).json()["result"]} == {77}
        account = r.call("account_info", {}).json()["result"]
        assert (account["margin_mode"], account["trade_mode"], account["margin_so_mode"]) == (5, 3, 4)
        for value in (deal["type"], order["state"], info["trade_calc_mode"]):
            assert type(value) is int
    finally:
        r.close()


# ---- invalid arguments (-2) ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "field"),
    [
        ('Invalid "volume" argument', "volume"),
        ('Invalid "comment" argument', "comment"),
        ('Invalid "expiration" argument', "expiration"),
        ("Invalid arguments", "request"),
        ("Unnamed arguments not allowed", "request"),
        ("Invalid 1st unnamed argument", "request"),
    ],
)
def test_invalid_arguments_are_422_invalid_argument_naming_the_field(
    running_fake: Running, message: str, field: str
) -> None:
    assert running_fake.login(FIRST).status_code == 200
    running_fake.fake.fail("order_send", -2, message)
    resp = running_fake.call("order_send", {"request": buy()})
    assert resp.status_code == 422, resp.text
    err = resp.json()["error"]
    assert err["code"] == "invalid_argument"
    assert err["mt5_code"] == -2 and err["field"] == field
    assert err["last_error"] == [-2, message] and message in err["message"]
    assert err["actual"] is None
    assert list(err)[:4] == ["code", "message", "last_error", "actual"]


def test_invalid_argument_from_any_call(running_fake: Running) -> None:
    assert running_fake.login(FIRST).status_code == 200
    running_fake.fake.fail("order_calc_margin", -2, 'Invalid "price" argument')
    resp = running_fake.call(
        "order_calc_margin", {"action": 0, "symbol": "EURUSD", "volume": 1.0, "price": 1.1}
    )
    assert resp.status_code == 422 and resp.json()["error"]["field"] == "price"
    running_fake.fake.fail("copy_rates_from", -2, "Invalid arguments")
    rates = {"symbol": "EURUSD", "timeframe": 1, "mode": "from", "date_from": 1, "count": 2}
    err = running_fake.call("copy_rates", rates).json()["error"]
    assert (err["code"], err["field"]) == ("invalid_argument", "request")
    # The terminal's own refusal of a deal without a volume, before any server sees it.
    request = {k: v for k, v in buy().items() if k != "volume"}
    for operation in ("order_check", "order_send"):
        err = running_fake.call(operation, {"request": request}).json()["error"]
        assert (err["code"], err["mt5_code"], err["field"]) == ("invalid_argument", -2, "volume")
    assert running_fake.call("positions", {}).json()["result"] == []


def test_other_mt5_errors_keep_their_shape(running_fake: Running) -> None:
    assert running_fake.login(FIRST).status_code == 200
    resp = running_fake.call("symbol_info", {"symbol": "NOPE"})
    assert resp.status_code == 422
    err = resp.json()["error"]
    assert err["code"] == "mt5_error" and err["last_error"] == [-4, "Terminal: Not found"]
    assert set(err) == {"code", "message", "last_error", "actual"}


# ---- symbols outside Market Watch --------------------------------------------------------------

# XAUUSD is a symbol of the fake's broker that is not in Market Watch at start.
HIDDEN = "XAUUSD"
_FIRST_CALLS = {
    "symbol_info": {"symbol": HIDDEN},
    "symbol_info_tick": {"symbol": HIDDEN},
    "copy_rates": {"symbol": HIDDEN, "timeframe": 1, "mode": "from_pos", "start": 0, "count": 3},
    "order_calc_margin": {"action": 0, "symbol": HIDDEN, "volume": 0.1, "price": 2000.0},
    "order_calc_profit": {
        "action": 0,
        "symbol": HIDDEN,
        "volume": 0.1,
        "price_open": 2000.0,
        "price_close": 2001.0,
    },
    "order_check": {"request": dict(buy(), symbol=HIDDEN)},
    "order_send": {"request": dict(buy(), symbol=HIDDEN)},
}


def test_the_fake_refuses_symbols_outside_market_watch() -> None:
    fake = FakeMT5(market_watch_only=True)
    fake.initialize()
    fake.login(10001, password="Sim-10001!", server="Sim-Demo")
    assert fake.symbol_info(HIDDEN) is None and fake.last_error() == (-1, "Terminal: Call failed")
    assert fake.symbol_info_tick(HIDDEN) is None and fake.order_calc_margin(0, HIDDEN, 0.1, 2000.0) is None
    assert fake.order_send(dict(buy(), symbol=HIDDEN)).retcode == 10013
    assert fake.symbols_get(group=HIDDEN)[0].select is False
    assert fake.symbol_select(HIDDEN, True)
    assert fake.symbol_info(HIDDEN).select is True
    assert fake.order_send(dict(buy(), symbol=HIDDEN)).retcode == 10009


@pytest.mark.parametrize("operation", sorted(_FIRST_CALLS))
def test_a_symbol_outside_market_watch_works_on_the_first_call(operation: str) -> None:
    r = Running(FakeMT5(market_watch_only=True))
    try:
        assert r.login(FIRST).status_code == 200
        r.fake.calls.clear()
        resp = r.call(operation, _FIRST_CALLS[operation])
        assert resp.status_code == 200, resp.text
        result = resp.json()["result"]
        if operation == "order_send":
            assert result["retcode"] == 10009, result
        if operation == "order_check":
            assert result["retcode"] == 0, result
        # Selected first, explicitly, then the call itself.
        assert r.fake.calls.index("symbol_select") < len(r.fake.calls) - 1
    finally:
        r.close()


def test_requests_without_a_symbol_select_nothing(running_fake: Running) -> None:
    assert running_fake.login(FIRST).status_code == 200
    running_fake.fake.calls.clear()
    resp = running_fake.call("order_send", {"request": {"action": 8, "order": 123}})
    assert resp.status_code == 200 and resp.json()["result"]["retcode"] == 10013
    assert "symbol_select" not in running_fake.fake.calls


# ---- login readiness --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "knob", ["login_stale_account_reads", "login_disconnected_reads", "login_unsettled_reads"]
)
def test_login_answers_once_the_terminal_is_consistent(knob: str) -> None:
    r = Running(FakeMT5(**{knob: 6}))
    try:
        assert r.login(FIRST).status_code == 200
        resp = r.login(SECOND)
        assert resp.status_code == 200, resp.text
        assert resp.json()["account_info"]["login"] == 10002
        # The terminal got through its lag before the agent answered.
        remaining = {
            "login_stale_account_reads": r.fake._stale_account_reads,
            "login_disconnected_reads": r.fake._disconnected_reads,
            "login_unsettled_reads": r.fake._unsettled_reads,
        }
        assert remaining[knob] == 0, remaining
        assert r.call("positions", {}, account=SECOND).json()["result"] == []
        assert r.health()["session_tag"] == tag_of(SECOND)
    finally:
        r.close()


def test_login_waits_for_all_of_it_and_reads_deals() -> None:
    fake = FakeMT5(login_stale_account_reads=2, login_disconnected_reads=4, login_unsettled_reads=7)
    r = Running(fake)
    try:
        assert r.login(FIRST).status_code == 200
        assert r.call("order_send", {"request": buy()}).status_code == 200
        assert r.login(SECOND).status_code == 200
        fake.calls.clear()
        assert r.login(FIRST).status_code == 200
        assert (fake._stale_account_reads, fake._disconnected_reads, fake._unsettled_reads) == (0, 0, 0)
        # Three equal reads of positions, orders and the day's deals (the position opened above).
        assert fake.calls.count("history_deals_get") >= 3
        assert len(r.call("positions", {}).json()["result"]) == 1
    finally:
        r.close()


@pytest.mark.parametrize(
    ("knob", "waiting"),
    [
        ("login_stale_account_reads", "to show 10002"),
        ("login_disconnected_reads", "trade server"),
        ("login_unsettled_reads", "stop changing"),
    ],
)
def test_a_terminal_that_never_settles_fails_the_login_in_time(knob: str, waiting: str) -> None:
    r = Running(FakeMT5())
    try:
        assert r.login(FIRST).status_code == 200
        setattr(r.fake, knob, 100_000)
        resp = r.login(SECOND, timeout_ms=500)
        assert resp.status_code == 504, resp.text
        err = resp.json()["error"]
        assert err["code"] == "timeout" and waiting in err["message"], err
        assert set(err) == {"code", "message", "last_error", "actual"}
        assert r.health()["session_tag"] is None
    finally:
        r.close()


def test_the_session_guard_ignores_case_and_whitespace_of_the_server(running_fake: Running) -> None:
    assert running_fake.login(FIRST).status_code == 200
    # The terminal spells the server its own way.
    running_fake.fake.override("AccountInfo", server="  sim-DEMO ")
    resp = running_fake.call("positions", {})
    assert resp.status_code == 200, resp.text
    health = running_fake.health()
    assert health["server"] == "  sim-DEMO " and health["session_tag"] == tag_of(FIRST)
    running_fake.fake.override("AccountInfo", server="Sim-Demo-2")
    resp = running_fake.call("positions", {})
    assert resp.status_code == 409 and resp.json()["error"]["actual"]["server"] == "Sim-Demo-2"


# ---- terminal state in health; trading switched off --------------------------------------------


def test_health_reports_the_terminals_connection_and_trading_switches(running_fake: Running) -> None:
    before = running_fake.health()
    assert before["connected"] is True
    assert before["terminal_info"] == {"connected": False, "trade_allowed": True, "tradeapi_disabled": False}
    assert running_fake.login(FIRST).status_code == 200
    health = running_fake.health()
    assert health["terminal_info"] == {"connected": True, "trade_allowed": True, "tradeapi_disabled": False}
    assert health["login"] == 10001 and health["session_tag"] == tag_of(FIRST)
    running_fake.fake.terminal_trade_allowed = False
    assert running_fake.health()["terminal_info"]["trade_allowed"] is False
    running_fake.fake.terminal_trade_allowed = True
    running_fake.fake.tradeapi_disabled = True
    assert running_fake.health()["terminal_info"]["tradeapi_disabled"] is True
    # Busy terminal: the flags last read. Unreachable terminal: none.
    running_fake.agent._lock.acquire()
    try:
        assert running_fake.health()["terminal_info"]["tradeapi_disabled"] is True
    finally:
        running_fake.agent._lock.release()
    running_fake.fake.connected = False
    health = running_fake.health()
    assert health["connected"] is False and health["terminal_info"] is None


@pytest.mark.parametrize("switch", ["terminal_trade_allowed", "tradeapi_disabled"])
def test_trading_switched_off_in_the_terminal_is_retcode_10027(running_fake: Running, switch: str) -> None:
    assert running_fake.login(FIRST).status_code == 200
    setattr(running_fake.fake, switch, switch == "tradeapi_disabled")
    resp = running_fake.call("order_send", {"request": buy()})
    assert resp.status_code == 200, resp.text
    result = resp.json()["result"]
    assert result["retcode"] == 10027 and result["comment"] == "AutoTrading disabled by client"
    assert (result["deal"], result["order"]) == (0, 0)
    assert running_fake.call("positions", {}).json()["result"] == []
