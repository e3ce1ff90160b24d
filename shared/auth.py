"""Who is calling: OAuth2 bearer tokens (JWT), verified against the council's identity
provider's key set, and a local issuer for development and tests.

A token names its user (`sub`), agency (`agency`) and role (`role`), and may limit a council
user to some localities (`localities`); a schools partner's token names the schools it speaks
for (`schools`: their six-digit URNs), without which it may send no register feed. It is
verified against `CSP_AUTH_JWKS` (a JWKS file, or the provider's https URL; never http),
`CSP_AUTH_ISSUER` and `CSP_AUTH_AUDIENCE`; RS256 and ES256 are accepted, each only with a key
of its kind, nothing weaker. No endpoint but /health (and the sign-in and sign-out pages with
the dashboard's static assets) answers without one: every other request is 401 before any
handler runs. The dashboard's sign-in cookie is taken only by the app that serves it.

    python -m shared.auth keys --dir DIR            # a local signing key and its JWKS
    python -m shared.auth token --user sw-17 --agency council --role practitioner
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import re
import sys
import time
import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import jwt
from cachetools import TTLCache
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from limits import parse_many
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import FixedWindowRateLimiter
from starlette.responses import JSONResponse, RedirectResponse

from shared.envelope import Actor, Agency
from shared.private_files import write_private
from shared.settings import Settings

ALGORITHMS = ["RS256", "ES256"]
LEEWAY_S = 30  # of a token's times (exp, iat), for clocks a little apart
# The issuer's key set fetched over https is kept this long; a verified token no longer.
KEYS_KEPT_S = 300
VERIFIED_KEPT = 10_000  # tokens kept verified at once, each a few hundred bytes
COOKIE = "csp_token"
# Reachable without a token: health (for orchestrators), and the sign-in and sign-out pages
# with the dashboard's static assets (no data in any).
PUBLIC_PATHS = ("/health", "/login", "/logout")
PUBLIC_PREFIXES = ("/static/", "/assets/")
# Browser pages: without a token, sent to sign in rather than answered 401.
PAGES = ("/", "/dashboard", "/definitions")


class Role(StrEnum):
    PRACTITIONER = "practitioner"  # social workers, personal advisers, early-help workers
    MANAGER = "manager"  # team and service managers
    IRO = "iro"  # independent reviewing officers and child protection chairs
    BOARD_MEMBER = "board_member"  # partnership oversight boards: aggregates only
    INCIDENT_MANAGEMENT = "incident_management"  # incident management teams
    OPERATIONS = "operations"  # runs the platform: metrics, no personal data
    INFORMATION_GOVERNANCE = "information_governance"  # audit, subject access, erasure
    PARTNER = "partner"  # a user of a partner agency (police, health, schools...)


COUNCIL_ROLES = frozenset(Role) - {Role.PARTNER}
PARTNER_AGENCIES = frozenset(Agency) - {Agency.COUNCIL, Agency.PLATFORM}
# A school's unique reference number (the kernel's own copy of the contracts' URN pattern).
SCHOOL_URN = re.compile(r"[0-9]{6}")


class InvalidToken(Exception):
    """The token is missing, malformed, expired, for someone else, or not signed by the
    issuer."""


@dataclass(frozen=True)
class Principal:
    user_id: str
    agency: Agency
    role: Role
    localities: frozenset[str] | None = None  # None: every locality
    token_id: str | None = None
    schools: frozenset[str] = frozenset()  # a schools partner's schools (URNs); else none
    # When the token stops being good (its `exp`, seconds since the epoch): what holds a
    # connection open (a live stream) ends by then, so it never outlives its token.
    expires_at: float | None = field(default=None, compare=False)

    def may_send_for_school(self, school_urn: str) -> bool:
        """A council user may send any school's register; a partner only its own schools'."""
        return self.role is not Role.PARTNER or school_urn in self.schools

    @property
    def actor(self) -> Actor:
        return Actor(user_id=self.user_id, agency=self.agency, role=self.role.value)

    def may_see_locality(self, locality: str | None) -> bool:
        return self.localities is None or locality is None or locality in self.localities


def principal_from_claims(claims: dict[str, Any]) -> Principal:
    try:
        agency, role = Agency(claims["agency"]), Role(claims["role"])
    except (KeyError, ValueError) as error:
        raise InvalidToken(
            f"the token's agency or role is not one this platform knows: {error}"
        ) from None
    if agency is not (Agency.COUNCIL if role in COUNCIL_ROLES else agency) or (
        role is Role.PARTNER
    ) != (agency in PARTNER_AGENCIES):
        raise InvalidToken(f"role {role} is not a role of agency {agency}")
    localities = claims.get("localities")
    if localities is not None and not (
        isinstance(localities, list) and all(isinstance(x, str) for x in localities)
    ):
        raise InvalidToken("localities must be a list of locality names")
    return Principal(
        str(claims["sub"]),
        agency,
        role,
        frozenset(localities) if localities is not None else None,
        claims.get("jti"),
        _schools(claims, agency),
        float(claims["exp"]) if isinstance(claims.get("exp"), int | float) else None,
    )


def _schools(claims: dict[str, Any], agency: Agency) -> frozenset[str]:
    """The schools a schools partner's token speaks for: a list of URNs, or none at all."""
    schools = claims.get("schools")
    if schools is None:
        return frozenset()
    if agency is not Agency.SCHOOLS:
        raise InvalidToken(f"schools is a claim of schools partners' tokens, not {agency}'s")
    if not (
        isinstance(schools, list)
        and all(isinstance(x, str) and SCHOOL_URN.fullmatch(x) for x in schools)
    ):
        raise InvalidToken("schools must be a list of six-digit school URNs")
    return frozenset(schools)


class TokenVerifier:
    def __init__(self, settings: Settings) -> None:
        source = settings.auth_jwks
        if not source:
            raise RuntimeError(
                "CSP_AUTH_JWKS is not set: the services will not start without "
                "the identity provider's key set (make run generates a local "
                "one; see docs/security.md)"
            )
        self.issuer, self.audience = settings.auth_issuer, settings.auth_audience
        self._client: jwt.PyJWKClient | None = None
        self._keys: list[jwt.PyJWK] = []
        self._verified: TTLCache[str, Principal] = TTLCache(VERIFIED_KEPT, KEYS_KEPT_S)
        if source.startswith("http://"):
            # A key set fetched in the clear could be swapped on the way: anyone could then
            # sign tokens the platform accepts.
            raise RuntimeError("CSP_AUTH_JWKS must be an https:// URL or a file, not http://")
        if source.startswith("https://"):
            self._client = jwt.PyJWKClient(source, cache_keys=True, lifespan=KEYS_KEPT_S)
        else:
            self._keys = jwt.PyJWKSet.from_json(Path(source).read_text()).keys

    @property
    def fetches(self) -> bool:
        """Whether verifying may fetch the key set over the network (a blocking call)."""
        return self._client is not None

    def _key(self, token: str) -> jwt.PyJWK:
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            if self._client is not None:
                return self._client.get_signing_key_from_jwt(token)
        except jwt.PyJWTError as error:
            raise InvalidToken(str(error)) from None
        for key in self._keys:
            if kid is None or key.key_id == kid:
                return key
        raise InvalidToken(f"no key {kid!r} in the issuer's key set")

    def verify(self, token: str) -> Principal:
        key = self._key(token)
        # The key decides the algorithm, never the token's header: an ES256 header on an RSA
        # key is a forged or broken token (401), not a crash.
        algorithm = key.algorithm_name if key.algorithm_name in ALGORITHMS else None
        if algorithm is None:
            raise InvalidToken(f"the issuer's key {key.key_id!r} is not for {ALGORITHMS}")
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=[algorithm],
                audience=self.audience,
                issuer=self.issuer,
                leeway=LEEWAY_S,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.PyJWTError as error:
            raise InvalidToken(str(error)) from None
        return principal_from_claims(claims)

    async def verify_async(self, token: str) -> Principal:
        """`verify`, off the event loop when it may fetch the key set; a token verified
        before is taken again, as it was, until its `exp` (and the leeway), for no longer
        than the key set is kept (KEYS_KEPT_S): a key the issuer withdraws stops being
        honoured when it would have without this. A refusal is never kept. The signature
        was a twelfth of the case-events API's time at 400 commands/s (docs/performance.md),
        spent again on every request of a client sending the same token."""
        kept = self._verified.get(token)
        expires_at = kept.expires_at if kept is not None else None
        if kept is not None and expires_at is not None and time.time() <= expires_at + LEEWAY_S:
            return kept
        if self.fetches:
            principal = await asyncio.to_thread(self.verify, token)
        else:
            principal = self.verify(token)
        self._verified[token] = principal  # on the event loop only: the cache is not locked
        return principal


# The dashboard's own forms (an acknowledgement, a board pack and its commentary) post here;
# the dashboard forwards each to the service that records it, with the user's token.
DASHBOARD_FORMS = "/dashboard/"


def same_origin(headers: dict[bytes, bytes]) -> bool:
    """Whether a browser says the request comes from a page of this same origin: its
    `Sec-Fetch-Site` (every current browser sends it), else its `Origin` against `Host`. A
    request that says neither is not taken to be."""
    site = headers.get(b"sec-fetch-site")
    if site is not None:
        return site == b"same-origin"
    origin, host = headers.get(b"origin"), headers.get(b"host")
    return origin is not None and host is not None and origin.partition(b"://")[2] == host


def bearer_token(scope: dict[str, Any], cookie: bool = False) -> str | None:
    """From `Authorization: Bearer`, or, where `cookie` (the app that serves the dashboard),
    the sign-in cookie: for a browser's GET, and for a POST of one of the dashboard's own forms
    from a page of the same origin (the cookie is SameSite Strict as well, so another site
    can ride on it neither way). Never for a command to an API: cookies are scoped by host,
    not port, so every other service's API is sent the cookie too, and must not take it."""
    headers = dict(scope["headers"])
    value = headers.get(b"authorization", b"").decode("latin-1")
    if value[:7].lower() == "bearer ":
        return value[7:].strip()
    form = (
        scope["method"] == "POST"
        and str(scope.get("path", "")).startswith(DASHBOARD_FORMS)
        and same_origin(headers)
    )
    if cookie and (scope["method"] in ("GET", "HEAD") or form):
        for part in headers.get(b"cookie", b"").decode("latin-1").split(";"):
            name, _, token = part.strip().partition("=")
            if name == COOKIE and token:
                return token
    return None


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


class Authenticate:
    """ASGI middleware: every request but the public ones carries a valid token, or is
    answered 401 (where `cookie`, the app that serves the dashboard, a browser page is sent
    to sign in, and the sign-in cookie is honoured: elsewhere bearer tokens only). The
    principal is put in `scope["state"]["principal"]` for the handlers. Failed
    authentications from one client address beyond `failures` (e.g. "50/second") are
    answered 429 with Retry-After instead; a valid token is never refused by it."""

    def __init__(
        self,
        app: Any,
        verifier: TokenVerifier,
        cookie: bool = False,
        failures: str | None = None,
    ) -> None:
        self.app, self.verifier, self.cookie = app, verifier, cookie
        self.failures = parse_many(failures) if failures else []
        self.limiter = FixedWindowRateLimiter(MemoryStorage())

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or is_public(scope["path"]):
            await self.app(scope, receive, send)
            return
        token = bearer_token(scope, self.cookie)
        try:
            if token is None:
                raise InvalidToken("no bearer token")
            principal = await self.verifier.verify_async(token)
        except InvalidToken as error:
            if (refused := await self._over_failure_limit(scope)) is not None:
                await refused(scope, receive, send)
                return
            if (
                self.cookie
                and scope["method"] == "GET"
                and token is None
                and (scope["path"] in PAGES or scope["path"].startswith("/dashboard"))
            ):
                response: Any = RedirectResponse(f"/login?next={scope['path']}", 303)
            else:
                response = JSONResponse(
                    {"detail": f"authentication required: {error}"},
                    status_code=401,
                    headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
                )
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)

    async def _over_failure_limit(self, scope: Any) -> JSONResponse | None:
        """A 429 when this failed authentication is one too many from the client's address
        (per process, like the per-user limit)."""
        address = (scope.get("client") or ("unknown", 0))[0]
        for item in self.failures:
            if not await self.limiter.hit(item, "auth-failures", address):
                reset, _ = await self.limiter.get_window_stats(item, "auth-failures", address)
                retry = max(1, math.ceil(reset - time.time()))
                return JSONResponse(
                    {
                        "detail": f"more than {item} failed authentications from this "
                        f"address: try again in {retry} s"
                    },
                    status_code=429,
                    headers={"Retry-After": str(retry)},
                )
        return None


# -- the local issuer (make run, tests): not for production, where the council's identity
# -- provider issues the tokens --------------------------------------------------------------


@dataclass(frozen=True)
class LocalIssuer:
    """A signing key and its JWKS in `folder`, made on first use."""

    folder: Path
    issuer: str = Settings.model_fields["auth_issuer"].default
    audience: str = Settings.model_fields["auth_audience"].default

    @property
    def jwks_file(self) -> Path:
        return self.folder / "jwks.json"

    @property
    def key_file(self) -> Path:
        return self.folder / "signing-key.pem"

    def ensure(self) -> LocalIssuer:
        if self.key_file.exists() and self.jwks_file.exists():
            return self
        self.folder.mkdir(parents=True, exist_ok=True)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        write_private(self.key_file, pem)
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
        jwk.update(kid=uuid.uuid4().hex[:16], use="sig", alg="RS256")
        self.jwks_file.write_text(json.dumps({"keys": [jwk]}, indent=2))
        return self

    def token(
        self,
        user: str,
        agency: str | Agency,
        role: str | Role,
        localities: list[str] | None = None,
        hours: float = 12,
        schools: list[str] | None = None,
        **extra: Any,
    ) -> str:
        self.ensure()
        kid = json.loads(self.jwks_file.read_text())["keys"][0]["kid"]
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": user,
            "agency": str(agency),
            "role": str(role),
            "iat": now,
            "exp": now + int(hours * 3600),
            "jti": uuid.uuid4().hex,
            **extra,
        }
        if localities is not None:
            claims["localities"] = localities
        if schools is not None:
            claims["schools"] = schools
        return jwt.encode(
            claims, self.key_file.read_bytes(), algorithm="RS256", headers={"kid": kid}
        )

    def headers(
        self, user: str, agency: str | Agency, role: str | Role, **options: Any
    ) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(user, agency, role, **options)}"}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m shared.auth",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    keys = commands.add_parser("keys", help="make a local signing key and its JWKS")
    keys.add_argument("--dir", type=Path, default=Path(".local/run/auth"))
    token = commands.add_parser("token", help="mint a token with the local key")
    token.add_argument("--dir", type=Path, default=Path(".local/run/auth"))
    token.add_argument("--user", required=True)
    token.add_argument("--agency", required=True, choices=[a.value for a in Agency])
    token.add_argument("--role", required=True, choices=[r.value for r in Role])
    token.add_argument(
        "--locality",
        action="append",
        dest="localities",
        help="limit to this locality (repeat for several)",
    )
    token.add_argument(
        "--school",
        action="append",
        dest="schools",
        help="a schools partner's school, by URN (repeat for several)",
    )
    token.add_argument("--hours", type=float, default=12)
    args = parser.parse_args(argv)
    issuer = LocalIssuer(args.dir)
    if args.command == "keys":
        issuer.ensure()
        print(issuer.jwks_file)
        return
    try:
        principal_from_claims(
            {"sub": args.user, "agency": args.agency, "role": args.role, "schools": args.schools}
        )
    except InvalidToken as error:
        sys.exit(f"refused: {error}")
    print(
        issuer.token(
            args.user, args.agency, args.role, args.localities, args.hours, schools=args.schools
        )
    )


if __name__ == "__main__":
    main()
