"""Terminal agent: serves the terminal-agent protocol (v2) over HTTP for one MetaTrader 5 terminal.

The agent owns one terminal through the `MetaTrader5` package (or an `mt5linux` proxy of it) and
serializes every call to it, because the package fails concurrent calls.
"""

from .server import PROTOCOL_VERSION, Agent, AgentError, make_server, serve_in_thread

__all__ = ["PROTOCOL_VERSION", "Agent", "AgentError", "make_server", "serve_in_thread"]
