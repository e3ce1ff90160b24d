"""Token verification holds against forged headers and a key set sent in the clear, and the
files that hold secrets are private from their first byte."""

from __future__ import annotations

import asyncio
import json
import stat
import threading
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from shared.auth import InvalidToken, LocalIssuer, Principal, TokenVerifier
from shared.private_files import write_private
from shared.settings import Settings


def verifier_of(issuer: LocalIssuer) -> TokenVerifier:
    return TokenVerifier(Settings(service="test", auth_jwks=str(issuer.ensure().jwks_file)))


def claims(issuer: LocalIssuer) -> dict[str, object]:
    now = int(time.time())
    return {
        "iss": issuer.issuer,
        "aud": issuer.audience,
        "sub": "x",
        "agency": "council",
        "role": "manager",
        "iat": now,
        "exp": now + 60,
    }


def test_an_es256_header_on_the_rsa_key_is_refused_as_an_invalid_token(tmp_path: Path) -> None:
    issuer = LocalIssuer(tmp_path)
    verifier = verifier_of(issuer)
    kid = json.loads(issuer.jwks_file.read_text())["keys"][0]["kid"]
    forged = jwt.encode(
        claims(issuer),
        ec.generate_private_key(ec.SECP256R1()),
        algorithm="ES256",
        headers={"kid": kid},
    )
    with pytest.raises(InvalidToken, match="alg"):
        verifier.verify(forged)
    assert verifier.verify(issuer.token("sw-1", "council", "practitioner")).user_id == "sw-1"


def test_a_key_set_over_plain_http_is_refused_at_start() -> None:
    with pytest.raises(RuntimeError, match="https"):
        TokenVerifier(Settings(service="test", auth_jwks="http://idp.example/jwks.json"))
    assert TokenVerifier(
        Settings(service="test", auth_jwks="https://idp.example/jwks.json")
    ).fetches


class RemoteKeys(TokenVerifier):
    """A verifier whose key set would be fetched (the fetch itself is not made here)."""

    threads: list[int]

    @property
    def fetches(self) -> bool:
        return True

    def verify(self, token: str) -> Principal:
        self.threads.append(threading.get_ident())
        return super().verify(token)


def test_a_verification_that_may_fetch_keys_runs_off_the_event_loop(tmp_path: Path) -> None:
    issuer = LocalIssuer(tmp_path)
    verifier = RemoteKeys(Settings(service="test", auth_jwks=str(issuer.ensure().jwks_file)))
    verifier.threads = []
    principal = asyncio.run(verifier.verify_async(issuer.token("sw-1", "council", "manager")))
    assert principal.user_id == "sw-1"
    assert verifier.threads and verifier.threads[0] != threading.get_ident()


class Counted(TokenVerifier):
    """A verifier that counts the signatures it checks."""

    checked = 0

    def verify(self, token: str) -> Principal:
        self.checked += 1
        return super().verify(token)


def test_a_token_verified_once_is_taken_again_until_its_expiry_and_a_refusal_never(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    issuer = LocalIssuer(tmp_path)
    verifier = Counted(Settings(service="test", auth_jwks=str(issuer.ensure().jwks_file)))
    token = issuer.token("sw-1", "council", "practitioner", hours=1)

    async def twice(token: str) -> list[Principal | str]:
        answers: list[Principal | str] = []
        for _ in range(2):
            try:
                answers.append(await verifier.verify_async(token))
            except InvalidToken as refused:
                answers.append(str(refused))
        return answers

    first, again = asyncio.run(twice(token))
    assert first == again and isinstance(first, Principal) and first.user_id == "sw-1"
    assert verifier.checked == 1
    # A forged token is checked, and refused, every time it is sent.
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert all("Signature" in str(a) for a in asyncio.run(twice(forged)))
    assert verifier.checked == 3
    # Past its expiry and the leeway the kept token is not taken: it is checked again (and
    # PyJWT, on its own clock, refuses it then).
    later = time.time() + 3600 + 31
    monkeypatch.setattr("shared.auth.time.time", lambda: later)
    asyncio.run(verifier.verify_async(token))
    assert verifier.checked == 4


def test_a_secret_file_is_private_even_when_it_existed_open_to_all(tmp_path: Path) -> None:
    path = tmp_path / "credentials.env"
    path.write_text("old\n")
    path.chmod(0o644)
    write_private(path, "CSP_KEY=secret\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text() == "CSP_KEY=secret\n"
    write_private(tmp_path / "new.pem", b"key")
    assert stat.S_IMODE((tmp_path / "new.pem").stat().st_mode) == 0o600


def test_a_schools_partners_token_names_the_schools_it_sends_registers_for(
    tmp_path: Path,
) -> None:
    issuer = LocalIssuer(tmp_path)
    verifier = verifier_of(issuer)
    school = verifier.verify(issuer.token("mis-1", "schools", "partner", schools=["113254"]))
    assert school.schools == {"113254"}
    assert school.may_send_for_school("113254") and not school.may_send_for_school("100001")
    # Without the claim a schools partner may send no school's register; a council user any.
    assert not verifier.verify(issuer.token("mis-2", "schools", "partner")).may_send_for_school(
        "113254"
    )
    assert verifier.verify(issuer.token("sw-1", "council", "manager")).may_send_for_school("1")
    malformed: list[Any] = ["113254", ["11325"], ["1132540"], [113254], ["11325a"], [None]]
    for bad in malformed:
        with pytest.raises(InvalidToken, match="six-digit school URNs"):
            verifier.verify(issuer.token("mis-3", "schools", "partner", schools=bad))
    # Only a schools partner's token names schools: on any other it is a misissued token.
    for agency, role in (("council", "practitioner"), ("police", "partner")):
        with pytest.raises(InvalidToken, match="schools partners"):
            verifier.verify(issuer.token("x", agency, role, schools=["113254"]))


def test_a_principal_knows_when_its_token_expires(tmp_path: Path) -> None:
    issuer = LocalIssuer(tmp_path)
    before = time.time()
    principal = verifier_of(issuer).verify(issuer.token("p-1", "police", "partner", hours=1))
    assert principal.expires_at is not None
    assert before + 3600 - 5 <= principal.expires_at <= time.time() + 3600 + 5
    # Not part of who it is: the same user with a later token is the same principal.
    assert principal == Principal(
        "p-1", principal.agency, principal.role, token_id=principal.token_id
    )


# -- which requests may be signed in by the dashboard's cookie ---------------------------------


def _scope(method: str, path: str, **headers: str) -> dict[str, object]:
    sent = [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()]
    return {"method": method, "path": path, "headers": [(b"cookie", b"csp_token=t0k"), *sent]}


def test_the_sign_in_cookie_signs_in_the_dashboards_pages_and_its_own_forms_only() -> None:
    from shared.auth import bearer_token

    assert bearer_token(_scope("GET", "/dashboard/live"), cookie=True) == "t0k"
    form = _scope("POST", "/dashboard/packs", sec_fetch_site="same-origin")
    assert bearer_token(form, cookie=True) == "t0k"
    # Without Sec-Fetch-Site, the Origin must be this host.
    by_origin = _scope("POST", "/dashboard/packs", origin="http://h:8000", host="h:8000")
    assert bearer_token(by_origin, cookie=True) == "t0k"
    refused = [
        _scope("POST", "/dashboard/packs", sec_fetch_site="cross-site"),
        _scope("POST", "/dashboard/packs", sec_fetch_site="same-site"),  # another port
        _scope("POST", "/dashboard/packs", origin="http://evil:8000", host="h:8000"),
        _scope("POST", "/dashboard/packs"),  # says nothing of where it comes from
        _scope("POST", "/boards/drift-checks", sec_fetch_site="same-origin"),  # an API
        _scope("PUT", "/dashboard/packs", sec_fetch_site="same-origin"),
    ]
    for scope in refused:
        assert bearer_token(scope, cookie=True) is None, scope
    # Another service's API never takes the cookie, whatever the request says.
    assert bearer_token(form, cookie=False) is None
    assert bearer_token(_scope("GET", "/children"), cookie=False) is None
