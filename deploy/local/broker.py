"""The compose deployment's secure broker: its certificates (a CA of the deployment's own, and
one of the partner listener's own for its public names) and server.properties, made by the
local stack's own code so both run Kafka the same way.

    python -m deploy.local.broker --dir /etc/kafka/secure --ca-dir /etc/kafka/ca --host kafka \
        --public-hosts kafka.example-council.gov.uk --external-port 9094

Inside the container the internal listener (9092: the services, the broker itself) is open to
the compose network, the partner listener on CONTAINER_EXTERNAL_PORT, the controller on the
container's loopback address; compose publishes the partner listener alone, on the host's
`--external-port`, which is therefore the port the broker advertises to partners.
"""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

from deploy.local.kafka_security import ADMIN, EXTERNAL, MECHANISM, certificates
from deploy.local.stack import LocalStack
from shared.private_files import write_private
from shared.settings import Settings

INTERNAL_PORT = 9092  # the compose network's kafka:9092
CONTAINER_EXTERNAL_PORT = 9094  # docker-compose.yml maps the host's port to this one


def write_broker(
    folder: Path,
    ca_dir: Path,
    host: str,
    log_dir: Path,
    owner: int | None,
    public_hosts: list[str] | None = None,
    external_port: int = CONTAINER_EXTERNAL_PORT,
) -> None:
    """The compose broker's certificates and server.properties, from the local stack's own
    (the admin's password from CSP_KAFKA_ADMIN_PASSWORD). `public_hosts` (default
    CSP_KAFKA_PUBLIC_HOSTS) are the partner certificate's names, the first advertised with
    `external_port`, the port partners reach on the host."""
    stack = LocalStack(
        state_dir=folder,
        kafka_port=INTERNAL_PORT,
        secure=True,
        external_port=CONTAINER_EXTERNAL_PORT,
        public_hosts=public_hosts,  # None: CSP_KAFKA_PUBLIC_HOSTS
    )
    ca = certificates(stack.tls_dir, [host, "localhost"], stack.kafka_public_hosts)
    config = stack.kafka_dir / "server.properties"
    write_private(
        config,
        stack.kafka_properties(
            log_dir=log_dir,
            bind="0.0.0.0",
            advertised=host,
            external_bind="0.0.0.0",
            external_advertised_port=external_port,
        ),
    )
    admin = folder / "admin.properties"  # for the broker's own tools (its healthcheck)
    write_private(
        admin,
        "\n".join(
            [
                "security.protocol=SASL_SSL",
                f"sasl.mechanism={MECHANISM}",
                "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required "
                f'username="{ADMIN}" password="{stack.credential("CSP_KAFKA_ADMIN_PASSWORD")}";',
                "ssl.truststore.type=PEM",
                f"ssl.truststore.location={ca}",
                "",
            ]
        ),
    )
    ca_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(ca, ca_dir / "ca.pem")
    # What the operator sends partner agencies; no service reads it.
    shutil.copy(stack.tls_dir / EXTERNAL.ca, ca_dir / EXTERNAL.ca)
    if owner is not None:
        for path in [folder, *folder.rglob("*")]:
            os.chown(path, owner, owner)


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.local.broker",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--dir", type=Path, required=True, help="the broker's secure folder")
    parser.add_argument("--ca-dir", type=Path, required=True, help="where clients find ca.pem")
    parser.add_argument("--host", required=True, help="the broker's name on the network")
    parser.add_argument("--log-dir", type=Path, default=Path("/var/lib/kafka/data"))
    parser.add_argument("--owner", type=int, help="uid that runs the broker")
    parser.add_argument(
        "--public-hosts",
        help="names partners reach the broker by, comma-separated, the advertised one first "
        "(default CSP_KAFKA_PUBLIC_HOSTS)",
    )
    parser.add_argument(
        "--external-port",
        type=int,
        default=CONTAINER_EXTERNAL_PORT,
        help="the host's port compose publishes the partner listener on",
    )
    args = parser.parse_args()
    public = (
        Settings(kafka_public_hosts=args.public_hosts).public_hosts() if args.public_hosts else None
    )
    write_broker(
        args.dir, args.ca_dir, args.host, args.log_dir, args.owner, public, args.external_port
    )


if __name__ == "__main__":
    main()
