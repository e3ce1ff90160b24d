from __future__ import annotations

from deploy.local.stack import new_kafka_cluster_id, service_processes


def test_kafka_cluster_ids_never_look_like_an_option() -> None:
    # About 1 in 64 random ids would start with '-': the storage tool reads it as an option.
    ids = [new_kafka_cluster_id() for _ in range(5000)]
    assert not any(i.startswith("-") for i in ids)
    assert all(len(i) == 22 for i in ids)


def test_every_service_has_an_api_and_a_worker_on_distinct_ports() -> None:
    processes = service_processes(8000)
    assert len({p.port for p in processes}) == len(processes) == 14
    # The newest service after the others, so that every existing port stays as it was.
    ports = {p.name: p.port for p in processes}
    assert (ports["partner_feeds_api"], ports["quality_api"], ports["quality_worker"]) == (
        8005,
        8006,
        8016,
    )
    assert {p.role for p in processes} == {"api", "worker"}
