"""Certificates made by the platform's own code: a CA of the deployment's own and one server
certificate, for the Kafka broker (deploy/local/kafka_security.py) and for the HTTPS every
API serves in compose.

    python -m deploy.local.tls --dir /etc/platform/tls --name server --host case-events ...
"""

from __future__ import annotations

import argparse
import datetime
import ipaddress
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from shared.private_files import write_private


def certificates(folder: Path, hosts: list[str], leaf: str = "broker") -> Path:
    """ca.pem and <leaf>.pem (the server's key and certificate chain, for a PEM keystore),
    made once in `folder`; the CA's own key is never written, so no other certificate can be
    signed. Returns the CA file clients verify the server against."""
    ca_file, broker_file = folder / "ca.pem", folder / f"{leaf}.pem"
    if ca_file.exists() and broker_file.exists():
        return ca_file
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"csp local {leaf} CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=825))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=825))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    private_key = key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    write_private(broker_file, private_key + cert.public_bytes(pem) + ca.public_bytes(pem))
    ca_file.write_bytes(ca.public_bytes(pem))
    return ca_file


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
