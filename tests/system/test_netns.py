"""Across hosts: the launcher and each node in its own network namespace with its own address.

Namespaces joined by veth pairs to one bridge (as root, with ``ip``); nothing may assume
localhost: certificates name each host's address, nodes dial the launcher's, committee
members each other's.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from launch.round import Phase
from tests.system.federation import Federation, published

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("ip") is None, reason="needs root and iproute2"
)
NODES = [f"host-{i}" for i in range(4)]


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=20)


class Hosts:
    """A bridge and one namespace per host, each with an address on a private /24."""

    def __init__(self, names: list[str]) -> None:
        tag = secrets.token_hex(3)
        self.bridge = f"mb{tag}"
        subnet = f"10.{100 + int(tag[:2], 16) % 100}.{int(tag[2:4], 16)}"
        self.ns = {name: f"mpcrec-{tag}-{i}" for i, name in enumerate(names)}
        self.addr = {name: f"{subnet}.{i + 10}" for i, name in enumerate(names)}
        _ip("link", "add", self.bridge, "type", "bridge")
        _ip("link", "set", self.bridge, "up")
        for i, name in enumerate(names):
            ns, outside, inside = self.ns[name], f"mv{tag}{i}", "eth0"
            _ip("netns", "add", ns)
            _ip("link", "add", outside, "type", "veth", "peer", "name", inside, "netns", ns)
            _ip("link", "set", outside, "master", self.bridge, "up")
            _ip("-n", ns, "addr", "add", f"{self.addr[name]}/24", "dev", inside)
            _ip("-n", ns, "link", "set", inside, "up")
            _ip("-n", ns, "link", "set", "lo", "up")

    def prefix(self, name: str) -> list[str]:
        return ["ip", "netns", "exec", self.ns[name]]

    def remove(self) -> None:
        for ns in self.ns.values():
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=20)
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True, timeout=20)


@pytest.fixture
def hosts() -> Iterator[Hosts]:
    made = Hosts(["launcher", *NODES])
    try:
        yield made
    finally:
        made.remove()


@pytest.mark.slow
@pytest.mark.timeout(180)
@pytest.mark.parametrize("aggregation", ["plaintext", "secure"])
def test_federation_across_namespaces(hosts: Hosts, tmp_path: Path, aggregation: str) -> None:
    fed = Federation(tmp_path, NODES)
    model = {"n_items": 8, "dim": 4, "aggregation": aggregation, "clip_norm": 100.0}
    rules = {
        "committee_size": 3,
        "min_contributors": 3,
        "cooldown": 1,
        "commit_s": 10,
        "reveal_s": 10,
        "collect_s": 20,
        "compute_s": 120,
    }
    fed.write(
        model=model,
        rounds=rules,
        schedule={"rounds": 2, "min_instances": 4},
        host=hosts.addr["launcher"],
        node_hosts=hosts.addr,
        with_beacon=False,  # the launcher's namespace has no route to a loopback beacon
    )
    try:
        fed.start("launcher", *hosts.prefix("launcher"))
        for name in NODES:
            fed.start(name, *hosts.prefix(name))

        rounds = fed.wait_for(lambda rs: len(published(rs)) >= 2, 160, "2 rounds across hosts")
    finally:
        fed.stop_all()

    assert [r.phase for r in rounds[:2]] == [Phase.PUBLISHED, Phase.PUBLISHED]
    assert "127.0.0.1" not in (tmp_path / "federation.yaml").read_text()
    assert all(len(set(r.committee)) == 3 and set(r.committee) <= set(NODES) for r in rounds[:2])
