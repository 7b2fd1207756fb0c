"""The cost of the Python agent's ledger per order, on the fake MetaTrader5 package: an `order_send` through
the agent (its lock, the session check, the call) with and without a ledger, and the ledger's own steps.

Run: `cd agent && python tests/bench_ledger.py [ORDERS]` (see docs/BENCHMARKS.md). Prints a markdown table.
"""

from __future__ import annotations

import hashlib
import math
import os
import sys
import tempfile
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from fake_mt5 import FakeMT5

from mt5_agent import Agent, Ledger
from mt5_agent.ledger import Session

ACCOUNT = {"login": 10001, "password": "Sim-10001!", "server": "Sim-Demo"}
TAG = hashlib.sha256(b"bench|10001").hexdigest()


def percentile(sorted_ms: list[float], p: float) -> float:
    rank = max(1, math.ceil(p / 100 * len(sorted_ms)))
    return sorted_ms[rank - 1]


def sends(agent: Agent, orders: int, with_ids: bool) -> list[float]:
    agent.login(dict(ACCOUNT, session_tag=TAG, timeout_ms=10_000))
    expected = {"login": ACCOUNT["login"], "server": ACCOUNT["server"], "session_tag": TAG}
    out = []
    for i in range(orders):
        request = {"action": 1, "symbol": "EURUSD", "volume": 0.01, "type": i % 2, "type_filling": 1}
        body: dict[str, Any] = {"expected": expected, "lease": None, "args": {"request": request}}
        if with_ids:
            body["client_id"] = f"bench{i}"
        started = time.perf_counter()
        agent.call("order_send", body)
        out.append((time.perf_counter() - started) * 1000)
    return sorted(out)


def main() -> None:
    orders = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        plain = Agent(FakeMT5(), "bench-token", login_poll_s=0.01)
        rows.append(("`order_send` through the agent, no ledger", sends(plain, orders, False)))
        ledger = Ledger(os.path.join(tmp, "agent.db"))
        ledgered = Agent(FakeMT5(), "bench-token", login_poll_s=0.01, ledger=ledger)
        rows.append(("`order_send` through the agent, with the ledger", sends(ledgered, orders, True)))
        ledger.close()
        own = Ledger(os.path.join(tmp, "steps.db"))
        session = Session(ACCOUNT["login"], ACCOUNT["server"], TAG)
        begin, answered, query = [], [], []
        for i in range(orders):
            cid = f"step{i}"
            t = time.perf_counter()
            own.begin(cid, session)
            begin.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            own.answered(cid, {"status": 200, "result": {"retcode": 10009}})
            answered.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            own.query(session, [cid])
            query.append((time.perf_counter() - t) * 1000)
        own.close()
        rows.append(("`received` row, before the terminal", sorted(begin)))
        rows.append(("stored answer, after the terminal", sorted(answered)))
        rows.append(("`ledger` query of one id", sorted(query)))
    print(f"| step ({orders} orders) | p50 ms | p99 ms |")
    print("|---|---:|---:|")
    for name, values in rows:
        print(f"| {name} | {percentile(values, 50):.3f} | {percentile(values, 99):.3f} |")


if __name__ == "__main__":
    main()
