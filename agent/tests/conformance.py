"""Conformance suite for the terminal-agent protocol v3, runnable against any agent.

Every check is a function `check_x(target)` that talks HTTP to a running agent described by `Target`
(base URL, bearer token and two accounts the terminal knows) and raises AssertionError on a deviation
from the protocol. `CHECKS` lists them all; the order does not matter, each check logs in itself.

Session tags are opaque to an agent (the bridge derives them from the credential with a key only it
holds), so the suite makes its own: a hash of the credential, or any other 64 lower-case hex characters.

Every request a check sends through `Target.request` and every answer it gets are checked against the
protocol's JSON Schema, `protocol.schema.json` (made from the Rust types both ends of the bridge use,
crates/bridge/src/agent/wire.rs): each answer must match it, and an agent must never accept (2xx) a
request the schema refuses.

Every `order_send` a check sends carries a fresh `client_id` (as every v3 bridge's does) unless the check
names one, or asks for none with `NO_CLIENT_ID`.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from itertools import pairwise
from pathlib import Path
from typing import Any, TypeVar

import jsonschema
import requests

RATE_FIELDS = ["time", "open", "high", "low", "close", "tick_volume", "spread", "real_volume"]
REQUEST_FIELDS = {
    "action",
    "magic",
    "order",
    "symbol",
    "volume",
    "price",
    "stoplimit",
    "sl",
    "tp",
    "deviation",
    "type",
    "type_filling",
    "type_time",
    "expiration",
    "comment",
    "position",
    "position_by",
}
SYMBOL = "EURUSD"
PROTOCOL_VERSION = "3"
# In an order_send's body as `client_id`: send none (a v2 bridge's call).
NO_CLIENT_ID = object()

PROTOCOL_SCHEMA: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parent / "protocol.schema.json").read_text(encoding="utf-8")
)


def _shapes() -> dict[str, dict[str, str]]:
    """The package's structures as the protocol's schema has them: field -> JSON type ("i" int, "f"
    number, "b" bool, "s" string, or the nested TradeRequest). Every answer must carry all of them with
    these types (ints strictly: no 1.0)."""
    defs = PROTOCOL_SCHEMA["$defs"]
    names = ["AccountInfo", "SymbolInfo", "Tick", "Rate", "OrderCheckResult", "OrderSendResult"]
    names += ["TradePosition", "TradeOrder", "TradeDeal"]
    structures = {name: defs[name] for name in names}
    structures["TradeRequest"] = defs["OrderSendResult"]["properties"]["request"]
    kinds = {"integer": "i", "number": "f", "boolean": "b", "string": "s", "object": "TradeRequest"}
    return {
        name: {field: kinds[prop["type"]] for field, prop in schema["properties"].items()}
        for name, schema in structures.items()
    }


SCHEMAS: dict[str, dict[str, str]] = _shapes()


def assert_shape(kind: str, value: Any) -> None:
    """`value` (an object or a list of them) has every field of `kind` with its JSON type."""
    if isinstance(value, list):
        for item in value:
            assert_shape(kind, item)
        return
    assert isinstance(value, dict), (kind, value)
    missing = set(SCHEMAS[kind]) - set(value)
    assert not missing, f"{kind} lacks {sorted(missing)}"
    for key, want in SCHEMAS[kind].items():
        got = value[key]
        if want in SCHEMAS:
            assert_shape(want, got)
            continue
        ok = {
            "i": is_int(got),
            "f": is_number(got),
            "b": isinstance(got, bool),
            "s": isinstance(got, str),
        }[want]
        assert ok, f"{kind}.{key} should be {want}, got {got!r}"


HTTP_TIMEOUT_S = 30.0

_VALIDATORS: dict[str, jsonschema.Draft202012Validator] = {}


def schema_errors(schema: dict[str, Any], value: Any) -> list[str]:
    """Where `value` breaks `schema` (a part of the protocol's schema; its references resolve in it)."""
    key = json.dumps(schema, sort_keys=True)
    validator = _VALIDATORS.get(key)
    if validator is None:
        validator = jsonschema.Draft202012Validator({"$defs": PROTOCOL_SCHEMA["$defs"], **schema})
        _VALIDATORS[key] = validator
    return [
        f"{'/'.join(str(p) for p in err.absolute_path) or '(the whole)'}: {err.message}"
        for err in validator.iter_errors(value)
    ]


def _endpoint(method: str, path: str) -> tuple[dict[str, Any] | None, str | None]:
    """The schema's endpoint for a request, and the call's operation when it is one."""
    endpoints = PROTOCOL_SCHEMA["endpoints"]
    if method == "POST" and path.startswith("/v1/call/"):
        operation = path.removeprefix("/v1/call/")
        return endpoints["POST /v1/call/{operation}"], operation
    return endpoints.get(f"{method} {path}"), None


def request_errors(method: str, path: str, body: Any) -> list[str]:
    """Where a request breaks the schema (none for a path the protocol does not have)."""
    endpoint, operation = _endpoint(method, path)
    if endpoint is None or "request" not in endpoint:
        return []
    if body is _NOT_JSON:
        return ["the body is not JSON"]
    errors = schema_errors(endpoint["request"], body)
    spec = PROTOCOL_SCHEMA["operations"].get(operation) if operation else None
    if not errors and spec is not None:
        args = body.get("args") or {}
        errors = [f"args/{e}" for e in schema_errors(spec["args"], args)]
    return errors


def answer_errors(method: str, path: str, status: int, body: Any) -> list[str]:
    """Where an answer breaks the schema: a success its endpoint's answer (and a call's result its
    operation's), a failure the error body."""
    if body is _NOT_JSON:
        return ["the answer is not JSON"]
    if not 200 <= status < 300:
        return schema_errors(PROTOCOL_SCHEMA["error"], body)
    endpoint, operation = _endpoint(method, path)
    assert endpoint is not None, f"{method} {path} answered {status}: the protocol has no such endpoint"
    errors = schema_errors(endpoint["answer"], body)
    spec = PROTOCOL_SCHEMA["operations"].get(operation) if operation else None
    assert operation is None or spec is not None, (
        f"{operation} answered {status}: the protocol has no such operation"
    )
    if not errors and spec is not None:
        errors = [f"result/{e}" for e in schema_errors(spec["result"], body["result"])]
    return errors


_NOT_JSON = object()


def _json_or_not(data: bytes | str | None) -> Any:
    try:
        return json.loads(data) if data else _NOT_JSON
    except ValueError:
        return _NOT_JSON


def check_against_schema(method: str, path: str, body: Any, resp: requests.Response) -> None:
    """The request and its answer as the protocol's schema says (see the module's documentation)."""
    refused = request_errors(method, path, body)
    if 200 <= resp.status_code < 300:
        assert not refused, f"{method} {path} was accepted ({resp.status_code}) against the schema: {refused}"
    else:
        assert resp.status_code in (400, 401, 404) or not refused, (
            f"{method} {path} against the schema ({refused}) answered {resp.status_code}, not a refusal"
        )
    wrong = answer_errors(method, path, resp.status_code, _json_or_not(resp.content))
    assert not wrong, f"{method} {path} answered {resp.status_code} against the schema: {wrong}"


@dataclass(frozen=True)
class Account:
    login: int
    password: str
    server: str
    # The session tag sent for this credential; None derives one from the credential, as the bridge
    # does (its HMAC key aside), so that two passwords of one login get two tags.
    tag: str | None = None

    @property
    def session_tag(self) -> str:
        if self.tag is not None:
            return self.tag
        credential = f"{self.login}|{self.server}|{self.password}".encode()
        return hashlib.sha256(b"conformance-session-tag|" + credential).hexdigest()

    def account(self) -> dict[str, Any]:
        """The account as a `409 wrong_account` names it in `actual` (never with a tag)."""
        return {"login": self.login, "server": self.server}

    def expected(self) -> dict[str, Any]:
        return dict(self.account(), session_tag=self.session_tag)


# Ways a session tag can be malformed: each must be `400 bad_request` (MISSING: the key is absent).
MISSING = object()


def bad_tags(tag: str) -> list[Any]:
    return [
        MISSING,
        None,
        "",
        7,
        ["a" * 64],
        tag.upper(),
        tag[:-1],
        tag + "0",
        tag[:-1] + "g",
        tag + "\n",
        " " + tag[1:],
        "0x" + tag[2:],
    ]


def with_tag(body: dict[str, Any], tag: Any) -> dict[str, Any]:
    """`body` with `session_tag` set to `tag`, or without it for MISSING."""
    out = {k: v for k, v in body.items() if k != "session_tag"}
    if tag is not MISSING:
        out["session_tag"] = tag
    return out


@dataclass(frozen=True)
class Target:
    base_url: str
    token: str
    first: Account
    second: Account
    agent: str  # "python" or "sim", as /v1/health reports it

    def request(
        self, method: str, path: str, body: Any = None, token: str | None = None, raw: bytes | None = None
    ) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token if token is None else token}"}
        if token == "":
            headers = {}
        if raw is not None:
            headers["Content-Type"] = "application/json"
            resp = requests.request(
                method, self.base_url + path, data=raw, headers=headers, timeout=HTTP_TIMEOUT_S
            )
            sent = _json_or_not(raw)
        else:
            if path == "/v1/call/order_send" and isinstance(body, dict):
                if "client_id" not in body:
                    body = dict(body, client_id=new_client_id())
                elif body["client_id"] is NO_CLIENT_ID:
                    body = {k: v for k, v in body.items() if k != "client_id"}
            resp = requests.request(
                method, self.base_url + path, json=body, headers=headers, timeout=HTTP_TIMEOUT_S
            )
            # `requests` sends no body for None: an agent reads that as `{}`.
            sent = {} if body is None else body
        check_against_schema(method, path, sent, resp)
        return resp

    def login_body(self, account: Account) -> dict[str, Any]:
        return {
            "login": account.login,
            "password": account.password,
            "server": account.server,
            "session_tag": account.session_tag,
            "timeout_ms": 30_000,
        }

    def login(self, account: Account) -> requests.Response:
        return self.request("POST", "/v1/login", self.login_body(account))

    def health(self) -> dict[str, Any]:
        resp = self.request("GET", "/v1/health")
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert isinstance(body, dict), body
        return body

    def call(
        self, operation: str, args: dict[str, Any], account: Account | None = None, client_id: Any = None
    ) -> requests.Response:
        acc = account or self.first
        body: dict[str, Any] = {"expected": acc.expected(), "lease": None, "args": args}
        if client_id is not None:
            body["client_id"] = client_id
        return self.request("POST", f"/v1/call/{operation}", body)

    def ledger(self, client_ids: list[str], expected: dict[str, Any] | None = None) -> dict[str, Any]:
        """The `ledger` operation for `client_ids`, as the session `expected` (default the first
        account's)."""
        body = {"expected": expected or self.first.expected(), "args": {"client_ids": client_ids}}
        resp = self.request("POST", "/v1/call/ledger", body)
        assert resp.status_code == 200, resp.text
        result = resp.json()["result"]
        assert [e["client_id"] for e in result["entries"]] == client_ids, result
        return result

    def result(self, operation: str, args: dict[str, Any], account: Account | None = None) -> Any:
        resp = self.call(operation, args, account)
        assert resp.status_code == 200, f"{operation}: {resp.status_code} {resp.text}"
        body = resp.json()
        assert set(body) == {"result"}, body
        return body["result"]

    def login_first(self) -> dict[str, Any]:
        resp = self.login(self.first)
        assert resp.status_code == 200, resp.text
        return resp.json()["account_info"]


def new_client_id() -> str:
    return "cf" + secrets.token_hex(8)


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def assert_error(resp: requests.Response, status: int, code: str) -> dict[str, Any]:
    """The documented error shape; returns the inner error object."""
    assert resp.status_code == status, f"expected {status} {code}, got {resp.status_code} {resp.text}"
    assert resp.headers.get("Content-Type", "").startswith("application/json"), resp.headers
    body = resp.json()
    assert set(body) == {"error"}, body
    err = body["error"]
    assert err["code"] == code, err
    assert isinstance(err["message"], str) and err["message"], err
    if status != 401:
        assert {"code", "message", "last_error", "actual"} <= set(err), err
    last = err.get("last_error")
    if last is not None:
        assert isinstance(last, list) and len(last) == 2, last
        assert is_int(last[0]) and isinstance(last[1], str), last
    return err


Check = TypeVar("Check", bound=Callable[..., None])


def only_for(*agents: str) -> Callable[[Check], Check]:
    """Marks a check that only these agents (as /v1/health names them) pass so far: a protocol
    addition the others have not caught up with. The runner skips it for the others, saying why."""

    def mark(check: Check) -> Check:
        check.agents = frozenset(agents)  # type: ignore[attr-defined]
        return check

    return mark


def applies_to(check: Callable[..., None], agent: str) -> bool:
    return agent in getattr(check, "agents", {agent})


# ---- checks ------------------------------------------------------------------------------------


def check_unauthorized_everywhere(t: Target) -> None:
    paths = [
        ("GET", "/v1/health"),
        ("POST", "/v1/login"),
        ("POST", "/v1/logout"),
        ("POST", "/v1/call/account_info"),
        ("POST", "/v1/call/no_such_operation"),
        ("GET", "/no/such/path"),
        ("DELETE", "/v1/health"),
    ]
    for method, path in paths:
        for token in ("", "wrong-token", t.token + "x", t.token[:-1]):
            resp = t.request(method, path, {"login": t.first.login}, token=token)
            assert_error(resp, 401, "unauthorized")
    # A non-Bearer scheme with the right secret is still refused.
    resp = requests.get(
        t.base_url + "/v1/health", headers={"Authorization": f"Basic {t.token}"}, timeout=HTTP_TIMEOUT_S
    )
    check_against_schema("GET", "/v1/health", {}, resp)
    assert_error(resp, 401, "unauthorized")


def check_health(t: Target) -> None:
    resp = t.request("GET", "/v1/health")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["agent"] == t.agent, body
    assert body["version"] == PROTOCOL_VERSION, body
    assert isinstance(body["connected"], bool), body
    assert body["login"] is None or is_int(body["login"]), body
    assert body["server"] is None or isinstance(body["server"], str), body
    assert "session_tag" in body, body
    tag = body["session_tag"]
    assert tag is None or (isinstance(tag, str) and len(tag) == 64 and tag == tag.lower()), body
    t.login_first()
    body = t.health()
    assert body["connected"] is True, body
    assert body["login"] == t.first.login and body["server"] == t.first.server, body
    assert body["session_tag"] == t.first.session_tag, body
    assert t.login(t.second).status_code == 200
    body = t.health()
    assert (body["login"], body["session_tag"]) == (t.second.login, t.second.session_tag), body
    assert t.request("POST", "/v1/logout", {}).status_code == 200
    body = t.health()
    assert body["session_tag"] is None, body
    assert body["login"] is None and body["server"] is None, body


def check_login_returns_account_info(t: Target) -> None:
    for account in (t.second, t.first):
        resp = t.login(account)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert set(body) == {"account_info"}, body
        info = body["account_info"]
        assert_shape("AccountInfo", info)
        assert info["login"] == account.login, info
        assert info["server"] == account.server, info
        for key in (
            "trade_mode",
            "leverage",
            "margin_so_mode",
            "margin_mode",
            "currency_digits",
            "limit_orders",
        ):
            assert is_int(info[key]), (key, info[key])
        for key in ("balance", "equity", "margin", "margin_free", "profit"):
            assert is_number(info[key]), (key, info[key])
        assert isinstance(info["trade_allowed"], bool), info
        assert isinstance(info["currency"], str) and info["currency"], info
        assert account.password not in resp.text
        assert account.session_tag not in resp.text
        assert t.health()["session_tag"] == account.session_tag
        # The account is usable right away.
        assert t.result("account_info", {}, account)["login"] == account.login


def check_login_wrong_password(t: Target) -> None:
    secret = "Not-The-Password-42"
    body = dict(t.login_body(Account(t.first.login, secret, t.first.server)), timeout_ms=10_000)
    resp = t.request("POST", "/v1/login", body)
    err = assert_error(resp, 422, "mt5_error")
    assert err["last_error"][0] == -6, err
    assert secret not in resp.text


def check_login_bad_request(t: Target) -> None:
    tag = t.first.session_tag
    assert_error(
        t.request("POST", "/v1/login", {"login": "x", "password": "p", "server": "s", "session_tag": tag}),
        400,
        "bad_request",
    )
    no_login = {"password": "p", "server": "s", "session_tag": tag}
    assert_error(t.request("POST", "/v1/login", no_login), 400, "bad_request")
    assert_error(t.request("POST", "/v1/login", raw=b"{not json"), 400, "bad_request")


def check_login_session_tag_required(t: Target) -> None:
    """A login without a well-formed session_tag is refused before anything runs: nobody logs in."""
    t.login_first()
    for tag in bad_tags(t.second.session_tag):
        resp = t.request("POST", "/v1/login", with_tag(t.login_body(t.second), tag))
        assert_error(resp, 400, "bad_request")
        assert t.second.password not in resp.text
        health = t.health()
        # Still the first account's session: the refused login did not even start.
        assert (health["login"], health["server"], health["session_tag"]) == (
            t.first.login,
            t.first.server,
            t.first.session_tag,
        ), (tag, health)
    assert t.result("account_info", {})["login"] == t.first.login
    # Logged out, a refused login leaves the agent logged out.
    assert t.request("POST", "/v1/logout", {}).status_code == 200
    for tag in (MISSING, t.first.session_tag.upper()):
        assert_error(t.request("POST", "/v1/login", with_tag(t.login_body(t.first), tag)), 400, "bad_request")
    health = t.health()
    assert health["login"] is None and health["session_tag"] is None, health
    err = assert_error(t.call("account_info", {}), 409, "wrong_account")
    assert err["actual"] is None, err
    t.login_first()


def check_call_session_tag_required(t: Target) -> None:
    """`expected` without a well-formed session_tag is a bad request: nothing runs."""
    t.login_first()
    positions = {"symbol": None, "group": None, "ticket": None}
    before = t.result("positions", positions)
    request = market_request(t, 0, 0.01, "no tag must not run")
    for tag in bad_tags(t.first.session_tag):
        body = {"expected": with_tag(t.first.expected(), tag), "lease": None, "args": {"request": request}}
        resp = t.request("POST", "/v1/call/order_send", body)
        assert_error(resp, 400, "bad_request")
    after = t.result("positions", positions)
    assert sorted(p["ticket"] for p in after) == sorted(p["ticket"] for p in before)
    assert t.health()["session_tag"] == t.first.session_tag


def check_other_tag_is_wrong_account(t: Target) -> None:
    """Same login and server, another credential's tag: the terminal's session is not the caller's."""
    t.login_first()
    positions = {"symbol": None, "group": None, "ticket": None}
    before = t.result("positions", positions)
    request = market_request(t, 0, 0.01, "other tag must not run")
    other = replace(t.first, tag=hashlib.sha256(b"another credential of the same login").hexdigest())
    assert other.session_tag != t.first.session_tag
    for operation, args in (("order_send", {"request": request}), ("account_info", {}), ("positions", {})):
        resp = t.call(operation, args, other)
        err = assert_error(resp, 409, "wrong_account")
        # `actual` names the account, never a tag.
        assert err["actual"] == t.first.account(), err
        assert t.first.session_tag not in resp.text and other.session_tag not in resp.text
    after = t.result("positions", positions)
    assert sorted(p["ticket"] for p in after) == sorted(p["ticket"] for p in before)
    # A new login of the same account with the other tag moves the session: the old tag is refused.
    assert t.login(other).status_code == 200
    assert t.health()["session_tag"] == other.session_tag
    err = assert_error(t.call("order_send", {"request": request}, t.first), 409, "wrong_account")
    assert err["actual"] == t.first.account(), err
    assert t.result("account_info", {}, other)["login"] == t.first.login
    after = t.result("positions", positions, other)
    assert sorted(p["ticket"] for p in after) == sorted(p["ticket"] for p in before)
    t.login_first()
    assert_error(t.call("account_info", {}, other), 409, "wrong_account")


def check_failed_login_clears_session(t: Target) -> None:
    """A login attempt ends the session first: when it fails, no tag is served, old or new."""
    t.login_first()
    positions = {"symbol": None, "group": None, "ticket": None}
    before = t.result("positions", positions)
    request = market_request(t, 0, 0.01, "old session must not run")
    wrong = Account(t.first.login, "Not-The-Password-43", t.first.server)
    err = assert_error(t.login(wrong), 422, "mt5_error")
    assert err["last_error"][0] == -6, err
    assert t.health()["session_tag"] is None
    assert_error(t.call("order_send", {"request": request}, t.first), 409, "wrong_account")
    assert_error(t.call("account_info", {}, t.first), 409, "wrong_account")
    assert_error(t.call("account_info", {}, wrong), 409, "wrong_account")
    assert t.health()["session_tag"] is None
    # The same after switching: a failed login to the first account ends the second's session.
    assert t.login(t.second).status_code == 200
    assert_error(t.login(wrong), 422, "mt5_error")
    assert t.health()["session_tag"] is None
    assert_error(t.call("account_info", {}, t.second), 409, "wrong_account")
    t.login_first()
    after = t.result("positions", positions)
    assert sorted(p["ticket"] for p in after) == sorted(p["ticket"] for p in before)
    assert t.health()["session_tag"] == t.first.session_tag


def check_wrong_account_executes_nothing(t: Target) -> None:
    t.login_first()
    before = t.result("positions", {"symbol": None, "group": None, "ticket": None})
    request = market_request(t, 0, 0.01, "must not run")
    resp = t.call("order_send", {"request": request}, t.second)
    err = assert_error(resp, 409, "wrong_account")
    assert err["actual"] == t.first.account(), err
    # A right login on the wrong server is also the wrong account.
    wrong_server = Account(t.first.login, t.first.password, t.first.server + "-Other")
    err = assert_error(t.call("positions", {}, wrong_server), 409, "wrong_account")
    assert err["actual"] == t.first.account(), err
    after = t.result("positions", {"symbol": None, "group": None, "ticket": None})
    assert sorted(p["ticket"] for p in after) == sorted(p["ticket"] for p in before)


def check_deadline_not_started(t: Target) -> None:
    """A call whose deadline_ms has passed by the time it could start is 504 deadline_exceeded, and
    nothing was sent; a call within its deadline runs; a malformed deadline is 400."""
    t.login_first()
    before = t.result("positions", {"symbol": None, "group": None, "ticket": None})
    request = market_request(t, 0, 0.01, "past its deadline")
    body = {"expected": t.first.expected(), "lease": None, "deadline_ms": 0, "args": {"request": request}}
    assert_error(t.request("POST", "/v1/call/order_send", body), 504, "deadline_exceeded")
    after = t.result("positions", {"symbol": None, "group": None, "ticket": None})
    assert sorted(p["ticket"] for p in after) == sorted(p["ticket"] for p in before), (before, after)
    body = {"expected": t.first.expected(), "lease": None, "deadline_ms": 30_000, "args": {}}
    resp = t.request("POST", "/v1/call/account_info", body)
    assert resp.status_code == 200 and resp.json()["result"]["login"] == t.first.login, resp.text
    for bad in (-1, "soon", 1.5, True):
        body = {"expected": t.first.expected(), "lease": None, "deadline_ms": bad, "args": {}}
        assert_error(t.request("POST", "/v1/call/account_info", body), 400, "bad_request")


def check_switch_moves_the_guard(t: Target) -> None:
    t.login_first()
    assert t.login(t.second).status_code == 200
    err = assert_error(t.call("account_info", {}, t.first), 409, "wrong_account")
    assert err["actual"] == t.second.account(), err
    lease = (t.health().get("lease") or 0) + 1
    body = {"expected": t.second.expected(), "lease": lease, "args": {}}
    resp = t.request("POST", "/v1/call/account_info", body)
    assert resp.status_code == 200 and resp.json()["result"]["login"] == t.second.login, resp.text
    orders = t.result("orders", {"symbol": None, "group": None, "ticket": None}, t.second)
    assert isinstance(orders, list), orders
    assert_shape("TradeOrder", orders)
    t.login_first()
    assert_error(t.call("positions", {}, t.second), 409, "wrong_account")


def check_market_data_shapes(t: Target) -> None:
    t.login_first()
    symbols = t.result("symbols", {"group": None})
    assert isinstance(symbols, list) and symbols, symbols
    names = {s["name"] for s in symbols}
    assert SYMBOL in names, names
    assert_shape("SymbolInfo", symbols)
    only = t.result("symbols", {"group": f"*,!{SYMBOL}"})
    assert SYMBOL not in {s["name"] for s in only}
    info = t.result("symbol_info", {"symbol": SYMBOL})
    assert info["name"] == SYMBOL
    for key in ("digits", "spread", "trade_mode", "filling_mode", "order_mode", "trade_calc_mode"):
        assert is_int(info[key]), (key, info[key])
    for key in ("point", "volume_min", "volume_step", "trade_contract_size", "bid", "ask"):
        assert is_number(info[key]), (key, info[key])
    assert isinstance(info["select"], bool), info["select"]
    tick = t.result("symbol_info_tick", {"symbol": SYMBOL})
    assert_shape("Tick", tick)
    assert is_int(tick["time"]) and is_int(tick["time_msc"]) and is_int(tick["flags"]), tick
    assert 0 < tick["bid"] <= tick["ask"], tick
    assert abs(tick["time_msc"] // 1000 - tick["time"]) <= 1, tick

    m1 = 1
    rates = t.result(
        "copy_rates", {"symbol": SYMBOL, "timeframe": m1, "mode": "from_pos", "start": 0, "count": 10}
    )
    assert len(rates) == 10, rates
    assert_shape("Rate", rates)
    for bar in rates:
        # JSON objects are unordered: compare the field set, not the order.
        assert set(bar) == set(RATE_FIELDS), bar
        assert is_int(bar["time"]) and is_int(bar["tick_volume"]) and is_int(bar["spread"]), bar
        assert bar["low"] <= min(bar["open"], bar["close"]) and bar["high"] >= max(
            bar["open"], bar["close"]
        ), bar
    times = [b["time"] for b in rates]
    assert times == sorted(times) and len(set(times)) == 10, times
    assert all(b - a == 60 for a, b in pairwise(times)), times
    last = times[-1]
    ranged = t.result(
        "copy_rates",
        {"symbol": SYMBOL, "timeframe": m1, "mode": "range", "date_from": last - 240, "date_to": last},
    )
    assert [b["time"] for b in ranged] == times[-5:], ranged
    before = t.result(
        "copy_rates", {"symbol": SYMBOL, "timeframe": m1, "mode": "from", "date_from": last, "count": 3}
    )
    assert [b["time"] for b in before] == times[-3:], before
    assert_error(
        t.call("copy_rates", {"symbol": SYMBOL, "timeframe": m1, "mode": "sideways", "start": 0, "count": 1}),
        400,
        "bad_request",
    )


def check_unknown_symbol(t: Target) -> None:
    t.login_first()
    for operation in ("symbol_info", "symbol_info_tick"):
        err = assert_error(t.call(operation, {"symbol": "NO_SUCH_SYMBOL"}), 422, "mt5_error")
        assert err["last_error"][0] == -4, err


def market_request(
    t: Target, order_type: int, volume: float, comment: str, position: int = 0, account: Account | None = None
) -> dict[str, Any]:
    tick = t.result("symbol_info_tick", {"symbol": SYMBOL}, account)
    return {
        "action": 1,
        "magic": 4242,
        "order": 0,
        "symbol": SYMBOL,
        "volume": volume,
        "price": tick["ask"] if order_type == 0 else tick["bid"],
        "stoplimit": 0.0,
        "sl": 0.0,
        "tp": 0.0,
        "deviation": 20,
        "type": order_type,
        "type_filling": 1,
        "type_time": 0,
        "expiration": 0,
        "comment": comment,
        "position": position,
        "position_by": 0,
    }


def check_trading_cycle(t: Target) -> None:
    t.login_first()
    started = t.result("symbol_info_tick", {"symbol": SYMBOL})["time"]
    check = t.result("order_check", {"request": market_request(t, 0, 0.01, "conformance check")})
    assert check["retcode"] == 0, check
    assert_shape("OrderCheckResult", check)
    assert set(check["request"]) == REQUEST_FIELDS, check
    for key in ("balance", "equity", "margin", "margin_free"):
        assert is_number(check[key]), (key, check)

    long_comment = "conformance open with a comment far too long for MT5"
    sent = t.result("order_send", {"request": market_request(t, 0, 0.01, long_comment)})
    assert sent["retcode"] == 10009, sent
    assert_shape("OrderSendResult", sent)
    assert is_int(sent["order"]) and sent["order"] > 0, sent
    assert is_int(sent["deal"]) and sent["deal"] > 0, sent
    assert sent["volume"] == 0.01 and sent["price"] > 0, sent
    assert set(sent["request"]) == REQUEST_FIELDS, sent
    echoed = sent["request"]["comment"]
    assert len(echoed) <= 27 and echoed.startswith("conformance"), echoed

    positions = t.result("positions", {"symbol": SYMBOL})
    assert_shape("TradePosition", positions)
    mine = [p for p in positions if p["identifier"] == sent["order"] or p["ticket"] == sent["order"]]
    assert len(mine) == 1, positions
    position = mine[0]
    assert position["type"] == 0 and position["volume"] == 0.01 and position["magic"] == 4242, position
    assert is_int(position["ticket"]) and is_int(position["time"]), position
    by_ticket = t.result("positions", {"ticket": position["ticket"]})
    assert [p["ticket"] for p in by_ticket] == [position["ticket"]], by_ticket
    assert_error(t.call("positions", {"symbol": SYMBOL, "ticket": position["ticket"]}), 400, "bad_request")

    closed = t.result(
        "order_send", {"request": market_request(t, 1, 0.01, "conformance close", position["ticket"])}
    )
    assert closed["retcode"] == 10009, closed
    assert closed["deal"] > 0 and closed["deal"] != sent["deal"], closed
    left = t.result("positions", {"ticket": position["ticket"]})
    assert left == [], left

    deals = t.result("history_deals", {"position": position["identifier"]})
    assert_shape("TradeDeal", deals)
    tickets = {d["ticket"] for d in deals}
    assert {sent["deal"], closed["deal"]} <= tickets, deals
    entries = sorted(d["entry"] for d in deals if d["ticket"] in (sent["deal"], closed["deal"]))
    assert entries == [0, 1], deals
    ranged = t.result(
        "history_deals", {"date_from": started - 3600, "date_to": started + 86_400, "group": None}
    )
    assert {sent["deal"], closed["deal"]} <= {d["ticket"] for d in ranged}, ranged
    orders = t.result("history_orders", {"ticket": sent["order"]})
    assert [o["ticket"] for o in orders] == [sent["order"]], orders
    assert_shape("TradeOrder", orders)
    assert_error(t.call("history_deals", {"ticket": 1, "position": 2}), 400, "bad_request")

    # Pages: with 'limit' the agent answers one page and where the next starts; walking the pages
    # gives the whole selection once, in the same order.
    window = {"date_from": started - 3600, "date_to": started + 86_400, "group": None}
    for op in ("history_deals", "history_orders"):
        whole = t.result(op, window)
        walked: list[Any] = []
        offset: int | None = 0
        while offset is not None:
            page = t.result(op, {**window, "offset": offset, "limit": 1})
            assert set(page) == {"items", "next"}, page
            assert len(page["items"]) <= 1, page
            walked.extend(page["items"])
            assert page["next"] is None or page["next"] == offset + 1, page
            offset = page["next"]
        assert [x["ticket"] for x in walked] == [x["ticket"] for x in whole], (walked, whole)
        last = t.result(op, {**window, "offset": len(whole) + 5, "limit": 10})
        assert last == {"items": [], "next": None}, last
        for bad in ({"limit": 0}, {"limit": 10_001}, {"offset": 1}):
            assert_error(t.call(op, {**window, **bad}), 400, "bad_request")


def check_broker_rejection_is_200(t: Target) -> None:
    t.login_first()
    request = market_request(t, 0, 0.0, "zero volume")
    sent = t.result("order_send", {"request": request})
    assert is_int(sent["retcode"]) and sent["retcode"] not in (10008, 10009, 10010), sent
    assert sent["deal"] == 0, sent


def check_calculations(t: Target) -> None:
    t.login_first()
    tick = t.result("symbol_info_tick", {"symbol": SYMBOL})
    margin = t.result(
        "order_calc_margin", {"action": 0, "symbol": SYMBOL, "volume": 0.1, "price": tick["ask"]}
    )
    assert is_number(margin) and margin > 0, margin
    profit = t.result(
        "order_calc_profit",
        {"action": 0, "symbol": SYMBOL, "volume": 1.0, "price_open": 1.1, "price_close": 1.1010},
    )
    assert is_number(profit) and abs(profit - 100.0) < 0.5, profit


def check_server_time_offset(t: Target) -> None:
    t.login_first()
    offset = t.result("server_time_offset", {})
    assert is_int(offset), offset
    assert offset % 900 == 0 and abs(offset) <= 14 * 3600, offset


def check_error_shapes(t: Target) -> None:
    t.login_first()
    assert_error(
        t.request("POST", "/v1/call/no_such_operation", {"expected": t.first.expected(), "args": {}}),
        404,
        "unknown_operation",
    )
    assert_error(t.request("GET", "/v1/nothing/here"), 404, "unknown_operation")
    assert_error(t.request("POST", "/v1/call/symbol_info", raw=b"[1, 2"), 400, "bad_request")
    assert_error(t.request("POST", "/v1/call/symbol_info", {"args": {"symbol": SYMBOL}}), 400, "bad_request")
    assert_error(t.call("symbol_info", {}), 400, "bad_request")
    assert_error(t.call("symbol_info", {"symbol": 7}), 400, "bad_request")
    err = assert_error(t.call("symbol_info", {"symbol": "NO_SUCH_SYMBOL"}), 422, "mt5_error")
    assert err["actual"] is None, err


def check_health_terminal_info(t: Target) -> None:
    """Health carries terminal_info's connected, trade_allowed and tradeapi_disabled (or null)."""
    t.login_first()
    flags = t.health()["terminal_info"]
    assert isinstance(flags, dict), flags
    assert set(flags) == {"connected", "trade_allowed", "tradeapi_disabled"}, flags
    assert all(isinstance(v, bool) for v in flags.values()), flags
    # Just logged in: the terminal is connected to its trade server.
    assert flags["connected"] is True, flags


def check_symbols_outside_market_watch(t: Target) -> None:
    """Every symbol `symbols` lists answers its first info, tick and calculation, selected or not
    (the agent puts a symbol in Market Watch before using it)."""
    t.login_first()
    hidden = [s["name"] for s in t.result("symbols", {"group": None}) if not s["select"]]
    for name in hidden[:3]:
        assert t.result("symbol_info", {"symbol": name})["name"] == name
        tick = t.result("symbol_info_tick", {"symbol": name})
        margin = t.result(
            "order_calc_margin", {"action": 0, "symbol": name, "volume": 0.01, "price": tick["ask"]}
        )
        assert is_number(margin) and margin >= 0, (name, margin)


def check_invalid_argument(t: Target) -> None:
    """MT5's -2 refusals are `422 invalid_argument` with `mt5_code` and the argument's name."""
    t.login_first()
    request = market_request(t, 0, 0.01, "no volume")
    del request["volume"]
    for operation in ("order_check", "order_send"):
        err = assert_error(t.call(operation, {"request": request}), 422, "invalid_argument")
        assert err["mt5_code"] == -2 and err["last_error"][0] == -2, err
        assert err["field"] == "volume", err
        assert err["actual"] is None, err


def check_logout(t: Target) -> None:
    t.login_first()
    resp = t.request("POST", "/v1/logout", {})
    assert resp.status_code == 200 and resp.json() == {}, resp.text
    # Logged out, the terminal serves no account.
    err = assert_error(t.call("account_info", {}), 409, "wrong_account")
    assert err["actual"] is None, err
    health = t.request("GET", "/v1/health").json()
    assert health["login"] is None and health["server"] is None, health
    assert health["session_tag"] is None, health
    # Logging in again brings the terminal back.
    t.login_first()
    assert t.result("account_info", {})["login"] == t.first.login
    assert t.health()["session_tag"] == t.first.session_tag


def check_lease_fencing(t: Target) -> None:
    """A lease older than the newest seen is refused before anything runs (its replica lost the terminal)."""
    t.login_first()
    base = t.request("GET", "/v1/health").json().get("lease") or 0
    newer, older = base + 10, base + 5

    def call_with(operation: str, lease: Any, args: dict[str, Any]) -> requests.Response:
        body = {"expected": t.first.expected(), "lease": lease, "args": args}
        return t.request("POST", f"/v1/call/{operation}", body)

    assert call_with("account_info", newer, {}).status_code == 200
    assert t.request("GET", "/v1/health").json()["lease"] == newer
    positions = {"symbol": None, "group": None, "ticket": None}
    before = t.result("positions", positions)
    request = market_request(t, 0, 0.01, "stale lease must not run")
    assert_error(call_with("order_send", older, {"request": request}), 409, "stale_lease")
    after = t.result("positions", positions)
    assert sorted(p["ticket"] for p in after) == sorted(p["ticket"] for p in before)
    # A stale login or logout changes nothing either.
    login = dict(t.login_body(t.second), lease=older)
    assert_error(t.request("POST", "/v1/login", login), 409, "stale_lease")
    assert_error(t.request("POST", "/v1/logout", {"lease": older}), 409, "stale_lease")
    health = t.request("GET", "/v1/health").json()
    assert (health["login"], health["server"], health["lease"]) == (t.first.login, t.first.server, newer), (
        health
    )
    assert health["session_tag"] == t.first.session_tag, health
    # The same lease again, a newer one, and no lease (a bridge without shared ownership) all run.
    assert call_with("account_info", newer, {}).status_code == 200
    assert call_with("account_info", None, {}).status_code == 200
    assert call_with("account_info", newer + 1, {}).status_code == 200
    assert t.request("GET", "/v1/health").json()["lease"] == newer + 1
    # A lease is a non-negative integer.
    assert_error(call_with("account_info", "7", {}), 400, "bad_request")
    assert_error(call_with("account_info", -1, {}), 400, "bad_request")


def check_lease_bound(t: Target) -> None:
    """A lease further ahead of the agent's clock than a day is refused `422 invalid_lease` before anything
    runs and does not become the newest: a token holder cannot lock every bridge replica out with a huge
    one. A lease an hour ahead runs, and so does a realistic one (a Redis clock in microseconds)."""
    t.login_first()
    before = t.health()
    newest = before.get("lease")
    now_us = time.time_ns() // 1000
    # A bridge's lease: its Redis's clock in microseconds (here this machine's), and never below the newest.
    realistic = max(now_us, newest or 0)
    positions = {"symbol": None, "group": None, "ticket": None}
    held = sorted(p["ticket"] for p in t.result("positions", positions))

    def call_with(operation: str, lease: Any, args: dict[str, Any]) -> requests.Response:
        body = {"expected": t.first.expected(), "lease": lease, "args": args}
        return t.request("POST", f"/v1/call/{operation}", body)

    for forged in (now_us + 2 * 86_400 * 10**6, 2**63):
        request = market_request(t, 0, 0.01, "forged lease must not run")
        assert_error(call_with("order_send", forged, {"request": request}), 422, "invalid_lease")
        login = dict(t.login_body(t.second), lease=forged)
        assert_error(t.request("POST", "/v1/login", login), 422, "invalid_lease")
        assert_error(t.request("POST", "/v1/logout", {"lease": forged}), 422, "invalid_lease")
        # Nothing ran: no position, the same session, and the newest lease unchanged.
        assert sorted(p["ticket"] for p in t.result("positions", positions)) == held
        health = t.health()
        assert (health["login"], health["server"]) == (t.first.login, t.first.server), health
        assert health["session_tag"] == t.first.session_tag, health
        assert health.get("lease") == newest, health
    # A realistic lease runs afterwards: the forged ones did not become the newest.
    resp = call_with("account_info", realistic, {})
    assert resp.status_code == 200 and resp.json()["result"]["login"] == t.first.login, resp.text
    assert t.health()["lease"] == realistic
    # An hour ahead (a clock skew) is accepted, and becomes the newest.
    hour_ahead = time.time_ns() // 1000 + 3600 * 10**6
    assert call_with("account_info", hour_ahead, {}).status_code == 200
    assert t.health()["lease"] == hour_ahead


def _positions(t: Target) -> list[int]:
    return sorted(p["ticket"] for p in t.result("positions", {"symbol": None, "group": None, "ticket": None}))


def check_health_reports_the_ledger(t: Target) -> None:
    ledger = t.health()["ledger"]
    assert isinstance(ledger["id"], str) and len(ledger["id"]) >= 16, ledger
    assert is_int(ledger["retention_s"]) and ledger["retention_s"] > 0, ledger
    assert ledger["error"] is None, ledger


def check_order_send_needs_a_client_id(t: Target) -> None:
    """A v3 order_send without a client_id, or with a malformed one, is refused and runs nothing."""
    t.login_first()
    held = _positions(t)
    request = market_request(t, 0, 0.01, "no client id")
    for bad in (NO_CLIENT_ID, "", "a" * 65, "has space", 7, None):
        body = {"expected": t.first.expected(), "lease": None, "args": {"request": request}, "client_id": bad}
        assert_error(t.request("POST", "/v1/call/order_send", body), 400, "bad_request")
    assert _positions(t) == held


def check_ledger_replays_an_answered_order(t: Target) -> None:
    """The same client_id sent twice executes once: the second call gets the first answer, and the ledger
    answers `answered` with it."""
    t.login_first()
    held = _positions(t)
    client_id = new_client_id()
    request = market_request(t, 0, 0.01, "ledger replay")
    first = t.call("order_send", {"request": request}, client_id=client_id)
    assert first.status_code == 200, first.text
    result = first.json()["result"]
    assert result["retcode"] == 10009, result
    again = t.call("order_send", {"request": request}, client_id=client_id)
    assert again.status_code == 200, again.text
    assert again.json()["result"] == result
    after = _positions(t)
    assert len(after) == len(held) + 1, (held, after)
    entry = t.ledger([client_id])["entries"][0]
    assert entry["state"] == "answered", entry
    assert entry["answer"] == {"status": 200, "result": result}, entry
    assert t.health()["ledger"]["id"] == t.ledger([client_id])["ledger_id"]
    # A broker rejection is an answer too, replayed as it was.
    rejected_id = new_client_id()
    zero = market_request(t, 0, 0.0, "ledger zero volume")
    rejected = t.call("order_send", {"request": zero}, client_id=rejected_id).json()["result"]
    assert rejected["retcode"] not in (10008, 10009, 10010), rejected
    assert t.call("order_send", {"request": zero}, client_id=rejected_id).json()["result"] == rejected
    assert t.ledger([rejected_id])["entries"][0]["state"] == "answered"
    # Close what was opened.
    opened = [p for p in after if p not in held]
    for ticket in opened:
        close = market_request(t, 1, 0.01, "ledger close", ticket)
        assert t.result("order_send", {"request": close})["retcode"] == 10009


def check_ledger_tombstone_refuses_a_late_order(t: Target) -> None:
    """An id the ledger never received is answered `never_received`, and a later order_send with it is refused
    (`409 client_id_settled`) without reaching the terminal."""
    t.login_first()
    held = _positions(t)
    client_id = new_client_id()
    result = t.ledger([client_id])
    assert result["entries"] == [{"client_id": client_id, "state": "never_received"}], result
    request = market_request(t, 0, 0.01, "late after tombstone")
    assert_error(t.call("order_send", {"request": request}, client_id=client_id), 409, "client_id_settled")
    assert _positions(t) == held
    assert t.ledger([client_id])["entries"][0]["state"] == "never_received"


def check_ledger_tells_another_session_nothing(t: Target) -> None:
    """An entry answers only the session that made it: another account, or the same login under another
    credential's tag, gets `unknown` and no answer, and its question changes nothing for the owner."""
    t.login_first()
    client_id = new_client_id()
    request = market_request(t, 0, 0.01, "ledger isolation")
    sent = t.call("order_send", {"request": request}, client_id=client_id)
    assert sent.status_code == 200, sent.text
    other_tag = dict(t.first.expected(), session_tag="ab" * 32)
    for expected in (t.second.expected(), other_tag):
        entry = t.ledger([client_id], expected)["entries"][0]
        assert entry == {"client_id": client_id, "state": "unknown"}, entry
    assert t.ledger([client_id])["entries"][0]["state"] == "answered"
    # Another session's order_send with the id is refused and runs nothing.
    assert t.login(t.second).status_code == 200
    held = _positions_of(t, t.second)
    second_request = market_request(t, 0, 0.01, "other session", account=t.second)
    refused = t.call("order_send", {"request": second_request}, t.second, client_id=client_id)
    assert_error(refused, 400, "bad_request")
    assert _positions_of(t, t.second) == held
    t.login_first()
    ticket = sent.json()["result"]["order"]
    for p in t.result("positions", {"ticket": ticket}):
        close = market_request(t, 1, 0.01, "close", p["ticket"])
        assert t.result("order_send", {"request": close})["retcode"] == 10009


def _positions_of(t: Target, account: Account) -> list[int]:
    found = t.result("positions", {"symbol": None, "group": None, "ticket": None}, account)
    return sorted(p["ticket"] for p in found)


def check_ledger_needs_no_terminal(t: Target) -> None:
    """The ledger answers without a login, a session or a lease: it never touches the terminal."""
    t.login_first()
    client_id = new_client_id()
    request = market_request(t, 0, 0.0, "ledger no terminal")
    assert t.call("order_send", {"request": request}, client_id=client_id).status_code == 200
    assert t.request("POST", "/v1/logout", {}).status_code == 200
    entry = t.ledger([client_id])["entries"][0]
    assert entry["state"] == "answered", entry
    health = t.health()
    assert health["session_tag"] is None and health["login"] is None, health
    for bad in ([], ["x" * 65], ["ok", "not ok"], [new_client_id() for _ in range(101)]):
        body = {"expected": t.first.expected(), "args": {"client_ids": bad}}
        assert_error(t.request("POST", "/v1/call/ledger", body), 400, "bad_request")
    t.login_first()


CHECKS = [
    check_unauthorized_everywhere,
    check_health,
    check_login_returns_account_info,
    check_login_wrong_password,
    check_login_bad_request,
    check_login_session_tag_required,
    check_call_session_tag_required,
    check_other_tag_is_wrong_account,
    check_failed_login_clears_session,
    check_wrong_account_executes_nothing,
    check_deadline_not_started,
    check_switch_moves_the_guard,
    check_market_data_shapes,
    check_unknown_symbol,
    check_trading_cycle,
    check_broker_rejection_is_200,
    check_calculations,
    check_server_time_offset,
    check_error_shapes,
    check_health_terminal_info,
    check_symbols_outside_market_watch,
    check_invalid_argument,
    check_logout,
    check_lease_fencing,
    check_health_reports_the_ledger,
    check_order_send_needs_a_client_id,
    check_ledger_replays_an_answered_order,
    check_ledger_tombstone_refuses_a_late_order,
    check_ledger_tells_another_session_nothing,
    check_ledger_needs_no_terminal,
    # Last: it leaves the newest lease an hour ahead (checks with a lease read the newest first anyway).
    check_lease_bound,
]


def wait_healthy(base_url: str, token: str, timeout_s: float = 30.0) -> None:
    """Waits until the agent answers /v1/health (used after starting a process)."""
    deadline = time.monotonic() + timeout_s
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            resp = requests.get(
                base_url + "/v1/health", headers={"Authorization": f"Bearer {token}"}, timeout=2
            )
            if resp.status_code == 200:
                return
        except requests.RequestException as exc:
            last = exc
        time.sleep(0.1)
    raise TimeoutError(f"agent at {base_url} not healthy after {timeout_s}s: {last}")
