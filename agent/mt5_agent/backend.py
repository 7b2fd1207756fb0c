"""The mt5linux backend: the MetaTrader5 package inside Wine, reached over an RPyC link that can drop.

`mt5linux.MetaTrader5(host, port)` opens one RPyC connection when it is built and never reopens it:
once the Wine side restarts or the socket dies, every later call fails until the agent restarts.
`ReconnectingMt5` wraps it: a call that meets a broken link drops that connection and fails with
`LinkLost` (the agent answers 503 and forgets its session), and the next call builds a new instance,
which the agent initializes again. The failed call itself is never retried: an order_send whose answer
was lost may have executed, and only the trade journal can tell.

Each call also gets a timeout (`call_timeout_s`): RPyC waits for an answer as long as its own timeout
(300 s as mt5linux sets it, 30 s in RPyC itself), holding the terminal lock all that time. A call past
the timeout fails with `CallTimedOut` (504) and its connection is dropped: nothing is read from that
connection again, so a late answer on it cannot pass for the next call's. Building a link (connecting
and importing MetaTrader5 on the far side) gets the same timeout.

What the timeout does not cover: mt5linux hands back most answers as remote objects, whose fields the
agent reads over the link after the call returned. Those reads wait as long as RPyC's own timeout; a
failure there reaches the agent directly, which then calls `drop_link`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

LOG = logging.getLogger("mt5_agent")

DEFAULT_CALL_TIMEOUT_S = 30.0
# An hour is already far past RPyC's own timeout; larger values are mistakes (and past
# threading.TIMEOUT_MAX they would fail every call).
MAX_CALL_TIMEOUT_S = 3600.0
# login() and initialize() wait for the trade server up to their `timeout` (MT5's default: 60 s); the
# link must wait that long plus this much before it gives up on them.
_SLOW_CALLS = {"login", "initialize"}
_MT5_DEFAULT_TIMEOUT_MS = 60_000
_SLOW_CALL_SLACK_S = 5.0
# A login's timeout_ms comes from the bridge: bound what it can make the link wait.
_SLOW_CALL_MAX_S = 24 * 3600.0


def _rpyc_errors() -> tuple[type[BaseException], ...]:
    """RPyC's own link failures, when RPyC is installed (it raises EOFError for a closed stream)."""
    try:
        from rpyc.core import async_, protocol  # type: ignore[import-not-found]
    except Exception:  # noqa: BLE001 - not installed, or a version without these modules
        return ()
    found = [getattr(async_, "AsyncResultTimeout", None), getattr(protocol, "PingError", None)]
    return tuple(e for e in found if isinstance(e, type) and issubclass(e, BaseException))


# What a broken link raises. OSError covers sockets (ConnectionError, TimeoutError are among them).
LINK_ERRORS: tuple[type[BaseException], ...] = (EOFError, ConnectionError, OSError, *_rpyc_errors())


class LinkLost(ConnectionError):
    """The link to the Wine side failed before or during a call: the call's outcome is unknown."""


class CallTimedOut(TimeoutError):
    """A call did not answer within its timeout; its connection has been dropped."""


def valid_call_timeout(seconds: float) -> bool:
    # `0 < x <= max` is False for NaN too.
    return 0 < seconds <= MAX_CALL_TIMEOUT_S


class _Attempt:
    """One function run in a daemon thread and waited for up to a timeout. Once the waiter gives up,
    the outcome belongs to nobody: a late value goes to `on_late` (to close a link built too late) and
    is never handed to a caller."""

    def __init__(
        self, fn: Callable[[], Any], name: str, on_late: Callable[[Any], None] | None = None
    ) -> None:
        self._fn = fn
        self._on_late = on_late
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._outcome: tuple[bool, Any] | None = None
        self._abandoned = False
        # A daemon thread: one stuck on a dead socket must not keep the agent from exiting.
        threading.Thread(target=self._run, name=name, daemon=True).start()

    def _run(self) -> None:
        try:
            outcome: tuple[bool, Any] = (True, self._fn())
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
            outcome = (False, exc)
        with self._lock:
            self._outcome = outcome
            late = self._abandoned
        self._done.set()
        if late and outcome[0] and self._on_late is not None:
            self._on_late(outcome[1])

    def wait(self, timeout_s: float) -> tuple[bool, Any] | None:
        """(True, value) or (False, exception); None if it did not finish in time (then abandoned)."""
        self._done.wait(timeout_s)
        # Decided under the lock: an outcome that lands as the wait ends is either taken here or
        # handed to on_late, never both and never lost.
        with self._lock:
            if self._outcome is None:
                self._abandoned = True
            return self._outcome


class ReconnectingMt5:
    """The MetaTrader5 API over a link rebuilt on demand. `connect()` makes a new API object (for
    mt5linux: `lambda: MetaTrader5(host=..., port=...)`). Only calls are proxied (`proxy.name(...)`),
    not constants: the agent uses MT5's integers directly.

    The agent runs one call at a time; the state lock still keeps the link consistent if two threads
    call at once, and a failure seen on one link never drops a newer one."""

    def __init__(self, connect: Callable[[], Any], *, call_timeout_s: float = DEFAULT_CALL_TIMEOUT_S) -> None:
        if not valid_call_timeout(call_timeout_s):
            raise ValueError(f"call_timeout_s must be more than 0 and at most {MAX_CALL_TIMEOUT_S:g}")
        self._connect = connect
        self.call_timeout_s = call_timeout_s
        self._state = threading.Lock()
        self._api: Any | None = None
        # How many links were built, for logs and tests.
        self.connections = 0

    def __repr__(self) -> str:
        return f"ReconnectingMt5(connections={self.connections}, call_timeout_s={self.call_timeout_s})"

    def connect(self) -> None:
        """Builds the link now (at start-up, to fail early on a wrong host or port); LinkLost if it cannot."""
        self._link()

    def drop_link(self, why: str) -> None:
        """Drops the current link, if any: the agent saw it fail outside a call (reading a remote answer).
        The agent calls this under its own lock, so the current link is the one that failed."""
        with self._state:
            api = self._api
        if api is not None:
            self._drop(api, why)

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_"):
            raise AttributeError(name)

        def call(*args: Any, **kwargs: Any) -> Any:
            return self._invoke(name, args, kwargs)

        call.__name__ = name
        return call

    def _link(self) -> Any:
        with self._state:
            if self._api is not None:
                return self._api
            # A link built after its wait ended is closed, never kept: the next call may already have
            # built another.
            attempt = _Attempt(self._connect, "mt5linux-connect", on_late=_close_quietly)
            outcome = attempt.wait(self.call_timeout_s)
            if outcome is None:
                raise LinkLost(f"the mt5linux server did not answer within {self.call_timeout_s:g} s")
            ok, value = outcome
            if not ok:
                if isinstance(value, LINK_ERRORS):
                    raise LinkLost(f"cannot reach the mt5linux server: {type(value).__name__}") from value
                raise value
            self._api = value
            self.connections += 1
            if self.connections > 1:
                LOG.info("mt5linux: link rebuilt (connection %d)", self.connections)
            return value

    def _drop(self, api: Any, why: str) -> None:
        with self._state:
            if self._api is not api:
                # Already dropped, maybe replaced: a failure on an old link says nothing of the new one.
                return
            self._api = None
        LOG.warning("mt5linux: link dropped (%s); the next call opens a new one", why)
        # Closing may block on a dead socket: never in the caller's thread. Closing also ends a call
        # still waiting on it (RPyC raises EOFError there), so abandoned threads do not pile up.
        threading.Thread(target=_close_quietly, args=(api,), name="mt5linux-close", daemon=True).start()

    def _timeout_for(self, name: str, kwargs: dict[str, Any]) -> float:
        if name not in _SLOW_CALLS:
            return self.call_timeout_s
        timeout_ms = kwargs.get("timeout", _MT5_DEFAULT_TIMEOUT_MS)
        if isinstance(timeout_ms, bool) or not isinstance(timeout_ms, (int, float)) or not timeout_ms > 0:
            timeout_ms = _MT5_DEFAULT_TIMEOUT_MS
        slow = min(timeout_ms / 1000.0 + _SLOW_CALL_SLACK_S, _SLOW_CALL_MAX_S)
        return max(self.call_timeout_s, slow)

    def _invoke(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        api = self._link()
        timeout_s = self._timeout_for(name, kwargs)
        # Never retried, whatever happens: the call may have run on the far side.
        attempt = _Attempt(lambda: getattr(api, name)(*args, **kwargs), f"mt5linux-{name}")
        outcome = attempt.wait(timeout_s)
        if outcome is None:
            self._drop(api, f"{name} did not answer within {timeout_s:g} s")
            raise CallTimedOut(f"{name} did not answer within {timeout_s:g} s")
        ok, value = outcome
        if ok:
            return value
        if isinstance(value, LINK_ERRORS):
            self._drop(api, f"{name}: {type(value).__name__}")
            raise LinkLost(f"lost the mt5linux link during {name}: {type(value).__name__}") from value
        raise value


def _close_quietly(api: Any) -> None:
    """Best effort: close the RPyC connection behind an mt5linux object (a private attribute there)."""
    for holder in (api, getattr(api, "_MetaTrader5__conn", None)):
        close = getattr(holder, "close", None)
        if callable(close):
            try:
                close()
            except Exception as exc:  # noqa: BLE001 - it is being thrown away
                LOG.debug("mt5linux: closing a dropped link failed: %s", type(exc).__name__)
            return
