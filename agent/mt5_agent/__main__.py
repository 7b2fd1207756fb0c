"""Command line: `python -m mt5_agent --bind 127.0.0.1:9101 --token T --backend metatrader5|mt5linux`.

The token may come from the environment (`AGENT_TOKEN`) so it stays out of process listings.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any

from .server import Agent, make_server

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


def load_backend(name: str, host: str, port: int) -> Any:
    """The MetaTrader5 API object: the package itself, or an mt5linux proxy to a Wine-side server."""
    if name == "metatrader5":
        import MetaTrader5  # type: ignore[import-not-found]

        return MetaTrader5
    if name == "mt5linux":
        from mt5linux import MetaTrader5 as Mt5Linux  # type: ignore[import-not-found]

        return Mt5Linux(host=host, port=port)
    raise ValueError(f"unknown backend {name!r}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mt5_agent", description="Terminal agent for one MetaTrader 5 terminal."
    )
    parser.add_argument("--bind", type=parse_bind, default=("127.0.0.1", 9101), help="HOST:PORT")
    parser.add_argument("--token", default=None, help="bearer token (default: $AGENT_TOKEN)")
    parser.add_argument("--backend", choices=("metatrader5", "mt5linux"), default="metatrader5")
    parser.add_argument("--mt5linux-host", default="localhost")
    parser.add_argument("--mt5linux-port", type=int, default=18812)
    parser.add_argument("--terminal-path", default=None, help="path to terminal64.exe")
    parser.add_argument("--log-level", default="INFO")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    token = args.token or os.environ.get("AGENT_TOKEN", "")
    if not token:
        print("a token is required: --token or AGENT_TOKEN", file=sys.stderr)
        return 2
    try:
        mt5 = load_backend(args.backend, args.mt5linux_host, args.mt5linux_port)
    except ImportError as exc:
        print(f"backend {args.backend} is not installed: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - e.g. the mt5linux server refused the connection
        print(f"backend {args.backend} is not reachable: {exc}", file=sys.stderr)
        return 2
    agent = Agent(mt5, token, terminal_path=args.terminal_path)
    agent.initialize()
    host, port = args.bind
    server = make_server(agent, host, port)
    LOG.info("serving on %s:%s (backend %s)", host, server.server_address[1], args.backend)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
