"""How the agent is reached: TLS with --tls-cert/--tls-key, the token from the environment only, and
connections that are idle or slow closed after a timeout (a slowloris client cannot hold a thread)."""

from __future__ import annotations

import os
import secrets
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from fake_mt5 import FakeMT5
from tls_certs import TlsFiles, make_tls_files

from mt5_agent import IDLE_TIMEOUT_S, Agent, AgentServer, serve_in_thread, tls_context
from mt5_agent.__main__ import build_parser, main


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls_files(tmp_path_factory.mktemp("tls"))


class Served:
    def __init__(self, server: AgentServer, token: str) -> None:
        self.server = server
        self.token = token
        self.port = int(server.server_address[1])

    def health(self, scheme: str, **kwargs: object) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token}"}
        url = f"{scheme}://127.0.0.1:{self.port}/v1/health"
        return requests.get(url, headers=headers, timeout=10, **kwargs)


@contextmanager
def serving(tls: TlsFiles | None, idle_timeout_s: float = IDLE_TIMEOUT_S) -> Iterator[Served]:
    token = secrets.token_urlsafe(16)
    context = tls_context(str(tls.cert), str(tls.key)) if tls is not None else None
    server = serve_in_thread(Agent(FakeMT5(), token), ssl_context=context, idle_timeout_s=idle_timeout_s)
    try:
        yield Served(server, token)
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def https_agent(tls: TlsFiles) -> Iterator[Served]:
    with serving(tls) as served:
        yield served


def silent_client(port: int) -> socket.socket:
    """A client that connects and then says nothing."""
    return socket.create_connection(("127.0.0.1", port), timeout=10)


def seconds_until_closed(sock: socket.socket) -> float:
    """How long until the server closes `sock` (reads until EOF or a reset, up to 10 s)."""
    started = time.monotonic()
    try:
        while sock.recv(1024):
            pass
    except ConnectionResetError:
        pass
    return time.monotonic() - started


def test_the_protocol_is_served_over_tls(https_agent: Served, tls: TlsFiles) -> None:
    resp = https_agent.health("https", verify=str(tls.ca))
    assert resp.status_code == 200, resp.text
    assert resp.json()["agent"] == "python"
    # The token is still required over TLS.
    url = f"https://127.0.0.1:{https_agent.port}/v1/health"
    assert requests.get(url, verify=str(tls.ca), timeout=10).status_code == 401


def test_plain_http_to_the_tls_port_fails(https_agent: Served, tls: TlsFiles) -> None:
    with pytest.raises(requests.ConnectionError):
        https_agent.health("http")
    # A client that does not trust the agent's CA is refused by its own TLS check.
    with pytest.raises(requests.exceptions.SSLError):
        https_agent.health("https")
    # The agent keeps serving.
    assert https_agent.health("https", verify=str(tls.ca)).status_code == 200


def test_tls_is_at_least_1_2(tls: TlsFiles) -> None:
    context = tls_context(str(tls.cert), str(tls.key))
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    with pytest.raises((ssl.SSLError, OSError)):
        tls_context(str(tls.key), str(tls.cert))  # not a certificate and its key


@pytest.mark.parametrize("use_tls", [False, True], ids=["http", "https"])
def test_a_silent_client_is_disconnected_after_the_timeout(tls: TlsFiles, use_tls: bool) -> None:
    with serving(tls if use_tls else None, idle_timeout_s=1.0) as served:
        with silent_client(served.port) as silent:
            # Meanwhile everyone else is served at once: the silent client holds no shared thread (over
            # TLS, its handshake waits in its own thread, not in the accepting one).
            started = time.monotonic()
            scheme = "https" if use_tls else "http"
            assert served.health(scheme, verify=str(tls.ca)).status_code == 200
            assert time.monotonic() - started < 0.9
            waited = seconds_until_closed(silent)
        assert 0.5 <= waited <= 5, f"closed after {waited:.2f} s"


def test_a_client_that_trickles_its_request_is_disconnected() -> None:
    with serving(None, idle_timeout_s=1.0) as served:
        with silent_client(served.port) as slow:
            started = time.monotonic()
            request = f"GET /v1/health HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {served.token}\r\n"
            closed = False
            for char in request:  # one byte every 0.2 s: each read is quick, the request is not
                try:
                    slow.sendall(char.encode())
                except OSError:
                    closed = True
                    break
                time.sleep(0.2)
            if not closed:
                seconds_until_closed(slow)
            elapsed = time.monotonic() - started
        assert elapsed < 4, f"a trickling client held the connection for {elapsed:.1f} s"


@pytest.mark.parametrize("trickle", [False, True], ids=["stalled", "trickled"])
def test_a_body_that_does_not_come_is_disconnected(trickle: bool) -> None:
    """Headers in full, then a body announced at 60,000 bytes of which one arrives (or one byte every
    0.2 s): the request's one deadline covers its body too."""
    with serving(None, idle_timeout_s=1.0) as served:
        with silent_client(served.port) as slow:
            started = time.monotonic()
            head = (
                f"POST /v1/logout HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {served.token}\r\n"
                "Content-Type: application/json\r\nContent-Length: 60000\r\n\r\n{"
            )
            slow.sendall(head.encode())
            closed = False
            while trickle and time.monotonic() - started < 6:
                try:
                    slow.sendall(b" ")
                except OSError:
                    closed = True
                    break
                time.sleep(0.2)
            answer = b""
            if not closed:
                try:
                    while chunk := slow.recv(1024):
                        answer += chunk
                except (ConnectionResetError, TimeoutError):
                    pass
            elapsed = time.monotonic() - started
        assert elapsed < 3, f"the body held the connection {elapsed:.1f} s"
        # Closed unanswered: the half-read request never ran.
        assert b"200 OK" not in answer, answer


def test_a_kept_alive_idle_connection_is_closed_and_the_next_request_reconnects() -> None:
    with serving(None, idle_timeout_s=0.5) as served, requests.Session() as http:
        http.headers["Authorization"] = f"Bearer {served.token}"
        url = f"http://127.0.0.1:{served.port}/v1/health"
        assert http.get(url, timeout=5).status_code == 200
        time.sleep(1.0)
        assert http.get(url, timeout=5).status_code == 200


def test_the_default_timeout_is_30_seconds() -> None:
    assert IDLE_TIMEOUT_S == 30.0
    server = AgentServer(("127.0.0.1", 0), Agent(FakeMT5(), "t"))
    try:
        assert server.idle_timeout_s == 30.0
    finally:
        server.server_close()
    with pytest.raises(ValueError):
        AgentServer(("127.0.0.1", 0), Agent(FakeMT5(), "t"), idle_timeout_s=0)


def test_the_token_comes_from_the_environment_only(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert not [a for a in build_parser()._actions if any("token" in o for o in a.option_strings)]
    monkeypatch.setenv("AGENT_TOKEN", "env-token")
    with pytest.raises(SystemExit) as exited:
        main(["--token", "flag-token"])
    assert exited.value.code == 2
    assert "--token" in capsys.readouterr().err
    monkeypatch.delenv("AGENT_TOKEN")
    assert main(["--bind", "127.0.0.1:0"]) == 2
    assert "set AGENT_TOKEN in the environment" in capsys.readouterr().err
    monkeypatch.setenv("AGENT_TOKEN", "   ")
    assert main(["--bind", "127.0.0.1:0"]) == 2
    assert "AGENT_TOKEN" in capsys.readouterr().err


def test_tls_flags_go_together(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tls: TlsFiles, tmp_path: Path
) -> None:
    monkeypatch.setenv("AGENT_TOKEN", "env-token")
    assert main(["--tls-cert", str(tls.cert)]) == 2
    assert "--tls-key" in capsys.readouterr().err
    missing = str(tmp_path / "missing.pem")
    assert main(["--tls-cert", missing, "--tls-key", missing]) == 2
    assert "cannot use --tls-cert" in capsys.readouterr().err


def test_cli_serves_https(tmp_path: Path, tls: TlsFiles) -> None:
    # `python -m mt5_agent --tls-cert --tls-key` end to end, on the fake MetaTrader5 package.
    (tmp_path / "MetaTrader5.py").write_text(
        "import sys\nimport fake_mt5\nsys.modules[__name__] = fake_mt5\n"
    )
    tests_dir = os.path.dirname(os.path.abspath(__file__))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = dict(
        os.environ,
        AGENT_TOKEN="cli-tls-token",
        PYTHONPATH=os.pathsep.join([str(tmp_path), tests_dir, os.path.dirname(tests_dir)]),
    )
    args = ["--bind", f"127.0.0.1:{port}", "--tls-cert", str(tls.cert), "--tls-key", str(tls.key)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "mt5_agent", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        headers = {"Authorization": "Bearer cli-tls-token"}
        deadline = time.monotonic() + 20
        while True:
            try:
                health = requests.get(
                    f"https://127.0.0.1:{port}/v1/health", headers=headers, verify=str(tls.ca), timeout=2
                )
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline and proc.poll() is None, "the agent did not start"
                time.sleep(0.1)
        assert health.status_code == 200 and health.json()["agent"] == "python"
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://127.0.0.1:{port}/v1/health", headers=headers, timeout=5)
    finally:
        proc.terminate()
        output, _ = proc.communicate(timeout=10)
    assert b"cli-tls-token" not in output
    assert b"serving https" in output
