"""Certificates made by the platform's own code: a CA of the deployment's own and one server
certificate, for the Kafka broker (deploy/local/kafka_security.py) and for the HTTPS every
API serves in compose; and their renewal (deploy/rotate.py).

    python -m deploy.local.tls --dir /etc/platform/tls --name server --host case-events ...

A CA's own key is never written: no other certificate can ever be signed with it, so a
stolen file cannot mint a certificate. Renewal therefore means a new CA and a new leaf, and
clients trust both CAs (a bundle) while the server changes over.
"""

from __future__ import annotations

import argparse
import datetime
import ipaddress
import os
import secrets
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from shared.private_files import write_private

VALID_DAYS = 825  # the longest a browser ever accepted; a private CA could go longer
PEM = serialization.Encoding.PEM


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def new_authority(
    purpose: str, at: datetime.datetime, days: int = VALID_DAYS
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A CA key (kept in memory only) and its certificate. Each CA gets a name of its own
    (date and a random tag) and a key identifier: while clients trust the old and the new CA
    of a renewal, a verifier finds a leaf's issuer by name and key id, and two CAs of one name
    would let it try the wrong one."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(
                NameOID.COMMON_NAME,
                f"csp local {purpose} CA {at:%Y-%m-%d} {secrets.token_hex(3)}",
            )
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(at - datetime.timedelta(minutes=5))
        .not_valid_after(at + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def server_names(hosts: list[str]) -> list[x509.GeneralName]:
    """The subject alternative names of a server reached by these names or addresses."""
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def issue(
    ca_key: ec.EllipticCurvePrivateKey,
    ca: x509.Certificate,
    subject: x509.Name,
    names: list[x509.GeneralName],
    at: datetime.datetime,
    days: int = VALID_DAYS,
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A server's key and certificate, signed by the CA."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(at - datetime.timedelta(minutes=5))
        .not_valid_after(at + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


def keystore(
    key: ec.EllipticCurvePrivateKey, cert: x509.Certificate, ca: x509.Certificate
) -> bytes:
    """A PEM keystore: the private key, then the certificate chain (Kafka's PEM keystore and
    uvicorn's certfile both read this layout)."""
    private = key.private_bytes(
        PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return private + cert.public_bytes(PEM) + ca.public_bytes(PEM)


def certificates(
    folder: Path, hosts: list[str], leaf: str = "broker", ca_file: str = "ca.pem"
) -> Path:
    """`ca_file` and <leaf>.pem (the server's key and certificate chain, for a PEM keystore),
    made once in `folder`. Returns the CA file clients verify the server against."""
    ca_path, leaf_path = folder / ca_file, folder / f"{leaf}.pem"
    if ca_path.exists() and leaf_path.exists():
        return ca_path
    folder.mkdir(parents=True, exist_ok=True)
    at = now()
    ca_key, ca = new_authority(leaf, at)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])])
    key, cert = issue(ca_key, ca, subject, server_names(hosts), at)
    write_private(leaf_path, keystore(key, cert, ca))
    ca_path.write_bytes(ca.public_bytes(PEM))
    return ca_path


# -- renewal (deploy/rotate.py) ----------------------------------------------------------------


def certificates_in(pem: bytes) -> list[x509.Certificate]:
    """Every certificate of a PEM text (a keystore's chain, a CA bundle), in order."""
    return x509.load_pem_x509_certificates(pem) if b"-----BEGIN CERTIFICATE" in pem else []


def names_in(pem: bytes) -> list[str]:
    """The names and addresses the first certificate of a PEM text (a keystore) is valid for:
    its subject alternative names, in order."""
    cert = certificates_in(pem)[0]
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return [str(name.value) for name in names]


def renewal(
    current_keystore: bytes, purpose: str = "broker", at: datetime.datetime | None = None
) -> tuple[x509.Certificate, bytes]:
    """A new CA and, signed by it, a new key and certificate with the current one's subject
    and names (Kafka reloads a keystore live only if both are unchanged: KIP-226). Returns
    the new CA and the new keystore."""
    current = certificates_in(current_keystore)[0]
    at = at or now()
    ca_key, ca = new_authority(purpose, at)
    names = list(current.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
    key, cert = issue(ca_key, ca, current.subject, names, at)
    return ca, keystore(key, cert, ca)


def bundle(*pems: bytes) -> bytes:
    """One CA file of every certificate in these PEM texts, each once, in their order: what
    clients trust while a renewal changes the server over from one CA to the next."""
    seen: set[bytes] = set()
    out = b""
    for pem in pems:
        for cert in certificates_in(pem):
            der = cert.public_bytes(serialization.Encoding.DER)
            if der not in seen:
                seen.add(der)
                out += cert.public_bytes(PEM)
    return out


def days_left(cert: x509.Certificate, at: datetime.datetime | None = None) -> float:
    """Days until the certificate expires (negative once it has)."""
    return (cert.not_valid_after_utc - (at or now())).total_seconds() / 86400


def write_atomically(
    path: Path, content: bytes, private: bool = False, owner: int | None = None
) -> None:
    """Replace a file in one step: a client or the broker reading it while it changes sees
    the old file or the new one, never half of one. `owner`: the uid that must read it (the
    broker's, in compose), given before the file takes its name."""
    partial = path.with_name(f".{path.name}.new")
    if private:
        write_private(partial, content)
    else:
        partial.write_bytes(content)
    if owner is not None:
        os.chown(partial, owner, owner)
    os.replace(partial, path)


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.local.tls",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--name", default="server", help="the certificate's file name")
    parser.add_argument(
        "--host",
        action="append",
        required=True,
        help="a name or address the server is reached by (repeat)",
    )
    parser.add_argument("--owner", type=int, help="uid that runs the server (reads its key)")
    args = parser.parse_args()
    print(certificates(args.dir, args.host, args.name))
    if args.owner is not None:
        for path in [args.dir, *args.dir.iterdir()]:
            os.chown(path, args.owner, args.owner)


if __name__ == "__main__":
    main()
