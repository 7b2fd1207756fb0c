"""The terminal agent: protocol v3 over HTTP/JSON in front of one MetaTrader 5 terminal.

Every terminal call runs behind one lock because the MetaTrader5 package fails concurrent calls
('Terminal: Call failed'); the expected-session check runs under the same lock as the call it guards,
so no login can slip in between. Structures leave as JSON objects with MT5's field names, enums as ints.

A session is (login, server, session_tag): the tag is an opaque value the bridge derives from the
credential, so a terminal logged in with one password (say the master one) never serves a request made
for another credential of the same login (the read-only investor password, an old password). The agent
only remembers the tag of its last successful login and compares it; it never logs it.

With a ledger (ledger.py), every `order_send` is recorded under its `client_id` before it reaches the
terminal, and its answer after: a repeated id replays the answer instead of executing again, and the
`ledger` operation tells a bridge what became of an order whose answer it lost.
"""

from __future__ import annotations

import hmac
import io
import json
import logging
import math
import re
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable, Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .backend import LinkLost, ReconnectingMt5
from .ledger import FRESH, IN_DOUBT, OTHER_SESSION, REPLAY, SETTLED, Ledger, LedgerUnusable, Session

PROTOCOL_VERSION = "3"
LOG = logging.getLogger("mt5_agent")

# The longest body accepted: requests are small, anything larger is a mistake or abuse.
MAX_BODY_BYTES = 1 << 20
# A client connection that is idle, or sends its request (line, headers, body) this slowly, is closed:
# a client that connects and says nothing, or trickles bytes, cannot hold a handler thread forever.
IDLE_TIMEOUT_S = 30.0
# Polling period while waiting for an account to settle after login.
LOGIN_POLL_S = 0.25
# A login is usable once positions, orders and the day's deals read the same this many times in a row:
# after login() returns the terminal still downloads the account's trades (MT5_REFERENCE §2.2).
SETTLE_READS = 3
# Trade servers run up to this far from UTC: "the day's deals" are those of the last 24 hours on any
# server clock (the offset is not known until the account's first tick).
_MAX_SERVER_OFFSET_S = 14 * 3600
DEFAULT_LOGIN_TIMEOUT_MS = 60_000
# How far ahead of this machine's clock a lease may be, in microseconds. A bridge's lease is at most its
# Redis's clock in microseconds plus the leases issued since, so a day covers any clock skew and owner
# changes; a larger one is forged or broken, and taking it as the newest would lock every bridge replica
# out of this terminal until the agent restarts.
MAX_LEASE_AHEAD_US = 86_400 * 1_000_000
# Terminals reject longer comments or odd characters before the order reaches the server.
COMMENT_MAX = 27
_COMMENT_DROP = re.compile(r"[^A-Za-z0-9 _.\-]")
# The bridge's session tags: 64 lower-case hex characters (an HMAC-SHA256), nothing else.
_SESSION_TAG = re.compile(r"[0-9a-f]{64}")
# last_error code of arguments MT5 refused before doing anything (RES_E_INVALID_PARAMS); its messages
# name the argument in double quotes when they name one: 'Invalid "volume" argument'.
_INVALID_PARAMS = -2
_ARGUMENT_NAME = re.compile(r'"([^"]+)"')
# last_error codes that mean the IPC link to the terminal is gone (RES_E_INTERNAL_FAIL*).
_IPC_TIMEOUT = -10005
_IPC_LOST = {-10000, -10001, -10002, -10003, -10004}
# Fields of the package's TradeRequest and the JSON type each must have.
_REQUEST_INT = (
    "action",
    "magic",
    "order",
    "deviation",
    "type",
    "type_filling",
    "type_time",
    "expiration",
    "position",
    "position_by",
)
_REQUEST_FLOAT = ("volume", "price", "stoplimit", "sl", "tp")
_REQUEST_STR = ("symbol", "comment")
# How many Market Watch symbols to sample when estimating the server clock offset.
_OFFSET_SAMPLE = 50
_QUARTER_HOUR = 900
# A client_id as the protocol carries it (the bridge's are 12 characters).
_CLIENT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
# The most client ids one `ledger` call looks up.
LEDGER_QUERY_MAX = 100
# last_error code of a terminal whose algo trading is off: refused before anything was sent.
_AUTO_TRADING_DISABLED = -8


class AgentError(Exception):
    """A protocol error: HTTP status, error code and the optional MT5 details."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        last_error: tuple[int, str] | None = None,
        actual: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.last_error = last_error
        self.actual = actual
        # Fields only some codes carry (invalid_argument: mt5_code, field), after the common four.
        self.extra = extra or {}

    def body(self) -> dict[str, Any]:
        last = [self.last_error[0], self.last_error[1]] if self.last_error else None
        error: dict[str, Any] = {
            "code": self.code,
            "message": self.message,
            "last_error": last,
            "actual": self.actual,
        }
        error.update(self.extra)
        return {"error": error}


def bad_request(message: str) -> AgentError:
    return AgentError(400, "bad_request", message)


def session_tag(args: Mapping[str, Any], name: str = "session_tag") -> str:
    """The required `session_tag` of a login or an `expected`; the value is never echoed or logged.

    The agent does not compute or verify tags (only the bridge holds the key), it only compares them;
    the strict form still catches a caller that sends something else, such as a password.
    """
    tag = args.get("session_tag")
    # fullmatch, not `$`: a trailing newline must not pass.
    if not isinstance(tag, str) or _SESSION_TAG.fullmatch(tag) is None:
        raise bad_request(f"{name!r} must be 64 lower-case hex characters")
    return tag


def invalid_argument(what: str, last: tuple[int, str]) -> AgentError:
    """MT5 refused an argument (-2) before doing anything: `422 invalid_argument`, naming the argument.

    `field` is the name MT5's message quotes ('Invalid "volume" argument' -> "volume"), else "request"
    ('Invalid arguments', 'Unnamed arguments not allowed'): the bridge answers its caller 422 with it.
    """
    named = _ARGUMENT_NAME.search(last[1])
    field_name = named.group(1) if named else "request"
    return AgentError(
        422,
        "invalid_argument",
        f"{what}: {last[1]}",
        last,
        extra={"mt5_code": last[0], "field": field_name},
    )


def same_server(a: str, b: str) -> bool:
    """Trade server names compare ignoring case and surrounding whitespace: terminals report the name
    as the broker spells it, which need not be how the bridge's account record spells it."""
    return a.strip().casefold() == b.strip().casefold()


def same_account(a: tuple[int, str], b: tuple[int, str]) -> bool:
    return a[0] == b[0] and same_server(a[1], b[1])


def truncate_comment(comment: str) -> str:
    """Keeps the characters every terminal accepts, at most 27 of them."""
    return _COMMENT_DROP.sub("", comment)[:COMMENT_MAX]


def to_json(value: Any) -> Any:
    """Converts MT5 results (namedtuples, numpy records and scalars, rpyc proxies) to plain JSON values.

    A non-finite float (terminals report NaN or infinity where they have no value, e.g. a price
    statistic of a symbol that never traded) becomes null: JSON has no such numbers, and `NaN` tokens
    break strict parsers such as the bridge's. Enum fields stay the integers MT5 gave, known or not."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    as_dict = getattr(value, "_asdict", None)
    if callable(as_dict):
        return {str(k): to_json(v) for k, v in dict(as_dict()).items()}
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    dtype = getattr(value, "dtype", None)
    names = getattr(dtype, "names", None) if dtype is not None else None
    if names:
        # A numpy structured array (rates): one object per row, in MT5's column order.
        return [{name: to_json(row[i]) for i, name in enumerate(names)} for row in value]
    item = getattr(value, "item", None)
    if callable(item):
        return to_json(item())
    if isinstance(value, (bytes, bytearray)):
        return value.decode("utf-8", "replace")
    if isinstance(value, (list, tuple)) or hasattr(value, "__iter__"):
        return [to_json(v) for v in value]
    return str(value)


# ---------------------------------------------------------------------------------------------
# Argument parsing


def _get(args: Mapping[str, Any], key: str, kind: str, required: bool) -> Any:
    if key not in args or args[key] is None:
        if required:
            raise bad_request(f"missing argument {key!r}")
        return None
    value = args[key]
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad_request(f"argument {key!r} must be an integer")
        return value
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad_request(f"argument {key!r} must be a number")
        return float(value)
    if kind == "str":
        if not isinstance(value, str):
            raise bad_request(f"argument {key!r} must be a string")
        return value
    raise bad_request(f"argument {key!r} has an unknown kind")


def req_int(args: Mapping[str, Any], key: str) -> int:
    return int(_get(args, key, "int", True))


def req_float(args: Mapping[str, Any], key: str) -> float:
    return float(_get(args, key, "float", True))


def req_str(args: Mapping[str, Any], key: str) -> str:
    return str(_get(args, key, "str", True))


def opt_int(args: Mapping[str, Any], key: str) -> int | None:
    value = _get(args, key, "int", False)
    return None if value is None else int(value)


def opt_str(args: Mapping[str, Any], key: str) -> str | None:
    value = _get(args, key, "str", False)
    return None if value is None else str(value)


def parse_trade_request(args: Mapping[str, Any]) -> dict[str, Any]:
    """Validates a TradeRequest object and returns the dict to hand to MT5 (comment made safe)."""
    raw = args.get("request")
    if not isinstance(raw, dict):
        raise bad_request("argument 'request' must be an object")
    known = set(_REQUEST_INT) | set(_REQUEST_FLOAT) | set(_REQUEST_STR)
    unknown = sorted(set(raw) - known)
    if unknown:
        raise bad_request(f"unknown request fields: {', '.join(unknown)}")
    request: dict[str, Any] = {}
    for key in _REQUEST_INT:
        value = opt_int(raw, key)
        if value is not None:
            request[key] = value
    for key in _REQUEST_FLOAT:
        if raw.get(key) is not None:
            request[key] = float(_get(raw, key, "float", True))
    for key in _REQUEST_STR:
        value = opt_str(raw, key)
        if value is not None:
            request[key] = value
    if "action" not in request:
        raise bad_request("request.action is required")
    if "comment" in request:
        request["comment"] = truncate_comment(request["comment"])
    return request


def _one_filter(args: Mapping[str, Any]) -> dict[str, Any]:
    """The symbol/group/ticket filter of positions and orders: at most one of them."""
    given: dict[str, Any] = {}
    symbol = opt_str(args, "symbol")
    group = opt_str(args, "group")
    ticket = opt_int(args, "ticket")
    if symbol is not None:
        given["symbol"] = symbol
    if group is not None:
        given["group"] = group
    if ticket is not None:
        given["ticket"] = ticket
    if len(given) > 1:
        raise bad_request("give at most one of 'symbol', 'group', 'ticket'")
    return given


# ---------------------------------------------------------------------------------------------
# The agent


class Agent:
    """One terminal behind one lock. `mt5` is the MetaTrader5 module or an object with its API."""

    def __init__(
        self,
        mt5: Any,
        token: str,
        *,
        terminal_path: str | None = None,
        agent_name: str = "python",
        lock_timeout_s: float = 120.0,
        login_poll_s: float = LOGIN_POLL_S,
        ledger: Ledger | None = None,
    ) -> None:
        if not token:
            raise ValueError("the agent needs a non-empty token")
        self._mt5 = mt5
        self._token = token.encode("utf-8")
        self._terminal_path = terminal_path
        self._agent_name = agent_name
        self._lock_timeout_s = lock_timeout_s
        self._login_poll_s = login_poll_s
        self._lock = threading.Lock()
        # The ledger of the orders this agent was given; None (tests only): orders run without one.
        self._ledger = ledger
        self._initialized = False
        # MT5 cannot log out: after /v1/logout the agent refuses every account until the next login.
        self._logged_out = False
        # The account last seen, reported by /v1/health while the terminal is busy.
        self._known: tuple[int, str] | None = None
        # terminal_info()'s connected/trade_allowed/tradeapi_disabled as last read (health), or None.
        self._terminal_flags: dict[str, bool] | None = None
        # (login, server, session_tag) of the last successful login, while the terminal still shows that
        # account; None before any, from the start of every login attempt, after logout, and once the
        # terminal shows another account (logged in by hand). Changed only under the lock.
        self._session: tuple[int, str, str] | None = None
        # The newest lease (fencing token) seen; read and changed only under the lock.
        self._fence: int | None = None
        self._operations: dict[str, Callable[[Mapping[str, Any]], Any]] = {
            "account_info": self._op_account_info,
            "symbols": self._op_symbols,
            "symbol_info": self._op_symbol_info,
            "symbol_info_tick": self._op_symbol_info_tick,
            "copy_rates": self._op_copy_rates,
            "positions": self._op_positions,
            "orders": self._op_orders,
            "order_calc_margin": self._op_order_calc_margin,
            "order_calc_profit": self._op_order_calc_profit,
            "order_check": self._op_order_check,
            "order_send": self._op_order_send,
            "history_deals": self._op_history_deals,
            "history_orders": self._op_history_orders,
            "server_time_offset": self._op_server_time_offset,
            "ledger": self._op_ledger_unlocked,
        }

    def __repr__(self) -> str:
        return f"Agent(agent={self._agent_name!r}, terminal_path={self._terminal_path!r})"

    # -- auth ---------------------------------------------------------------------------------

    def authorized(self, header: str | None) -> bool:
        """Constant-time check of an `Authorization: Bearer <token>` header."""
        scheme, _, credentials = (header or "").partition(" ")
        if scheme.lower() != "bearer":
            return False
        return hmac.compare_digest(credentials.strip().encode("utf-8"), self._token)

    # -- terminal access ------------------------------------------------------------------------

    def _acquire(self) -> None:
        if not self._lock.acquire(timeout=self._lock_timeout_s):
            raise AgentError(504, "timeout", "the terminal stayed busy past the deadline")

    def _last_error(self) -> tuple[int, str]:
        try:
            code, message = self._mt5.last_error()
            return int(code), str(message)
        except (ConnectionError, EOFError, OSError) as exc:
            # The link died between a call and its last_error: as lost as it gets.
            self._drop_link(type(exc).__name__)
            return (-10004, "No IPC connection")
        except Exception:  # noqa: BLE001 - a dead proxy must not hide the original failure
            return (-10004, "No IPC connection")

    def _failure(self, what: str) -> AgentError:
        """Maps the terminal's last_error after a None/False answer to a protocol error."""
        last = self._last_error()
        if last[0] == _IPC_TIMEOUT:
            self._initialized = False
            return AgentError(504, "timeout", f"{what}: the terminal did not answer", last)
        if last[0] in _IPC_LOST:
            self._initialized = False
            return AgentError(503, "not_connected", f"{what}: no connection to the terminal", last)
        if last[0] == _INVALID_PARAMS:
            return invalid_argument(what, last)
        return AgentError(422, "mt5_error", f"{what} failed: {last[1]}", last)

    def _ensure_initialized(self) -> None:
        """(Re)attaches to the terminal; must hold the lock."""
        if self._initialized:
            return
        try:
            ok = self._mt5.initialize(self._terminal_path) if self._terminal_path else self._mt5.initialize()
        except (ConnectionError, EOFError, OSError) as exc:  # e.g. the mt5linux server is down
            # Whatever session the agent held ends with the link, as in _guarded.
            self._drop_link(type(exc).__name__)
            detail = str(exc) if isinstance(exc, LinkLost) else type(exc).__name__
            raise AgentError(503, "not_connected", f"cannot reach the terminal: {detail}") from exc
        except Exception as exc:  # e.g. the far side cannot import MetaTrader5
            raise AgentError(
                503, "not_connected", f"cannot reach the terminal: {type(exc).__name__}"
            ) from exc
        if not ok:
            last = self._last_error()
            raise AgentError(503, "not_connected", "cannot attach to the terminal", last)
        self._initialized = True

    def _guarded(self, fn: Callable[[], Any]) -> Any:
        """Runs fn under the terminal lock, attached; proxy failures become not_connected."""
        self._acquire()
        try:
            self._ensure_initialized()
            try:
                return fn()
            except AgentError:
                raise
            except TimeoutError as exc:
                # The backend gave up on a call it had started (mt5linux's per-call timeout): `timeout`,
                # never `deadline_exceeded`, which tells the bridge nothing was sent. The link is rebuilt.
                self._drop_link(type(exc).__name__)
                raise AgentError(
                    504, "timeout", f"the terminal did not answer ({exc}): the call's outcome is unknown"
                ) from exc
            except (ConnectionError, EOFError, OSError) as exc:
                self._drop_link(type(exc).__name__)
                # The backend's own message names the call; others could say anything, so only the type.
                detail = str(exc) if isinstance(exc, LinkLost) else type(exc).__name__
                raise AgentError(503, "not_connected", f"lost the terminal: {detail}") from exc
        finally:
            self._lock.release()

    def _drop_link(self, why: str) -> None:
        """Under the lock: the backend's link failed (an mt5linux/RPyC connection dropped). The next call
        attaches again with initialize, and the session ends: the far side may have restarted, and what
        the terminal holds after that is not what the agent logged it in with, so the bridge logs in
        again rather than the guard assuming the old login."""
        self._initialized = False
        self._known = None
        self._terminal_flags = None
        if self._session is not None:
            LOG.warning("lost the link to the terminal (%s): session dropped", why)
        self._session = None
        if isinstance(self._mt5, ReconnectingMt5):
            # The failure may have come from reading a remote answer after its call returned, which the
            # backend did not see: the next call must not reuse that link.
            self._mt5.drop_link(why)

    def initialize(self) -> bool:
        """Attaches to the terminal at start-up; False (logged) if it is not there yet."""
        try:
            self._guarded(lambda: None)
            return True
        except AgentError as err:
            LOG.warning("terminal not available yet: %s %s", err.message, err.last_error)
            return False

    # -- protocol entry points ----------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "connected": False,
            "login": None,
            "server": None,
            "agent": self._agent_name,
            "version": PROTOCOL_VERSION,
            "session_tag": None,
        }
        # Health must answer while a long call holds the terminal: then it reports the last state seen.
        if not self._lock.acquire(timeout=0.5):
            body["connected"] = self._initialized
            known = self._known
        else:
            try:
                known = self._read_health()
                body["connected"] = True
            except AgentError:
                known = None
                self._terminal_flags = None
            except (ConnectionError, EOFError, OSError) as exc:
                self._drop_link(type(exc).__name__)
                known = None
            finally:
                self._lock.release()
        # The terminal's own state (not the agent's link to it, which `connected` above reports): its
        # connection to the trade server and whether it lets the API trade; null when unread.
        body["terminal_info"] = self._terminal_flags
        if known is not None:
            body["login"], body["server"] = known
            # The tag only while the terminal shows the session's account (read once: no lock here).
            session = self._session
            if session is not None and same_account((session[0], session[1]), known):
                body["session_tag"] = session[2]
        if self._fence is not None:
            body["lease"] = self._fence
        if self._ledger is not None:
            body["ledger"] = self._ledger.health()
        return body

    def _read_health(self) -> tuple[int, str] | None:
        """The logged-in account, under the lock; AgentError when the terminal is unreachable."""
        self._ensure_initialized()
        self._terminal_flags = self._read_terminal_flags()
        info = self._mt5.account_info()
        if info is None:
            last = self._last_error()
            if last[0] in _IPC_LOST or last[0] == _IPC_TIMEOUT:
                raise self._failure("account_info")
            self._known = None
        elif self._logged_out:
            self._known = None
        else:
            self._observe(info)
        return self._known

    def _read_terminal_flags(self) -> dict[str, bool] | None:
        """terminal_info()'s connected, trade_allowed and tradeapi_disabled; None if it answers nothing."""
        terminal = self._mt5.terminal_info()
        if terminal is None:
            last = self._last_error()
            if last[0] in _IPC_LOST or last[0] == _IPC_TIMEOUT:
                raise self._failure("terminal_info")
            return None
        return {
            "connected": bool(terminal.connected),
            "trade_allowed": bool(terminal.trade_allowed),
            "tradeapi_disabled": bool(terminal.tradeapi_disabled),
        }

    def _observe(self, info: Any) -> tuple[int, str]:
        """Under the lock: records the account MT5 shows; another account than the session's ends it."""
        actual = (int(info.login), str(info.server))
        self._known = actual
        session = self._session
        if session is not None and not same_account((session[0], session[1]), actual):
            # Someone logged the terminal in elsewhere (by hand, another tool): whatever credential that
            # was, the tag the agent remembers no longer describes the terminal.
            LOG.warning(
                "the terminal shows %s on %s, not the session's %s on %s: session dropped",
                actual[0],
                actual[1],
                session[0],
                session[1],
            )
            self._session = None
        return actual

    @staticmethod
    def _lease(body: Mapping[str, Any]) -> int | None:
        """The request's lease, checked before the lock: one no bridge can have issued is refused here,
        so it neither runs nor becomes the newest."""
        lease = body.get("lease")
        if lease is not None and (isinstance(lease, bool) or not isinstance(lease, int) or lease < 0):
            raise bad_request("'lease' must be a non-negative integer or null")
        if lease is not None and lease > time.time_ns() // 1000 + MAX_LEASE_AHEAD_US:
            ahead_s = MAX_LEASE_AHEAD_US // 10**6
            LOG.warning("refused lease %d: more than %d s ahead of this agent's clock", lease, ahead_s)
            raise AgentError(
                422,
                "invalid_lease",
                f"lease {lease} is more than {ahead_s} s ahead of this agent's clock: no bridge issues it",
            )
        return lease

    def _check_fence(self, lease: int | None) -> None:
        """Under the lock: a lease older than the newest seen belongs to a replica that lost the terminal."""
        if lease is None:
            return
        if self._fence is not None and lease < self._fence:
            raise AgentError(
                409,
                "stale_lease",
                f"lease {lease} is older than lease {self._fence}: another bridge replica holds this terminal",
            )
        self._fence = lease

    def login(self, args: Mapping[str, Any]) -> dict[str, Any]:
        lease = self._lease(args)
        login = req_int(args, "login")
        password = req_str(args, "password")
        server = req_str(args, "server")
        tag = session_tag(args)
        timeout_ms = opt_int(args, "timeout_ms")
        if timeout_ms is None:
            timeout_ms = DEFAULT_LOGIN_TIMEOUT_MS
        if timeout_ms <= 0:
            raise bad_request("timeout_ms must be positive")
        deadline = time.monotonic() + timeout_ms / 1000.0

        def run() -> dict[str, Any]:
            self._check_fence(lease)
            # Whatever happens next, the terminal no longer holds the old session for sure: a refused
            # login may leave it disconnected or on the new login unauthorized.
            self._session = None
            LOG.info("login %s on %s", login, server)
            if not self._mt5.login(login, password=password, server=server, timeout=timeout_ms):
                err = self._failure("login")
                LOG.info("login %s on %s refused: %s", login, server, err.last_error)
                raise err
            info = self._wait_usable(login, deadline, self._login_poll_s)
            self._logged_out = False
            self._known = (int(info.login), str(info.server))
            self._session = (login, server, tag)
            LOG.info("logged in %s on %s", login, server)
            return {"account_info": to_json(info)}

        return self._guarded(run)

    def _wait_usable(self, login: int, deadline: float, poll_s: float) -> Any:
        """Polls until the terminal is usable on `login`: account_info names it, terminal_info says it
        is connected to its trade server, and its positions, orders and the day's deals read the same
        SETTLE_READS times in a row. Returns the last account_info; 504 timeout past the deadline."""
        previous: tuple[Any, ...] | None = None
        same = 0
        while True:
            info, state, waiting = self._usable_state(login)
            if state is None:
                previous, same = None, 0
            elif state == previous:
                same += 1
            else:
                previous, same = state, 1
            if same >= SETTLE_READS:
                return info
            if time.monotonic() + poll_s > deadline:
                if state is not None:
                    waiting = "its positions, orders and deals to stop changing"
                raise AgentError(
                    504, "timeout", f"account {login} did not settle in time: waiting for {waiting}"
                )
            time.sleep(poll_s)

    def _usable_state(self, login: int) -> tuple[Any, tuple[Any, ...] | None, str]:
        """One look at the terminal after a login: (account_info, what must stop changing, None if not
        usable yet, what it waits for). A lost terminal raises (503/504) instead of waiting it out."""
        info = self._mt5.account_info()
        if info is None:
            self._raise_if_lost("account_info")
            return info, None, "account_info to answer"
        if int(info.login) != login:
            # Right after login() the terminal can still show the previous account.
            return info, None, f"account_info to show {login}, not {int(info.login)}"
        terminal = self._mt5.terminal_info()
        if terminal is None:
            self._raise_if_lost("terminal_info")
            return info, None, "terminal_info to answer"
        if not terminal.connected:
            return info, None, "the terminal to connect to its trade server"
        positions = self._mt5.positions_get()
        orders = self._mt5.orders_get()
        now = int(time.time())
        deals = self._mt5.history_deals_get(now - 86_400 - _MAX_SERVER_OFFSET_S, now + _MAX_SERVER_OFFSET_S)
        if positions is None or orders is None or deals is None:
            self._raise_if_lost("positions_get/orders_get/history_deals_get")
            return info, None, "positions, orders and deals to answer"
        # What only trading changes: not profits or current prices, which move with every tick.
        state = (
            tuple(
                sorted(
                    (int(p.ticket), int(p.type), float(p.volume), float(p.sl), float(p.tp)) for p in positions
                )
            ),
            tuple(
                sorted(
                    (
                        int(o.ticket),
                        int(o.state),
                        float(o.volume_current),
                        float(o.price_open),
                        float(o.sl),
                        float(o.tp),
                    )
                    for o in orders
                )
            ),
            tuple(sorted(int(d.ticket) for d in deals)),
        )
        return info, state, ""

    def _raise_if_lost(self, what: str) -> None:
        """After a None answer: raise if the link to the terminal is gone, else return (keep waiting)."""
        last = self._last_error()
        if last[0] in _IPC_LOST or last[0] == _IPC_TIMEOUT:
            raise self._failure(what)

    def logout(self, body: Mapping[str, Any] | None = None) -> dict[str, Any]:
        lease = self._lease(body or {})

        # MT5 has no log-out call: the terminal stays connected, but the agent acts for no account
        # (every call is wrong_account) until the next successful login.
        def run() -> dict[str, Any]:
            self._check_fence(lease)
            self._logged_out = True
            self._known = None
            self._session = None
            LOG.info("logged out")
            return {}

        return self._guarded(run)

    def has_operation(self, operation: str) -> bool:
        return operation in self._operations

    def call(self, operation: str, body: Mapping[str, Any]) -> dict[str, Any]:
        handler = self._operations.get(operation)
        if handler is None:
            raise AgentError(404, "unknown_operation", f"unknown operation {operation!r}")
        expected = body.get("expected")
        if not isinstance(expected, dict):
            raise bad_request("'expected' must be an object with login, server and session_tag")
        want_login = req_int(expected, "login")
        want_server = req_str(expected, "server")
        want_tag = session_tag(expected, "expected.session_tag")
        lease = self._lease(body)
        # The budget counts from receipt on this process's monotonic clock (clocks need not agree).
        deadline_ms = body.get("deadline_ms")
        if deadline_ms is not None and (
            isinstance(deadline_ms, bool) or not isinstance(deadline_ms, int) or deadline_ms < 0
        ):
            raise bad_request("'deadline_ms' must be a non-negative integer or absent")
        deadline = None if deadline_ms is None else time.monotonic() + deadline_ms / 1000.0
        args = body.get("args", {})
        if args is None:
            args = {}
        if not isinstance(args, dict):
            raise bad_request("'args' must be an object")
        if operation == "ledger":
            # No lease, no terminal, no login: only the ledger's own lock.
            return {"result": self._ledger_query(Session(want_login, want_server, want_tag), args)}
        client_id: str | None = None
        if operation == "order_send" and self._ledger is not None:
            client_id = body.get("client_id")
            if client_id is None:
                raise bad_request("order_send needs a client_id (protocol v3)")
            if not isinstance(client_id, str) or not _CLIENT_ID.fullmatch(client_id):
                raise bad_request("client_id must be 1 to 64 characters from A-Za-z0-9_-")
        if client_id is not None:
            ledgered_id = client_id
            session = Session(want_login, want_server, want_tag)

            def send_ledgered(call_args: Mapping[str, Any]) -> Any:
                return self._order_send_ledgered(call_args, ledgered_id, session)

            handler = send_ledgered

        def run() -> dict[str, Any]:
            # Under the lock, before any MT5 call: past the deadline nothing starts ("not sent").
            if deadline is not None and time.monotonic() >= deadline:
                raise AgentError(
                    504, "deadline_exceeded", "the call's deadline passed before it started: nothing was sent"
                )
            self._check_fence(lease)
            self._check_session(want_login, want_server, want_tag)
            return {"result": handler(args)}

        return self._guarded(run)

    def _ledger_query(self, session: Session, args: Mapping[str, Any]) -> Any:
        ids = args.get("client_ids")
        if not isinstance(ids, list) or not 1 <= len(ids) <= LEDGER_QUERY_MAX:
            raise bad_request(f"args.client_ids must be a list of 1 to {LEDGER_QUERY_MAX} ids")
        if not all(isinstance(i, str) and _CLIENT_ID.fullmatch(i) for i in ids):
            raise bad_request("each client_id must be 1 to 64 characters from A-Za-z0-9_-")
        if self._ledger is None:
            raise AgentError(503, "ledger_unavailable", "this agent keeps no ledger")
        try:
            return self._ledger.query(session, list(ids))
        except LedgerUnusable as exc:
            raise _ledger_unavailable(str(exc)) from exc

    def _op_ledger_unlocked(self, args: Mapping[str, Any]) -> Any:
        # Never reached: `call` answers `ledger` before taking the terminal.
        raise AgentError(404, "unknown_operation", "ledger runs without the terminal")

    def _order_send_ledgered(self, args: Mapping[str, Any], client_id: str, session: Session) -> Any:
        """order_send under the terminal lock, session checked, through the ledger: a `received` row
        committed before MT5 sees the request, the answer stored after; an id already answered replays
        its answer without executing again."""
        assert self._ledger is not None
        # Refusals before the ledger (a malformed request, a symbol that cannot be selected) leave no row:
        # nothing ran, and a later query says `never_received`, which is the truth.
        request = parse_trade_request(args)
        self._select_for(request)
        try:
            decision, stored = self._ledger.begin(client_id, session)
        except LedgerUnusable as exc:
            raise _ledger_unavailable(str(exc)) from exc
        if decision == REPLAY and stored is not None:
            LOG.info("order_send %s replayed from the ledger", client_id)
            return _replayed(stored)
        if decision == SETTLED:
            raise AgentError(
                409,
                "client_id_settled",
                "this client_id was settled as never received: the order is refused and was not sent",
            )
        if decision == OTHER_SESSION:
            raise bad_request("this client_id was used by another session")
        if decision == IN_DOUBT:
            raise AgentError(
                504,
                "timeout",
                "an order_send with this client_id was received before and never answered: "
                "its outcome is unknown",
            )
        assert decision == FRESH
        LOG.info(
            "order_send %s action=%s type=%s symbol=%s volume=%s position=%s",
            client_id,
            request.get("action"),
            request.get("type"),
            request.get("symbol"),
            request.get("volume"),
            request.get("position"),
        )
        try:
            result = self._mt5.order_send(request)
        except BaseException:
            self._ledger.interrupted(client_id)
            raise
        if result is None or result is False:
            err = self._failure("order_send")
            code = err.last_error[0] if err.last_error else None
            if code in (_INVALID_PARAMS, _AUTO_TRADING_DISABLED):
                # MT5 refused before anything left the terminal: the same answer every time.
                self._ledger.answered(client_id, {"status": err.status, "error": err.body()["error"]})
            else:
                self._ledger.interrupted(client_id)
            raise err
        try:
            answer = to_json(result)
        except BaseException:
            self._ledger.interrupted(client_id)
            raise
        self._ledger.answered(client_id, {"status": 200, "result": answer})
        return answer

    def _check_session(self, login: int, server: str, tag: str) -> None:
        """Under the lock: MT5 shows the expected account and the agent's session is the expected one.

        `actual` in a refusal is the account MT5 shows, never a tag: the tag stands for a credential.
        """
        if self._logged_out:
            raise AgentError(409, "wrong_account", "the agent is logged out")
        info = self._mt5.account_info()
        if info is None:
            last = self._last_error()
            if last[0] in _IPC_LOST or last[0] == _IPC_TIMEOUT:
                raise self._failure("account_info")
            raise AgentError(409, "wrong_account", "the terminal is not logged in", last_error=last)
        shown = self._observe(info)
        actual = {"login": shown[0], "server": shown[1]}
        if not same_account(shown, (login, server)):
            raise AgentError(
                409,
                "wrong_account",
                f"the terminal is logged in to {shown[0]} on {shown[1]}",
                actual=actual,
            )
        session = self._session
        if session is None:
            raise AgentError(
                409,
                "wrong_account",
                f"the terminal shows {login} on {server} but the agent holds no session for it: log in",
                actual=actual,
            )
        # Compared in constant time, as the tag stands for a credential.
        if not same_account((session[0], session[1]), (login, server)) or not hmac.compare_digest(
            session[2], tag
        ):
            raise AgentError(
                409,
                "wrong_account",
                f"the terminal's session on {login} was opened with another credential",
                actual=actual,
            )

    # -- operations (run under the lock, account checked) -------------------------------------

    def _answer(self, value: Any, what: str) -> Any:
        if value is None or value is False:
            raise self._failure(what)
        return to_json(value)

    def _select(self, symbol: str) -> None:
        # Info, ticks, bars, calculations and orders need the symbol in Market Watch: a terminal answers
        # None (or an invalid request) for one outside it, so a broker symbol nobody added by hand would
        # fail its first call. Selecting is idempotent and also reports unknown symbols (-4).
        if not self._mt5.symbol_select(symbol, True):
            raise self._failure(f"symbol_select {symbol}")

    def _select_for(self, request: Mapping[str, Any]) -> None:
        # Modify, remove and SL/TP requests may name no symbol: nothing to select then.
        symbol = request.get("symbol")
        if symbol:
            self._select(str(symbol))

    def _op_account_info(self, args: Mapping[str, Any]) -> Any:
        return self._answer(self._mt5.account_info(), "account_info")

    def _op_symbols(self, args: Mapping[str, Any]) -> Any:
        group = opt_str(args, "group")
        found = self._mt5.symbols_get(group=group) if group else self._mt5.symbols_get()
        return self._answer(found, "symbols_get")

    def _op_symbol_info(self, args: Mapping[str, Any]) -> Any:
        symbol = req_str(args, "symbol")
        self._select(symbol)
        return self._answer(self._mt5.symbol_info(symbol), f"symbol_info {symbol}")

    def _op_symbol_info_tick(self, args: Mapping[str, Any]) -> Any:
        symbol = req_str(args, "symbol")
        self._select(symbol)
        return self._answer(self._mt5.symbol_info_tick(symbol), f"symbol_info_tick {symbol}")

    def _op_copy_rates(self, args: Mapping[str, Any]) -> Any:
        symbol = req_str(args, "symbol")
        timeframe = req_int(args, "timeframe")
        mode = req_str(args, "mode")
        if mode == "from_pos":
            start, count = req_int(args, "start"), req_int(args, "count")
            if start < 0 or count < 0:
                raise bad_request("start and count must not be negative")
            self._select(symbol)
            rates = self._mt5.copy_rates_from_pos(symbol, timeframe, start, count)
        elif mode == "from":
            date_from, count = req_int(args, "date_from"), req_int(args, "count")
            if count < 0:
                raise bad_request("count must not be negative")
            self._select(symbol)
            rates = self._mt5.copy_rates_from(symbol, timeframe, date_from, count)
        elif mode == "range":
            date_from, date_to = req_int(args, "date_from"), req_int(args, "date_to")
            self._select(symbol)
            rates = self._mt5.copy_rates_range(symbol, timeframe, date_from, date_to)
        else:
            raise bad_request("mode must be 'from_pos', 'from' or 'range'")
        return self._answer(rates, f"copy_rates {symbol}")

    def _op_positions(self, args: Mapping[str, Any]) -> Any:
        found = self._filtered_get(self._mt5.positions_get, _one_filter(args))
        return self._answer(found, "positions_get")

    def _op_orders(self, args: Mapping[str, Any]) -> Any:
        return self._answer(self._filtered_get(self._mt5.orders_get, _one_filter(args)), "orders_get")

    @staticmethod
    def _filtered_get(fn: Callable[..., Any], filters: dict[str, Any]) -> Any:
        # The package refuses an empty keyword splat on some builds ('Unnamed arguments not allowed').
        return fn(**filters) if filters else fn()

    def _op_order_calc_margin(self, args: Mapping[str, Any]) -> Any:
        action, symbol = req_int(args, "action"), req_str(args, "symbol")
        volume, price = req_float(args, "volume"), req_float(args, "price")
        self._select(symbol)
        return self._answer(self._mt5.order_calc_margin(action, symbol, volume, price), "order_calc_margin")

    def _op_order_calc_profit(self, args: Mapping[str, Any]) -> Any:
        action, symbol = req_int(args, "action"), req_str(args, "symbol")
        volume = req_float(args, "volume")
        price_open, price_close = req_float(args, "price_open"), req_float(args, "price_close")
        self._select(symbol)
        value = self._mt5.order_calc_profit(action, symbol, volume, price_open, price_close)
        return self._answer(value, "order_calc_profit")

    def _op_order_check(self, args: Mapping[str, Any]) -> Any:
        request = parse_trade_request(args)
        self._select_for(request)
        return self._answer(self._mt5.order_check(request), "order_check")

    def _op_order_send(self, args: Mapping[str, Any]) -> Any:
        request = parse_trade_request(args)
        LOG.info(
            "order_send action=%s type=%s symbol=%s volume=%s position=%s",
            request.get("action"),
            request.get("type"),
            request.get("symbol"),
            request.get("volume"),
            request.get("position"),
        )
        # Selecting first cannot send anything: a refusal here means the order never left the agent.
        self._select_for(request)
        return self._answer(self._mt5.order_send(request), "order_send")

    def _history(self, fn: Callable[..., Any], what: str, args: Mapping[str, Any]) -> Any:
        """The selection's deals or orders; with 'limit', one page {'items', 'next'} from 'offset'.

        MT5 cannot page: the whole selection is read here and only the page crosses the wire."""
        limit, offset = opt_int(args, "limit"), opt_int(args, "offset")
        if limit is None and offset is not None:
            raise bad_request("args.offset needs args.limit")
        if limit is not None and not 1 <= limit <= 10_000:
            raise bad_request("args.limit must be from 1 to 10000")
        if offset is not None and offset < 0:
            raise bad_request("args.offset must not be negative")
        found = self._history_all(fn, what, args)
        if limit is None:
            return found
        start = min(offset or 0, len(found))
        end = min(start + limit, len(found))
        return {"items": found[start:end], "next": end if end < len(found) else None}

    def _history_all(self, fn: Callable[..., Any], what: str, args: Mapping[str, Any]) -> Any:
        ticket, position = opt_int(args, "ticket"), opt_int(args, "position")
        has_range = args.get("date_from") is not None or args.get("date_to") is not None
        forms = sum((ticket is not None, position is not None, has_range))
        if forms != 1:
            raise bad_request("give exactly one of date_from+date_to, 'ticket' or 'position'")
        if ticket is not None:
            return self._answer(fn(ticket=ticket), what)
        if position is not None:
            return self._answer(fn(position=position), what)
        date_from, date_to = req_int(args, "date_from"), req_int(args, "date_to")
        group = opt_str(args, "group")
        found = fn(date_from, date_to, group=group) if group else fn(date_from, date_to)
        return self._answer(found, what)

    def _op_history_deals(self, args: Mapping[str, Any]) -> Any:
        return self._history(self._mt5.history_deals_get, "history_deals_get", args)

    def _op_history_orders(self, args: Mapping[str, Any]) -> Any:
        return self._history(self._mt5.history_orders_get, "history_orders_get", args)

    def _op_server_time_offset(self, args: Mapping[str, Any]) -> Any:
        """Server clock minus UTC, from the freshest Market Watch tick, rounded to 15 minutes; None
        when no tick is fresh enough to tell (a quiet market): the bridge keeps its last known offset
        then, and never takes a guess for a measurement."""
        symbols = self._mt5.symbols_get()
        if not symbols:
            return None
        newest: int | None = None
        for info in [s for s in symbols if getattr(s, "select", False)][:_OFFSET_SAMPLE]:
            tick = self._mt5.symbol_info_tick(str(info.name))
            if tick is not None and int(tick.time) > 0:
                newest = int(tick.time) if newest is None else max(newest, int(tick.time))
        if newest is None:
            return None
        raw = newest - int(time.time())
        rounded = round(raw / _QUARTER_HOUR) * _QUARTER_HOUR
        # A stale tick (market closed) would produce a wrong offset: only trust ones near a quarter hour.
        if abs(raw - rounded) > 300 or abs(rounded) > 14 * 3600:
            return None
        return int(rounded)


# ---------------------------------------------------------------------------------------------
# HTTP


def _ledger_unavailable(why: str) -> AgentError:
    return AgentError(
        503,
        "ledger_unavailable",
        f"the agent's ledger is unusable ({why}): orders are refused until an operator moves it aside; "
        "nothing was sent",
    )


def _replayed(stored: Mapping[str, Any]) -> Any:
    """A stored answer, answered again: the result, or the error as it was."""
    if stored.get("status") == 200 and "result" in stored:
        return stored["result"]
    error = stored.get("error") or {}
    extra = {k: v for k, v in error.items() if k not in ("code", "message", "last_error", "actual")}
    last = error.get("last_error")
    raise AgentError(
        int(stored.get("status") or 422),
        str(error.get("code") or "mt5_error"),
        str(error.get("message") or "order_send failed"),
        (int(last[0]), str(last[1])) if isinstance(last, list) and len(last) == 2 else None,
        error.get("actual"),
        extra,
    )


def _encode(body: Mapping[str, Any]) -> bytes | None:
    """The JSON of an answer; None if it holds NaN or infinity (there are no such JSON numbers)."""
    try:
        return json.dumps(body, separators=(",", ":"), allow_nan=False).encode("utf-8")
    except ValueError:
        return None


def _refuse_constant(name: str) -> Any:
    # json.loads accepts NaN, Infinity and -Infinity by default; they are not JSON, and MT5 must never
    # see a NaN volume or price.
    raise ValueError(f"{name} is not a JSON number")


class _DeadlineReader(io.RawIOBase):
    """Reads a socket, failing with `TimeoutError` once `deadline` (monotonic seconds) has passed, however
    the bytes trickle in: a per-read timeout alone lets a client that sends a byte now and then hold the
    connection for ever."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__()
        self._sock = sock
        self.deadline: float | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.deadline is not None:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("the client was too slow")
            self._sock.settimeout(remaining)
        return self._sock.recv_into(buffer)


class _Handler(BaseHTTPRequestHandler):
    agent: Agent
    server: AgentServer
    server_version = f"mt5-agent/{PROTOCOL_VERSION}"
    protocol_version = "HTTP/1.1"
    # Headers and body leave in separate writes: without this, Nagle's algorithm and delayed ACKs
    # add ~40 ms to every answer on a kept-alive connection.
    disable_nagle_algorithm = True

    def setup(self) -> None:
        # The socket timeout bounds every read and write (and the TLS handshake) of this connection.
        self.timeout = self.server.idle_timeout_s
        super().setup()
        # Reads go through the deadline below; release the plain reader setup() made.
        self.rfile.close()
        if isinstance(self.connection, ssl.SSLSocket):
            # In this connection's thread, under its timeout: never in the accepting thread.
            self.connection.do_handshake()
        self._reader = _DeadlineReader(self.connection)
        self.rfile = io.BufferedReader(self._reader)

    def handle_one_request(self) -> None:
        # The next request, from waiting for its first byte to the end of its body, gets one timeout.
        self._reader.deadline = time.monotonic() + self.server.idle_timeout_s
        try:
            super().handle_one_request()
        finally:
            self._reader.deadline = None

    def log_message(self, format: str, *args: Any) -> None:
        # Request lines carry no secrets, but keep them out of the default stderr stream.
        LOG.debug("%s %s", self.address_string(), format % args)

    def _send(self, status: int, body: Mapping[str, Any]) -> None:
        # The request has been read; the answer (after a terminal call of any length) gets a fresh timeout.
        self._reader.deadline = None
        self.connection.settimeout(self.server.idle_timeout_s)
        data = _encode(body)
        if data is None:
            # to_json turns non-finite floats into null, so this is a bug; still never send a NaN token.
            LOG.error("an answer held a non-finite number (status %s): answered 500 instead", status)
            status = int(HTTPStatus.INTERNAL_SERVER_ERROR)
            self.close_connection = True
            data = _encode(AgentError(500, "internal", "the answer held a non-finite number").body())
            assert data is not None
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if self.close_connection:
            # Tell pooling clients not to reuse this connection.
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def _read_json(self) -> dict[str, Any]:
        length_header = self.headers.get("Content-Length")
        try:
            length = int(length_header) if length_header else 0
        except ValueError as exc:
            raise bad_request("invalid Content-Length") from exc
        if length < 0 or length > MAX_BODY_BYTES:
            raise bad_request("body too large")
        raw = self.rfile.read(length) if length else b""
        if not raw.strip():
            raise bad_request("a JSON object body is required")
        try:
            body = json.loads(raw, parse_constant=_refuse_constant)
        except (ValueError, UnicodeDecodeError) as exc:
            raise bad_request("malformed JSON") from exc
        if not isinstance(body, dict):
            raise bad_request("the body must be a JSON object")
        return body

    def _drain(self) -> None:
        # Read an unread body so keep-alive connections stay in sync.
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        if 0 < length <= MAX_BODY_BYTES:
            self.rfile.read(length)

    def _handle(self, method: str) -> None:
        if not self.agent.authorized(self.headers.get("Authorization")):
            self.close_connection = True
            self._send(401, AgentError(401, "unauthorized", "missing or wrong token").body())
            return
        path = self.path.split("?", 1)[0]
        try:
            if method == "GET" and path == "/v1/health":
                self._drain()
                self._send(200, self.agent.health())
            elif method == "POST" and path == "/v1/login":
                self._send(200, self.agent.login(self._read_json()))
            elif method == "POST" and path == "/v1/logout":
                # The body is optional: {"lease": n} when replicas share the agent.
                has_body = self.headers.get("Content-Length") not in (None, "", "0")
                self._send(200, self.agent.logout(self._read_json() if has_body else None))
            elif method == "POST" and path.startswith("/v1/call/"):
                operation = path[len("/v1/call/") :]
                if not self.agent.has_operation(operation):
                    raise AgentError(404, "unknown_operation", f"unknown operation {operation!r}")
                self._send(200, self.agent.call(operation, self._read_json()))
            else:
                raise AgentError(404, "unknown_operation", f"no such path: {method} {path}")
        except AgentError as err:
            # The body may be unread or half read: do not reuse the connection after an error.
            self.close_connection = True
            self._send(err.status, err.body())
        except Exception:
            LOG.exception("internal error on %s %s", method, path)
            self.close_connection = True
            self._send(
                int(HTTPStatus.INTERNAL_SERVER_ERROR),
                AgentError(500, "internal", "internal error").body(),
            )

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def do_PATCH(self) -> None:
        self._handle("PATCH")


def tls_context(cert_file: str, key_file: str) -> ssl.SSLContext:
    """A server-side TLS context (TLS 1.2 or later) from PEM files: the certificate chain and its key."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_file, key_file)
    return context


class AgentServer(ThreadingHTTPServer):
    """Serves one agent, over TLS when given an `ssl_context`. Each connection runs in its own thread and
    is closed when idle or slow for `idle_timeout_s` (see `IDLE_TIMEOUT_S`)."""

    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        agent: Agent,
        *,
        ssl_context: ssl.SSLContext | None = None,
        idle_timeout_s: float = IDLE_TIMEOUT_S,
    ) -> None:
        if idle_timeout_s <= 0:
            raise ValueError("idle_timeout_s must be positive")
        self.ssl_context = ssl_context
        self.idle_timeout_s = idle_timeout_s
        handler = type("AgentHandler", (_Handler,), {"agent": agent})
        super().__init__(address, handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        conn, addr = super().get_request()
        if self.ssl_context is not None:
            # The handshake waits for the handler's thread (and its timeout): a client that connects
            # and sends nothing must not block the accepting thread.
            conn = self.ssl_context.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
        return conn, addr

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, (ssl.SSLError, TimeoutError, ConnectionError)):
            # A client that speaks plain HTTP to TLS, stalls or hangs up: expected, and not ours to fix.
            LOG.info("closed a connection from %s: %s", client_address[0], type(error).__name__)
            return
        super().handle_error(request, client_address)


def make_server(
    agent: Agent,
    host: str,
    port: int,
    *,
    ssl_context: ssl.SSLContext | None = None,
    idle_timeout_s: float = IDLE_TIMEOUT_S,
) -> AgentServer:
    """A server bound to host:port that serves `agent` (port 0 picks a free port); TLS with `ssl_context`."""
    return AgentServer((host, port), agent, ssl_context=ssl_context, idle_timeout_s=idle_timeout_s)


def serve_in_thread(
    agent: Agent,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    ssl_context: ssl.SSLContext | None = None,
    idle_timeout_s: float = IDLE_TIMEOUT_S,
) -> AgentServer:
    """Starts a server in a daemon thread; stop it with `shutdown()` then `server_close()`."""
    server = make_server(agent, host, port, ssl_context=ssl_context, idle_timeout_s=idle_timeout_s)
    # A short poll interval keeps shutdown() quick.
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="mt5-agent-http", daemon=True
    )
    thread.start()
    return server
