"""A fake of the MetaTrader5 package, close enough to test the agent without a terminal.

`FakeMT5` has the package's functions and constants, returns namedtuples with the package's field
names and order, `()` for nothing, `None`/`False` plus `last_error()` for failures, and structured
record arrays for bars. It knows the accounts 10001 and 10002 on `Sim-Demo` (as the simulator does)
and fills market orders at the quote. With `detect_concurrency` on, overlapping calls fail with
(-1, 'Terminal: Call failed') like the real package, which proves that a caller serializes.
Each account has a master password and an investor (read-only) one: logged in with the investor
password, `account_info().trade_allowed` is False and `order_send` answers TRADE_RETCODE_TRADE_DISABLED
without executing anything, as the trade server does. `set_password` changes a master password while
the fake runs (a change at the broker): the session already logged in stays, the next login with the
old password fails with (-6, 'Terminal: Authorization failed').
Module-level functions delegate to one default instance so the module itself can stand in for
`MetaTrader5`.
"""

from __future__ import annotations

import threading
import time
from collections import namedtuple
from dataclasses import dataclass, field
from typing import Any

# ---- constants (values of the package) -------------------------------------------------------

TIMEFRAME_M1, TIMEFRAME_M5, TIMEFRAME_M15, TIMEFRAME_M30 = 1, 5, 15, 30
TIMEFRAME_H1, TIMEFRAME_H4, TIMEFRAME_D1 = 16385, 16388, 16408
ORDER_TYPE_BUY, ORDER_TYPE_SELL = 0, 1
ORDER_TYPE_BUY_LIMIT, ORDER_TYPE_SELL_LIMIT = 2, 3
ORDER_TYPE_BUY_STOP, ORDER_TYPE_SELL_STOP = 4, 5
ORDER_FILLING_FOK, ORDER_FILLING_IOC, ORDER_FILLING_RETURN = 0, 1, 2
ORDER_TIME_GTC = 0
ORDER_STATE_PLACED, ORDER_STATE_FILLED = 1, 4
ORDER_REASON_EXPERT = 3
TRADE_ACTION_DEAL, TRADE_ACTION_PENDING, TRADE_ACTION_SLTP = 1, 5, 6
TRADE_ACTION_MODIFY, TRADE_ACTION_REMOVE, TRADE_ACTION_CLOSE_BY = 7, 8, 10
POSITION_TYPE_BUY, POSITION_TYPE_SELL = 0, 1
DEAL_TYPE_BUY, DEAL_TYPE_SELL, DEAL_TYPE_BALANCE = 0, 1, 2
DEAL_ENTRY_IN, DEAL_ENTRY_OUT = 0, 1
DEAL_REASON_EXPERT = 3
ACCOUNT_TRADE_MODE_DEMO = 0
ACCOUNT_MARGIN_MODE_RETAIL_NETTING, ACCOUNT_MARGIN_MODE_RETAIL_HEDGING = 0, 2
TRADE_RETCODE_DONE = 10009
TRADE_RETCODE_INVALID = 10013
TRADE_RETCODE_INVALID_VOLUME = 10014
TRADE_RETCODE_TRADE_DISABLED = 10017
TRADE_RETCODE_CLIENT_DISABLES_AT = 10027
TRADE_RETCODE_POSITION_CLOSED = 10036
RES_S_OK, RES_E_FAIL, RES_E_INVALID_PARAMS, RES_E_NOT_FOUND = 1, -1, -2, -4
RES_E_AUTH_FAILED = -6
RES_E_INTERNAL_FAIL_CONNECT = -10004

# ---- structures --------------------------------------------------------------------------------

AccountInfo = namedtuple(
    "AccountInfo",
    "login trade_mode leverage limit_orders margin_so_mode trade_allowed trade_expert margin_mode "
    "currency_digits fifo_close balance credit profit equity margin margin_free margin_level "
    "margin_so_call margin_so_so margin_initial margin_maintenance assets liabilities "
    "commission_blocked name server currency company",
)
_SYMBOL_INTS = [
    "custom",
    "chart_mode",
    "select",
    "visible",
    "session_deals",
    "session_buy_orders",
    "session_sell_orders",
    "volume",
    "volumehigh",
    "volumelow",
    "time",
    "digits",
    "spread",
    "spread_float",
    "ticks_bookdepth",
    "trade_calc_mode",
    "trade_mode",
    "start_time",
    "expiration_time",
    "trade_stops_level",
    "trade_freeze_level",
    "trade_exemode",
    "swap_mode",
    "swap_rollover3days",
    "margin_hedged_use_leg",
    "expiration_mode",
    "filling_mode",
    "order_mode",
    "order_gtc_mode",
    "option_mode",
    "option_right",
]
_SYMBOL_FLOATS = [
    "bid",
    "bidhigh",
    "bidlow",
    "ask",
    "askhigh",
    "asklow",
    "last",
    "lasthigh",
    "lastlow",
    "volume_real",
    "volumehigh_real",
    "volumelow_real",
    "option_strike",
    "point",
    "trade_tick_value",
    "trade_tick_value_profit",
    "trade_tick_value_loss",
    "trade_tick_size",
    "trade_contract_size",
    "trade_accrued_interest",
    "trade_face_value",
    "trade_liquidity_rate",
    "volume_min",
    "volume_max",
    "volume_step",
    "volume_limit",
    "swap_long",
    "swap_short",
    "margin_initial",
    "margin_maintenance",
    "session_volume",
    "session_turnover",
    "session_interest",
    "session_buy_orders_volume",
    "session_sell_orders_volume",
    "session_open",
    "session_close",
    "session_aw",
    "session_price_settlement",
    "session_price_limit_min",
    "session_price_limit_max",
    "margin_hedged",
    "price_change",
    "price_volatility",
    "price_theoretical",
    "price_greeks_delta",
    "price_greeks_theta",
    "price_greeks_gamma",
    "price_greeks_vega",
    "price_greeks_rho",
    "price_greeks_omega",
    "price_sensitivity",
]
_SYMBOL_STRS = [
    "basis",
    "category",
    "currency_base",
    "currency_profit",
    "currency_margin",
    "bank",
    "description",
    "exchange",
    "formula",
    "isin",
    "name",
    "page",
    "path",
]
SymbolInfo = namedtuple("SymbolInfo", _SYMBOL_INTS + _SYMBOL_FLOATS + _SYMBOL_STRS)
TerminalInfo = namedtuple(
    "TerminalInfo",
    "community_account community_connection connected dlls_allowed trade_allowed tradeapi_disabled "
    "email_enabled ftp_enabled notifications_enabled mqid build maxbars codepage ping_last "
    "community_balance retransmission company name language path data_path commondata_path",
)
Tick = namedtuple("Tick", "time bid ask last volume time_msc flags volume_real")
TradeRequest = namedtuple(
    "TradeRequest",
    "action magic order symbol volume price stoplimit sl tp deviation type type_filling type_time "
    "expiration comment position position_by",
)
OrderCheckResult = namedtuple(
    "OrderCheckResult",
    "retcode balance equity profit margin margin_free margin_level comment request",
)
OrderSendResult = namedtuple(
    "OrderSendResult",
    "retcode deal order volume price bid ask comment request_id retcode_external request",
)
TradeOrder = namedtuple(
    "TradeOrder",
    "ticket time_setup time_setup_msc time_done time_done_msc time_expiration type type_time "
    "type_filling state magic position_id position_by_id reason volume_initial volume_current "
    "price_open sl tp price_current price_stoplimit symbol comment external_id",
)
TradePosition = namedtuple(
    "TradePosition",
    "ticket time time_msc time_update time_update_msc type magic identifier reason volume "
    "price_open sl tp price_current swap profit symbol comment external_id",
)
TradeDeal = namedtuple(
    "TradeDeal",
    "ticket order time time_msc type entry magic position_id reason volume price commission swap "
    "profit fee symbol comment external_id",
)
RATE_FIELDS = ("time", "open", "high", "low", "close", "tick_volume", "spread", "real_volume")


class _DType:
    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = names


class RecordArray:
    """The slice of numpy's structured array the package returns for bars: dtype.names, rows, len."""

    def __init__(self, rows: list[tuple[Any, ...]]) -> None:
        self.dtype = _DType(RATE_FIELDS)
        self._rows = rows

    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._rows)

    def __getitem__(self, index: int) -> tuple[Any, ...]:
        return self._rows[index]


# ---- the fake terminal ---------------------------------------------------------------------------


@dataclass
class _Account:
    login: int
    password: str
    server: str
    name: str
    margin_mode: int
    # The read-only password; None when the account has none.
    investor: str | None = None
    balance: float = 10_000.0
    positions: list[TradePosition] = field(default_factory=list)
    orders: list[TradeOrder] = field(default_factory=list)
    history_orders: list[TradeOrder] = field(default_factory=list)
    deals: list[TradeDeal] = field(default_factory=list)


@dataclass
class _Symbol:
    name: str
    digits: int
    bid: float
    spread: int
    contract: float
    base: str
    profit: str
    filling: int = 3
    description: str = ""


def _symbols() -> dict[str, _Symbol]:
    defs = [
        _Symbol("EURUSD", 5, 1.08, 10, 100_000.0, "EUR", "USD", description="Euro vs US Dollar"),
        _Symbol("GBPUSD", 5, 1.27, 12, 100_000.0, "GBP", "USD", description="Pound vs US Dollar"),
        _Symbol("USDJPY", 3, 150.0, 12, 100_000.0, "USD", "JPY", description="US Dollar vs Yen"),
        _Symbol("XAUUSD", 2, 2000.0, 30, 100.0, "XAU", "USD", filling=1, description="Gold"),
    ]
    return {s.name: s for s in defs}


class FakeMT5:
    """One fake terminal with its own state; see the module docs."""

    def __init__(
        self,
        *,
        server_offset_s: int = 7200,
        call_delay_s: float = 0.0,
        detect_concurrency: bool = True,
        login_settle_reads: int = 0,
        market_watch_only: bool = False,
        login_stale_account_reads: int = 0,
        login_disconnected_reads: int = 0,
        login_unsettled_reads: int = 0,
    ) -> None:
        self.server_offset_s = server_offset_s
        self.call_delay_s = call_delay_s
        self.detect_concurrency = detect_concurrency
        # How many account_info reads after a login still show the old account (terminal lag).
        self.login_settle_reads = login_settle_reads
        # A terminal slow to become consistent after a login, each for that many reads: account_info
        # still names the previous account (after a switch), terminal_info().connected is False (the
        # terminal is still connecting to the trade server), positions_get answers differ from one read
        # to the next (the terminal is still synchronising: a transient position whose ticket changes).
        self.login_stale_account_reads = login_stale_account_reads
        self.login_disconnected_reads = login_disconnected_reads
        self.login_unsettled_reads = login_unsettled_reads
        # The terminal's "Algo Trading" button and its "disable the Python API" option: with trading off
        # order_send answers TRADE_RETCODE_CLIENT_DISABLES_AT (10027) and executes nothing.
        self.terminal_trade_allowed = True
        self.tradeapi_disabled = False
        # Like a terminal: a symbol outside Market Watch has no info, ticks, bars or calculations
        # ((-1, 'Terminal: Call failed')) and its orders are invalid (10013) until symbol_select.
        self.market_watch_only = market_watch_only
        self.calls: list[str] = []
        # Other names a trade server answers to (an access point's name, say): a login naming one
        # reaches the account, and account_info reports the server's own name.
        self.server_aliases: dict[str, str] = {}
        self.connected = True
        self.concurrent_failures = 0
        self._guard = threading.Lock()
        self._active = 0
        self._initialized = False
        self._last_error: tuple[int, str] = (RES_S_OK, "Success")
        self._accounts = {
            10001: _Account(10001, "Sim-10001!", "Sim-Demo", "Sim Hedging USD", 2, investor="Inv-10001!"),
            10002: _Account(10002, "Sim-10002!", "Sim-Demo", "Sim Netting USD", 0, investor="Inv-10002!"),
        }
        self._current: _Account | None = None
        # The current session logged in with the investor password: no trading.
        self._read_only = False
        self._stale_reads = 0
        self._previous: _Account | None = None
        self._stale_account_reads = 0
        self._disconnected_reads = 0
        self._unsettled_reads = 0
        self._symbols = _symbols()
        self._selected = {"EURUSD", "GBPUSD", "USDJPY"}
        # Field values forced into every answer of one structure, by its name ("Tick", "SymbolInfo",
        # "TradePosition", "TradeDeal", ...): NaN or infinity where a terminal has no value, enum
        # integers newer than the package's lists. See `override`.
        self.overrides: dict[str, dict[str, Any]] = {}
        # Functions that fail (None/False) with a given last_error while listed: see `fail`.
        self.failures: dict[str, tuple[int, str]] = {}
        self._next_ticket = 5_000_000
        self._request_id = 0

    # -- plumbing -----------------------------------------------------------------------------

    def _enter(self, name: str) -> bool:
        """Marks a call as running; False (and last_error set) when another call is running."""
        with self._guard:
            self.calls.append(name)
            self._active += 1
            clash = self._active > 1 and self.detect_concurrency
            if clash:
                self.concurrent_failures += 1
        if self.call_delay_s:
            time.sleep(self.call_delay_s)
        if clash:
            self._last_error = (RES_E_FAIL, "Terminal: Call failed")
            return False
        if not self.connected:
            self._last_error = (RES_E_INTERNAL_FAIL_CONNECT, "No IPC connection")
            return False
        if not self._initialized and name not in ("initialize", "last_error", "shutdown"):
            self._last_error = (RES_E_INTERNAL_FAIL_CONNECT, "No IPC connection")
            return False
        return True

    def _leave(self) -> None:
        with self._guard:
            self._active -= 1

    def _fail(self, code: int, message: str) -> None:
        self._last_error = (code, message)

    def _ok(self, value: Any) -> Any:
        self._last_error = (RES_S_OK, "Success")
        return self._patched(value)

    def _patched(self, value: Any) -> Any:
        """`value` with the test's `overrides` applied to it (or to each structure of a tuple)."""
        if not self.overrides:
            return value
        fields = getattr(value, "_fields", None)
        if fields is None:
            return tuple(self._patched(v) for v in value) if isinstance(value, tuple) else value
        forced = self.overrides.get(type(value).__name__, {})
        return value._replace(**{k: v for k, v in forced.items() if k in fields})

    def _call(self, name: str, fn: Any, failed: Any = None) -> Any:
        if not self._enter(name):
            self._leave()
            return failed
        if name in self.failures:
            self._leave()
            self._last_error = self.failures[name]
            return failed
        try:
            return fn()
        finally:
            self._leave()

    def now_server(self) -> int:
        return int(time.time()) + self.server_offset_s

    def _hidden(self, symbol: str) -> bool:
        """True (and last_error set) for a known symbol outside Market Watch while that matters."""
        if self.market_watch_only and symbol in self._symbols and symbol not in self._selected:
            self._fail(RES_E_FAIL, "Terminal: Call failed")
            return True
        return False

    def _ticket(self) -> int:
        self._next_ticket += 1
        return self._next_ticket

    def _quote(self, sym: _Symbol) -> tuple[float, float]:
        point = 10.0**-sym.digits
        return sym.bid, round(sym.bid + sym.spread * point, sym.digits)

    # -- session ---------------------------------------------------------------------------------

    def initialize(self, path: str | None = None, **kwargs: Any) -> bool:
        def run() -> bool:
            self._initialized = True
            if "login" in kwargs:
                return bool(self._do_login(kwargs["login"], kwargs.get("password"), kwargs.get("server")))
            return self._ok(True)

        return bool(self._call("initialize", run, False))

    def shutdown(self) -> None:
        self._initialized = False
        self.calls.append("shutdown")

    def last_error(self) -> tuple[int, str]:
        return self._last_error

    def login(
        self, login: int, password: str | None = None, server: str | None = None, timeout: int = 60000
    ) -> bool:
        return bool(self._call("login", lambda: self._do_login(login, password, server), False))

    def _do_login(self, login: int, password: str | None, server: str | None) -> bool:
        account = self._accounts.get(int(login))
        server = self.server_aliases.get(server, server) if server else server
        if account is None or (server and account.server != server):
            self._fail(RES_E_AUTH_FAILED, "Terminal: Authorization failed")
            return False
        if password is not None and password == account.password:
            read_only = False
        elif password is not None and account.investor is not None and password == account.investor:
            read_only = True
        else:
            self._fail(RES_E_AUTH_FAILED, "Terminal: Authorization failed")
            return False
        if self._current is not None and self._current is not account:
            self._stale_reads = self.login_settle_reads
            self._previous = self._current
            self._stale_account_reads = self.login_stale_account_reads
        self._disconnected_reads = self.login_disconnected_reads
        self._unsettled_reads = self.login_unsettled_reads
        self._current = account
        self._read_only = read_only
        return bool(self._ok(True))

    # -- test controls (not in the package) ---------------------------------------------------

    def set_password(self, login: int, password: str) -> None:
        """Changes an account's master password, as the broker does: only later logins see it."""
        self._accounts[int(login)].password = password

    def fail(self, function: str, code: int, message: str) -> None:
        """`function` answers None (False for bool functions) with last_error (code, message) until
        `failures` is cleared: e.g. `fail("order_send", -2, 'Invalid "volume" argument')`."""
        self.failures[function] = (code, message)

    def override(self, structure: str, **fields: Any) -> None:
        """Every later answer of `structure` (a namedtuple name such as "TradeDeal") carries `fields`:
        e.g. `override("Tick", last=float("nan"))` or `override("TradeDeal", type=99, reason=42)`."""
        self.overrides.setdefault(structure, {}).update(fields)

    def set_investor_password(self, login: int, password: str | None) -> None:
        """Sets (or with None removes) an account's investor password."""
        self._accounts[int(login)].investor = password

    def account_info(self) -> AccountInfo | None:
        return self._call("account_info", self._account_info)

    def _account_info(self) -> AccountInfo | None:
        if self._stale_reads > 0:
            # Right after a switch the terminal still answers with nothing useful.
            self._stale_reads -= 1
            return self._fail(RES_E_FAIL, "Terminal: Call failed")
        acc = self._current
        if self._stale_account_reads > 0 and self._previous is not None:
            # Still the account the terminal was on before the switch.
            self._stale_account_reads -= 1
            acc = self._previous
        if acc is None:
            return self._fail(RES_E_FAIL, "Terminal: Call failed")
        profit = round(sum(p.profit for p in acc.positions), 2)
        margin = round(sum(self._margin(p.symbol, p.volume, p.price_open) for p in acc.positions), 2)
        equity = round(acc.balance + profit, 2)
        level = round(equity / margin * 100.0, 2) if margin else 0.0
        return self._ok(
            AccountInfo(
                acc.login,
                ACCOUNT_TRADE_MODE_DEMO,
                100,
                200,
                0,
                not self._read_only,
                True,
                acc.margin_mode,
                2,
                False,
                acc.balance,
                0.0,
                profit,
                equity,
                margin,
                round(equity - margin, 2),
                level,
                50.0,
                30.0,
                0.0,
                0.0,
                0.0,
                0.0,
                0.0,
                acc.name,
                acc.server,
                "USD",
                "Sim Broker Ltd.",
            )
        )

    def terminal_info(self) -> TerminalInfo | None:
        def run() -> TerminalInfo:
            connected = self._current is not None
            if self._disconnected_reads > 0:
                self._disconnected_reads -= 1
                connected = False
            return self._ok(
                TerminalInfo(
                    False,
                    False,
                    connected,
                    False,
                    self.terminal_trade_allowed,
                    self.tradeapi_disabled,
                    False,
                    False,
                    False,
                    False,
                    4755,
                    100000,
                    1252,
                    25000,
                    0.0,
                    0.0,
                    "Sim Broker Ltd.",
                    "MetaTrader 5",
                    "English",
                    "C:\\Program Files\\MetaTrader 5",
                    "C:\\Users\\sim\\AppData\\Roaming\\MetaQuotes\\Terminal\\FAKE",
                    "C:\\Users\\sim\\AppData\\Roaming\\MetaQuotes\\Terminal\\Common",
                )
            )

        return self._call("terminal_info", run)

    # -- market data -------------------------------------------------------------------------

    def _symbol_info(self, sym: _Symbol) -> SymbolInfo:
        bid, ask = self._quote(sym)
        values: dict[str, Any] = {k: 0 for k in _SYMBOL_INTS}
        values.update({k: 0.0 for k in _SYMBOL_FLOATS})
        values.update({k: "" for k in _SYMBOL_STRS})
        point = round(10.0**-sym.digits, sym.digits)
        values.update(
            custom=False,
            margin_hedged_use_leg=False,
            select=sym.name in self._selected,
            visible=sym.name in self._selected,
            time=self.now_server(),
            digits=sym.digits,
            spread=sym.spread,
            spread_float=True,
            trade_mode=4,
            trade_exemode=2,
            swap_mode=1,
            swap_rollover3days=3,
            expiration_mode=15,
            filling_mode=sym.filling,
            order_mode=127,
            bid=bid,
            ask=ask,
            point=point,
            trade_tick_size=point,
            trade_tick_value=1.0,
            trade_tick_value_profit=1.0,
            trade_tick_value_loss=1.0,
            trade_contract_size=sym.contract,
            volume_min=0.01,
            volume_max=100.0,
            volume_step=0.01,
            margin_hedged=sym.contract,
            currency_base=sym.base,
            currency_profit=sym.profit,
            currency_margin=sym.base,
            description=sym.description,
            name=sym.name,
            path=f"Forex\\{sym.name}",
        )
        return SymbolInfo(**values)

    def symbols_total(self) -> int:
        return len(self._symbols)

    def symbols_get(self, group: str | None = None) -> tuple[SymbolInfo, ...] | None:
        def run() -> Any:
            names = sorted(self._symbols)
            if group:
                names = [n for n in names if _group_match(group, n)]
            return self._ok(tuple(self._symbol_info(self._symbols[n]) for n in names))

        return self._call("symbols_get", run)

    def symbol_info(self, symbol: str) -> SymbolInfo | None:
        def run() -> Any:
            sym = self._symbols.get(symbol)
            if sym is None:
                return self._fail(RES_E_NOT_FOUND, "Terminal: Not found")
            if self._hidden(symbol):
                return None
            return self._ok(self._symbol_info(sym))

        return self._call("symbol_info", run)

    def symbol_select(self, symbol: str, enable: bool = True) -> bool:
        def run() -> bool:
            if symbol not in self._symbols:
                self._fail(RES_E_NOT_FOUND, "Terminal: Not found")
                return False
            if enable:
                self._selected.add(symbol)
            else:
                self._selected.discard(symbol)
            return bool(self._ok(True))

        return bool(self._call("symbol_select", run, False))

    def symbol_info_tick(self, symbol: str) -> Tick | None:
        def run() -> Any:
            sym = self._symbols.get(symbol)
            if sym is None:
                return self._fail(RES_E_NOT_FOUND, "Terminal: Not found")
            if self._hidden(symbol):
                return None
            bid, ask = self._quote(sym)
            now = self.now_server()
            return self._ok(Tick(now, bid, ask, 0.0, 0, now * 1000, 6, 0.0))

        return self._call("symbol_info_tick", run)

    def _bars(self, symbol: str, timeframe: int) -> tuple[_Symbol, int] | None:
        sym = self._symbols.get(symbol)
        if sym is None:
            return self._fail(RES_E_NOT_FOUND, "Terminal: Not found")
        if self._hidden(symbol):
            return None
        seconds = _timeframe_seconds(timeframe)
        if seconds is None:
            return self._fail(RES_E_INVALID_PARAMS, "Invalid arguments")
        return sym, seconds

    def _rates(self, sym: _Symbol, seconds: int, opens: list[int]) -> RecordArray:
        rows = []
        for t in opens:
            # A deterministic wiggle so bars differ without randomness.
            wiggle = ((t // seconds) % 7 - 3) * 10.0**-sym.digits * 5
            o = round(sym.bid + wiggle, sym.digits)
            c = round(sym.bid - wiggle, sym.digits)
            hi = round(max(o, c) + 10.0**-sym.digits * 3, sym.digits)
            lo = round(min(o, c) - 10.0**-sym.digits * 3, sym.digits)
            rows.append((t, o, hi, lo, c, 100 + (t // seconds) % 50, sym.spread, 0))
        return RecordArray(rows)

    def copy_rates_from_pos(self, symbol: str, timeframe: int, start_pos: int, count: int) -> Any:
        def run() -> Any:
            found = self._bars(symbol, timeframe)
            if found is None:
                return None
            sym, seconds = found
            current = self.now_server() // seconds * seconds
            opens = [current - (start_pos + i) * seconds for i in range(count)][::-1]
            return self._ok(self._rates(sym, seconds, opens))

        return self._call("copy_rates_from_pos", run)

    def copy_rates_from(self, symbol: str, timeframe: int, date_from: int, count: int) -> Any:
        def run() -> Any:
            found = self._bars(symbol, timeframe)
            if found is None:
                return None
            sym, seconds = found
            last = min(int(date_from), self.now_server()) // seconds * seconds
            opens = [last - i * seconds for i in range(count)][::-1]
            return self._ok(self._rates(sym, seconds, opens))

        return self._call("copy_rates_from", run)

    def copy_rates_range(self, symbol: str, timeframe: int, date_from: int, date_to: int) -> Any:
        def run() -> Any:
            found = self._bars(symbol, timeframe)
            if found is None:
                return None
            sym, seconds = found
            first = -(-int(date_from) // seconds) * seconds
            end = min(int(date_to), self.now_server())
            return self._ok(self._rates(sym, seconds, list(range(first, end + 1, seconds))))

        return self._call("copy_rates_range", run)

    # -- account state ----------------------------------------------------------------------

    def _need_account(self) -> _Account | None:
        if self._current is None:
            return self._fail(RES_E_FAIL, "Terminal: Call failed")
        return self._current

    def _filtered(
        self, items: list[Any], symbol: str | None, group: str | None, ticket: int | None
    ) -> tuple[Any, ...]:
        if symbol is not None:
            return tuple(i for i in items if i.symbol == symbol)
        if group is not None:
            return tuple(i for i in items if _group_match(group, i.symbol))
        if ticket is not None:
            return tuple(i for i in items if i.ticket == ticket)
        return tuple(items)

    def positions_total(self) -> int:
        return len(self._current.positions) if self._current else 0

    def positions_get(
        self, symbol: str | None = None, group: str | None = None, ticket: int | None = None
    ) -> Any:
        def run() -> Any:
            acc = self._need_account()
            if acc is None:
                return None
            acc.positions = [self._mark(p) for p in acc.positions]
            found = self._filtered(acc.positions, symbol, group, ticket)
            if self._unsettled_reads > 0:
                # Still synchronising: a position that is there on one read and another on the next.
                self._unsettled_reads -= 1
                found += (self._transient_position(9_000_000 + self._unsettled_reads),)
            return self._ok(found)

        return self._call("positions_get", run)

    def _transient_position(self, ticket: int) -> TradePosition:
        now = self.now_server()
        return TradePosition(
            ticket, now, now * 1000, now, now * 1000, 0, 0, ticket, 0, 0.01, 1.08, 0.0, 0.0, 1.08, 0.0,
            0.0, "EURUSD", "", "",
        )  # fmt: skip

    def orders_total(self) -> int:
        return len(self._current.orders) if self._current else 0

    def orders_get(
        self, symbol: str | None = None, group: str | None = None, ticket: int | None = None
    ) -> Any:
        def run() -> Any:
            acc = self._need_account()
            if acc is None:
                return None
            return self._ok(self._filtered(acc.orders, symbol, group, ticket))

        return self._call("orders_get", run)

    def _mark(self, pos: TradePosition) -> TradePosition:
        sym = self._symbols[pos.symbol]
        bid, ask = self._quote(sym)
        current = bid if pos.type == POSITION_TYPE_BUY else ask
        sign = 1.0 if pos.type == POSITION_TYPE_BUY else -1.0
        profit = round(sign * (current - pos.price_open) * pos.volume * sym.contract, 2)
        return pos._replace(price_current=current, profit=profit)

    def _margin(self, symbol: str, volume: float, price: float) -> float:
        sym = self._symbols[symbol]
        notional = volume * sym.contract
        if sym.profit == "USD":
            return round(notional * price / 100.0, 2)
        return round(notional / 100.0, 2)

    def order_calc_margin(self, action: int, symbol: str, volume: float, price: float) -> float | None:
        def run() -> Any:
            if symbol not in self._symbols:
                return self._fail(RES_E_NOT_FOUND, "Terminal: Not found")
            if self._hidden(symbol):
                return None
            if action not in (ORDER_TYPE_BUY, ORDER_TYPE_SELL):
                return self._fail(RES_E_INVALID_PARAMS, "Invalid arguments")
            return self._ok(self._margin(symbol, volume, price))

        return self._call("order_calc_margin", run)

    def order_calc_profit(
        self, action: int, symbol: str, volume: float, price_open: float, price_close: float
    ) -> float | None:
        def run() -> Any:
            sym = self._symbols.get(symbol)
            if sym is None:
                return self._fail(RES_E_NOT_FOUND, "Terminal: Not found")
            if self._hidden(symbol):
                return None
            sign = {ORDER_TYPE_BUY: 1.0, ORDER_TYPE_SELL: -1.0}.get(action)
            if sign is None:
                return self._fail(RES_E_INVALID_PARAMS, "Invalid arguments")
            raw = sign * (price_close - price_open) * volume * sym.contract
            if sym.profit == "JPY":
                raw /= price_close
            return self._ok(round(raw, 2))

        return self._call("order_calc_profit", run)

    # -- trading -----------------------------------------------------------------------------

    def _echo(self, request: dict[str, Any]) -> TradeRequest:
        defaults: dict[str, Any] = {f: 0 for f in TradeRequest._fields}
        defaults.update(volume=0.0, price=0.0, stoplimit=0.0, sl=0.0, tp=0.0, symbol="", comment="")
        defaults.update({k: v for k, v in request.items() if k in defaults})
        return TradeRequest(**defaults)

    def _validate(self, request: Any) -> tuple[int, str] | None:
        """None for malformed requests (last_error set), else (retcode, comment) of the checks."""
        if not isinstance(request, dict):
            return self._fail(RES_E_INVALID_PARAMS, "Invalid arguments")
        comment = request.get("comment", "")
        if not isinstance(comment, str) or len(comment) > 31:
            return self._fail(RES_E_INVALID_PARAMS, 'Invalid "comment" argument')
        action = request.get("action")
        if action != TRADE_ACTION_DEAL:
            return (TRADE_RETCODE_INVALID, "Invalid request")
        if "volume" not in request:
            # The terminal refuses a deal without a volume before it reaches the server.
            return self._fail(RES_E_INVALID_PARAMS, 'Invalid "volume" argument')
        if request.get("position"):
            acc = self._current
            if acc is None or not any(p.ticket == request["position"] for p in acc.positions):
                return (TRADE_RETCODE_POSITION_CLOSED, "Position doesn't exist")
        if request.get("symbol") not in self._symbols or request.get("type") not in (0, 1):
            return (TRADE_RETCODE_INVALID, "Invalid request")
        if self.market_watch_only and request["symbol"] not in self._selected:
            return (TRADE_RETCODE_INVALID, "Invalid request")
        volume = request.get("volume", 0.0)
        if not isinstance(volume, float) or volume < 0.01 or volume > 100.0:
            return (TRADE_RETCODE_INVALID_VOLUME, "Invalid volume")
        return (0, "Done")

    def order_check(self, request: dict[str, Any]) -> OrderCheckResult | None:
        def run() -> Any:
            acc = self._need_account()
            if acc is None:
                return None
            checked = self._validate(request)
            if checked is None:
                return None
            info = self._account_info()
            margin = 0.0
            if checked[0] == 0:
                price = request.get("price") or self._quote(self._symbols[request["symbol"]])[1]
                margin = self._margin(request["symbol"], request["volume"], price)
            used = info.margin + margin
            level = round(info.equity / used * 100.0, 2) if used else 0.0
            return self._ok(
                OrderCheckResult(
                    checked[0],
                    info.balance,
                    info.equity,
                    info.profit,
                    round(used, 2),
                    round(info.equity - used, 2),
                    level,
                    checked[1],
                    self._echo(request),
                )
            )

        return self._call("order_check", run)

    def order_send(self, request: dict[str, Any]) -> OrderSendResult | None:
        return self._call("order_send", lambda: self._send(request))

    def _send(self, request: dict[str, Any]) -> OrderSendResult | None:
        acc = self._need_account()
        if acc is None:
            return None
        checked = self._validate(request)
        if checked is None:
            return None
        self._request_id += 1
        echo = self._echo(request)
        if not self.terminal_trade_allowed or self.tradeapi_disabled:
            # The terminal itself refuses: Algo Trading is off (or the API disabled in its options).
            return self._ok(
                OrderSendResult(
                    TRADE_RETCODE_CLIENT_DISABLES_AT,
                    0,
                    0,
                    0.0,
                    0.0,
                    0.0,
                    0.0,
                    "AutoTrading disabled by client",
                    self._request_id,
                    0,
                    echo,
                )
            )
        if self._read_only:
            # The trade server refuses any trade request of an investor session; nothing executes.
            return self._ok(
                OrderSendResult(
                    TRADE_RETCODE_TRADE_DISABLED,
                    0,
                    0,
                    0.0,
                    0.0,
                    0.0,
                    0.0,
                    "Trade disabled",
                    self._request_id,
                    0,
                    echo,
                )
            )
        if checked[0] != 0:
            return self._ok(
                OrderSendResult(checked[0], 0, 0, 0.0, 0.0, 0.0, 0.0, checked[1], self._request_id, 0, echo)
            )
        sym = self._symbols[echo.symbol]
        bid, ask = self._quote(sym)
        price = ask if echo.type == ORDER_TYPE_BUY else bid
        now = self.now_server()
        order_ticket = self._ticket()
        deal_ticket = self._ticket()
        closing = (
            next((p for p in acc.positions if p.ticket == echo.position), None) if echo.position else None
        )
        if closing is None and acc.margin_mode == ACCOUNT_MARGIN_MODE_RETAIL_NETTING:
            closing = next((p for p in acc.positions if p.symbol == echo.symbol), None)
        if closing is not None and closing.type != echo.type:
            position_id, entry = closing.identifier, DEAL_ENTRY_OUT
            marked = self._mark(closing)
            part = min(echo.volume, closing.volume)
            profit = round(marked.profit * part / closing.volume, 2)
            acc.balance = round(acc.balance + profit, 2)
            left = round(closing.volume - part, 2)
            acc.positions = [p for p in acc.positions if p.ticket != closing.ticket]
            if left > 0:
                acc.positions.append(closing._replace(volume=left))
        else:
            position_id, entry, profit = order_ticket, DEAL_ENTRY_IN, 0.0
            acc.positions.append(
                TradePosition(
                    order_ticket,
                    now,
                    now * 1000,
                    now,
                    now * 1000,
                    echo.type,
                    echo.magic,
                    order_ticket,
                    ORDER_REASON_EXPERT,
                    echo.volume,
                    price,
                    echo.sl,
                    echo.tp,
                    price,
                    0.0,
                    0.0,
                    echo.symbol,
                    echo.comment,
                    "",
                )
            )
        acc.history_orders.append(
            TradeOrder(
                order_ticket,
                now,
                now * 1000,
                now,
                now * 1000,
                0,
                echo.type,
                ORDER_TIME_GTC,
                echo.type_filling,
                ORDER_STATE_FILLED,
                echo.magic,
                position_id,
                0,
                ORDER_REASON_EXPERT,
                echo.volume,
                0.0,
                price,
                echo.sl,
                echo.tp,
                price,
                0.0,
                echo.symbol,
                echo.comment,
                "",
            )
        )
        acc.deals.append(
            TradeDeal(
                deal_ticket,
                order_ticket,
                now,
                now * 1000,
                echo.type,
                entry,
                echo.magic,
                position_id,
                DEAL_REASON_EXPERT,
                echo.volume,
                price,
                0.0,
                0.0,
                profit,
                0.0,
                echo.symbol,
                echo.comment,
                "",
            )
        )
        return self._ok(
            OrderSendResult(
                TRADE_RETCODE_DONE,
                deal_ticket,
                order_ticket,
                echo.volume,
                price,
                bid,
                ask,
                "Request executed",
                self._request_id,
                0,
                echo,
            )
        )

    # -- history --------------------------------------------------------------------------------

    def _history(self, name: str, pick: Any, *args: Any, **kwargs: Any) -> Any:
        def run() -> Any:
            acc = self._need_account()
            if acc is None:
                return None
            items = pick(acc)
            if "ticket" in kwargs:
                key = "order" if name == "history_deals_get" else "ticket"
                return self._ok(tuple(i for i in items if getattr(i, key) == kwargs["ticket"]))
            if "position" in kwargs:
                return self._ok(tuple(i for i in items if i.position_id == kwargs["position"]))
            if len(args) != 2:
                return self._fail(RES_E_INVALID_PARAMS, "Invalid arguments")
            lo, hi = int(args[0]), int(args[1])
            time_of = (lambda i: i.time) if name == "history_deals_get" else (lambda i: i.time_setup)
            found = [i for i in items if lo <= time_of(i) <= hi]
            group = kwargs.get("group")
            if group:
                found = [i for i in found if _group_match(group, i.symbol)]
            return self._ok(tuple(found))

        return self._call(name, run)

    def history_deals_get(self, *args: Any, **kwargs: Any) -> Any:
        return self._history("history_deals_get", lambda a: a.deals, *args, **kwargs)

    def history_orders_get(self, *args: Any, **kwargs: Any) -> Any:
        return self._history("history_orders_get", lambda a: a.history_orders, *args, **kwargs)


# Every module constant is also an attribute of the fake terminal, as the package exposes them.
for _name, _value in list(globals().items()):
    if _name.isupper():
        setattr(FakeMT5, _name, _value)


def _group_match(group: str, name: str) -> bool:
    """MT5's group masks: comma-separated, `*` wildcards, `!` excludes; later masks win."""
    import fnmatch

    included = False
    for mask in (m.strip() for m in group.split(",")):
        if not mask:
            continue
        if mask.startswith("!"):
            if fnmatch.fnmatchcase(name, mask[1:]):
                included = False
        elif fnmatch.fnmatchcase(name, mask):
            included = True
    return included


def _timeframe_seconds(timeframe: int) -> int | None:
    if 1 <= timeframe <= 30:
        return timeframe * 60
    if timeframe & 0xC000 == 0x4000:
        return (timeframe & 0x3FFF) * 3600
    if timeframe & 0xC000 == 0x8000:
        return (timeframe & 0x3FFF) * 7 * 86400
    return None


# ---- the module face: functions of one default terminal ---------------------------------------

_DEFAULT = FakeMT5()
__version__ = "5.0.5735"
__author__ = "MetaQuotes Ltd."


def __getattr__(name: str) -> Any:
    return getattr(_DEFAULT, name)
