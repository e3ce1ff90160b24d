"""An API process given a certificate serves HTTPS only, with the deployment's own CA: the
way compose runs every service (plain HTTP was served on every interface)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from deploy.local.tls import certificates
from shared.http import services_trusted
from shared.settings import Settings
from tests.infrastructure import free_port, poll_until

pytestmark = pytest.mark.integration

SERVER = """
import sys
from fastapi import FastAPI
from shared.http import serve
from shared.settings import Settings
app = FastAPI()
app.get("/health")(lambda: {"ok": True})
serve(app, Settings(service="tls-test", http_port=int(sys.argv[1]), http_tls_certfile=sys.argv[2]))
"""


def test_a_process_with_a_certificate_answers_https_and_refuses_plain_http(
    tmp_path: Path,
) -> None:
    ca = certificates(tmp_path / "tls", ["127.0.0.1", "localhost"], "server")
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(port), str(tmp_path / "tls" / "server.pem")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    # As a service's client of another is given the deployment's CA (`http_cafile`).
    trusted = services_trusted(Settings(service="tls-client", http_cafile=str(ca)))
    assert services_trusted(Settings(service="tls-client")) is True  # unset: the system's store
    try:

        def answered() -> httpx.Response | None:
            try:
                return httpx.get(f"https://127.0.0.1:{port}/health", verify=trusted, timeout=2)
            except httpx.TransportError:
                return None

        response = poll_until(answered, 30, 0.1, what="the HTTPS server")
        assert response.status_code == 200 and response.json() == {"ok": True}
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
        with pytest.raises(httpx.ConnectError):  # a certificate no client should trust
            httpx.get(f"https://127.0.0.1:{port}/health", timeout=30)  # not a slow handshake's
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_a_client_trusts_the_ca_file_as_it_is_when_the_client_is_made(tmp_path: Path) -> None:
    """A CA renewal rewrites the file in place (deploy/rotate.py): a client made after it
    trusts the new CA, not the one read for an earlier client."""
    old = certificates(tmp_path / "old", ["127.0.0.1"], "server")
    new = certificates(tmp_path / "new", ["127.0.0.1"], "server")
    cafile = tmp_path / "ca.pem"
    settings = Settings(service="tls-client", http_cafile=str(cafile))
    cafile.write_bytes(old.read_bytes())
    before = services_trusted(settings)
    cafile.write_bytes(new.read_bytes())
    after = services_trusted(settings)
    assert not isinstance(before, bool) and not isinstance(after, bool)
    serials = [[c["serialNumber"] for c in ctx.get_ca_certs()] for ctx in (before, after)]
    assert serials[0] != serials[1] and all(len(s) == 1 for s in serials)
