"""`bootstrap.py status`: what it shows and what it says needs acting on (the real stack's
status is checked in tests/integration/test_operations.py)."""

import pytest

from edahub.status import Server, Status, parse_size

HEALTHY = {"hub": "running/healthy", "proxy": "running/healthy", "netpolicy": "running/healthy",
           "mariadb": "running/healthy", "mongodb": "running/healthy",
           "mongodb-accounts": "running/healthy"}


def status(**changes):
    values = dict(versions={"edahub": "0.2.0"}, services=dict(HEALTHY),
                  servers=[Server("edahub-user-alice", 300 * 2**20, 2 * 2**30, 12.5)],
                  homes={"edahub-home-alice": 5 * 2**20},
                  databases={"mariadb u_alice_x": 2**20, "mongodb u_alice_x": 3 * 2**20},
                  disk_free=50 * 2**30, disk_total=100 * 2**30)
    values.update(changes)
    return Status(**values)


@pytest.mark.parametrize("text, size", [("135.3MiB", int(135.3 * 2**20)), ("12.3kB", 12300),
                                        ("0B", 0), ("2GiB", 2 * 2**30), ("", 0), ("n/a", 0)])
def test_sizes_as_docker_prints_them(text, size):
    assert parse_size(text) == size


def test_a_healthy_platform_shows_everything_and_nothing_to_act_on():
    text = status().render()
    for expected in ("Versions: edahub 0.2.0", "hub              running/healthy",
                     "Users' servers running: 1", "edahub-user-alice", "memory 300.0 MiB of 2.0 GiB",
                     "CPU 12%", "Home volumes: 1, 5.0 MiB", "Databases: 2, 4.0 MiB",
                     "50.0 GiB free of 100.0 GiB", "Nothing to act on."):
        assert expected in text, expected
    assert status().warnings() == []


def test_a_failed_service_is_named_with_where_to_look():
    warnings = status(services={**HEALTHY, "mongodb": "exited"}).warnings()
    assert warnings == ["mongodb is exited: read `docker compose logs mongodb`"]


def test_a_missing_network_policy_says_users_are_not_fenced_in():
    warnings = status(services={**HEALTHY, "netpolicy": "running/unhealthy"}).warnings()
    assert any("not fenced in" in w for w in warnings)
    assert status(services={**HEALTHY, "netpolicy": "missing"},
                  network_policy=False).warnings() == []


def test_a_nearly_full_disk_and_a_server_at_its_memory_limit_are_flagged():
    warnings = status(disk_free=5 * 2**30,
                      servers=[Server("edahub-user-bob", 1950 * 2**20, 2 * 2**30, 99.0)]).warnings()
    assert any(w.startswith("Docker's disk is nearly full (5.0 GiB free") for w in warnings)
    assert any(w.startswith("edahub-user-bob uses 95% of its memory limit") for w in warnings)
    assert "To act on:" in status(disk_free=1).render()
