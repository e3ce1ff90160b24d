"""The compose deployment's secure broker: its certificates (a CA of the deployment's own) and
server.properties, made by the local stack's own code so both run Kafka the same way.

    python -m deploy.local.broker --dir /etc/kafka/secure --ca-dir /etc/kafka/ca --host kafka
"""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

from deploy.local.kafka_security import ADMIN, MECHANISM, certificates
from deploy.local.stack import LocalStack
from shared.private_files import write_private


def write_broker(folder: Path, ca_dir: Path, host: str, log_dir: Path, owner: int | None) -> None:
    """The compose broker's certificates and server.properties, from the local stack's own
    (the admin's password from CSP_KAFKA_ADMIN_PASSWORD)."""
    stack = LocalStack(state_dir=folder, kafka_port=9092, secure=True)
    ca = certificates(stack.tls_dir, [host, "localhost"])
    config = stack.kafka_dir / "server.properties"
    write_private(config, stack.kafka_properties(log_dir=log_dir, bind="0.0.0.0", advertised=host))
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
    args = parser.parse_args()
    write_broker(args.dir, args.ca_dir, args.host, args.log_dir, args.owner)


if __name__ == "__main__":
    main()
