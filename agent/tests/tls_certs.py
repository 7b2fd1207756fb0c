"""Test-only TLS material: a private CA and an agent certificate for 127.0.0.1 and localhost, generated
with the `openssl` command line in a temporary directory (nothing is committed)."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class TlsFiles:
    ca: Path  # the CA certificate: what clients trust (the bridge's AGENT_CA_FILE)
    cert: Path  # the agent's certificate, signed by the CA (--tls-cert)
    key: Path  # its private key (--tls-key)


_LEAF_EXTENSIONS = """basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,DNS:localhost
"""


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_tls_files(directory: Path, name: str = "agent") -> TlsFiles:
    """A CA and a certificate it signed, as `docs/real-terminals.md` shows."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command line is not installed")
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    ca, ca_key = directory / f"{name}-ca.pem", directory / f"{name}-ca.key"
    cert, key = directory / f"{name}.pem", directory / f"{name}.key"
    _openssl(
        "req", "-x509", *ec, "-keyout", str(ca_key), "-out", str(ca), "-days", "2",
        "-subj", "/CN=mt5-agent test CA",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign",
        cwd=directory,
    )  # fmt: skip
    csr, ext = directory / f"{name}.csr", directory / f"{name}.ext"
    ext.write_text(_LEAF_EXTENSIONS)
    _openssl(
        "req", "-new", *ec, "-keyout", str(key), "-out", str(csr), "-subj", "/CN=127.0.0.1",
        cwd=directory,
    )  # fmt: skip
    _openssl(
        "x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-set_serial", "1",
        "-days", "2", "-extfile", str(ext), "-out", str(cert),
        cwd=directory,
    )  # fmt: skip
    return TlsFiles(ca=ca, cert=cert, key=key)
