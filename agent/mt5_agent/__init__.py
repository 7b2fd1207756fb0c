"""Terminal agent: serves the terminal-agent protocol (v3) over HTTP for one MetaTrader 5 terminal.

The agent owns one terminal through the `MetaTrader5` package (or an `mt5linux` proxy of it) and
serializes every call to it, because the package fails concurrent calls.
"""

from .ledger import Ledger
from .server import (
    IDLE_TIMEOUT_S,
    PROTOCOL_VERSION,
    Agent,
    AgentError,
    AgentServer,
    make_server,
    serve_in_thread,
    tls_context,
)

__all__ = [
    "IDLE_TIMEOUT_S",
    "PROTOCOL_VERSION",
    "Agent",
    "AgentError",
    "AgentServer",
    "Ledger",
    "make_server",
    "serve_in_thread",
    "tls_context",
]
