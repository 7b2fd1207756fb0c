"""Command line: `AGENT_TOKEN=... python -m mt5_agent --bind 127.0.0.1:9101 --backend metatrader5|mt5linux
[--tls-cert cert.pem --tls-key key.pem] [--call-timeout-s 30] [--ledger PATH] [--ledger-retention-s 604800]`
(the timeout applies to mt5linux).

The token comes from the environment (`AGENT_TOKEN`) only, never from a flag, so it stays out of process
listings.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import ssl
import sys
from typing import Any

from .backend import DEFAULT_CALL_TIMEOUT_S, MAX_CALL_TIMEOUT_S, ReconnectingMt5, valid_call_timeout
from .ledger import DEFAULT_RETENTION_S, Ledger
from .server import Agent, make_server, tls_context

LOG = logging.getLogger("mt5_agent")


def parse_bind(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host:
        raise argparse.ArgumentTypeError("expected HOST:PORT")
    try:
        number = int(port)
    except ValueError as exc:
        raise argparse.ArgumentTypeError("the port must be a number") from exc
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError("the port must be in 0..65535")
    return host.strip("[]"), number


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load_backend(name: str, host: str, port: int, call_timeout_s: float = DEFAULT_CALL_TIMEOUT_S) -> Any:
    """The MetaTrader5 API object: the package itself, or an mt5linux proxy to a Wine-side server.

    The mt5linux link is rebuilt after it drops and each call over it has `call_timeout_s`
    (`ReconnectingMt5`); the first link is made here so a wrong host or port stops the agent at once."""
    if name == "metatrader5":
        import MetaTrader5  # type: ignore[import-not-found]

        return MetaTrader5
    if name == "mt5linux":
        from mt5linux import MetaTrader5 as Mt5Linux  # type: ignore[import-not-found]

        backend = ReconnectingMt5(lambda: Mt5Linux(host=host, port=port), call_timeout_s=call_timeout_s)
        backend.connect()
        return backend
    raise ValueError(f"unknown backend {name!r}")


def call_timeout(value: str) -> float:
    """--call-timeout-s: seconds, more than 0 and at most MAX_CALL_TIMEOUT_S (no NaN, no infinity)."""
    try:
        seconds = float(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, not {value!r}") from exc
    if not valid_call_timeout(seconds):
        raise argparse.ArgumentTypeError(
            f"expected seconds more than 0 and at most {MAX_CALL_TIMEOUT_S:g}, not {value!r}"
        )
    return seconds


def retention(value: str) -> int:
    """--ledger-retention-s: a positive number of seconds."""
    try:
        seconds = int(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a whole number of seconds, not {value!r}") from exc
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, not {value!r}")
    return seconds


def default_ledger_path(port: int) -> str:
    """The ledger's default file: `mt5-agent-ledger-<port>.db` in the agent's working directory."""
    return os.path.join(os.getcwd(), f"mt5-agent-ledger-{port}.db")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mt5_agent", description="Terminal agent for one MetaTrader 5 terminal."
    )
    parser.add_argument("--bind", type=parse_bind, default=("127.0.0.1", 9101), help="HOST:PORT")
    parser.add_argument(
        "--tls-cert", default=None, help="PEM certificate chain: serve HTTPS (with --tls-key)"
    )
    parser.add_argument("--tls-key", default=None, help="PEM private key of --tls-cert")
    parser.add_argument("--backend", choices=("metatrader5", "mt5linux"), default="metatrader5")
    parser.add_argument("--mt5linux-host", default="localhost")
    parser.add_argument("--mt5linux-port", type=int, default=18812)
    parser.add_argument(
        "--call-timeout-s",
        type=call_timeout,
        default=DEFAULT_CALL_TIMEOUT_S,
        help="mt5linux: seconds a call may take before it is abandoned (504) and the link rebuilt "
        f"(default {DEFAULT_CALL_TIMEOUT_S:g}; login and initialize get their own timeout plus 5 s)",
    )
    parser.add_argument("--terminal-path", default=None, help="path to terminal64.exe")
    parser.add_argument(
        "--ledger",
        default=None,
        help="the SQLite file of the orders this agent was given (default: mt5-agent-ledger-<port>.db in the "
        "working directory; one file per agent)",
    )
    parser.add_argument(
        "--ledger-retention-s",
        type=retention,
        default=DEFAULT_RETENTION_S,
        help=f"how long the ledger keeps an entry, in seconds (default {DEFAULT_RETENTION_S}: 7 days)",
    )
    parser.add_argument("--log-level", default="INFO")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    token = os.environ.get("AGENT_TOKEN", "").strip()
    if not token:
        print(
            "set AGENT_TOKEN in the environment to the bearer token every request must carry "
            "(there is no flag for it: flags show in process listings)",
            file=sys.stderr,
        )
        return 2
    if (args.tls_cert is None) != (args.tls_key is None):
        print("--tls-cert and --tls-key go together", file=sys.stderr)
        return 2
    context = None
    if args.tls_cert is not None:
        try:
            context = tls_context(args.tls_cert, args.tls_key)
        except (OSError, ssl.SSLError) as exc:
            print(f"cannot use --tls-cert/--tls-key: {exc}", file=sys.stderr)
            return 2
    try:
        mt5 = load_backend(args.backend, args.mt5linux_host, args.mt5linux_port, args.call_timeout_s)
    except ImportError as exc:
        print(f"backend {args.backend} is not installed: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - e.g. the mt5linux server refused the connection
        print(f"backend {args.backend} is not reachable: {exc}", file=sys.stderr)
        return 2
    host, port = args.bind
    ledger = Ledger(args.ledger or default_ledger_path(port), args.ledger_retention_s)
    if ledger.error is None:
        LOG.info("ledger %s (id %s, entries kept %d s)", ledger.path, ledger.id, ledger.retention_s)
    agent = Agent(mt5, token, terminal_path=args.terminal_path, ledger=ledger)
    agent.initialize()
    server = make_server(agent, host, port, ssl_context=context)
    scheme = "https" if context is not None else "http"
    LOG.info("serving %s on %s:%s (backend %s)", scheme, host, server.server_address[1], args.backend)
    if context is None and not _is_loopback(host):
        LOG.warning(
            "serving plain HTTP beyond loopback: the token and account passwords cross the network in "
            "clear text (use --tls-cert and --tls-key)"
        )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
