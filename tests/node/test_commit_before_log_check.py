"""At a round's ``open`` a node sends its seed commitment before it checks the ended round's
log: a commitment reveals nothing, and a thousand commitments are then not taken in by the
launcher behind a thousand log checks (docs/benchmarks/federation.md, session 8). At every
other state the check still comes first: nothing the node reveals or uploads goes to a
launcher whose log it has not checked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from launch.in_process import InProcessLauncherClient
from mpcrec.federation.announcement import Phase
from tests.node.world import World, make_launcher

NAMES = ["tube-a", "tube-b", "tube-c", "tube-d"]


class RecordingClient(InProcessLauncherClient):
    """The in-process client, noting each call that commits or checks the log, in order."""

    calls: list[str]

    def commit(self, *args: Any, **kwargs: Any) -> None:
        self.calls.append("commit")
        super().commit(*args, **kwargs)

    def reveal(self, *args: Any, **kwargs: Any) -> None:
        self.calls.append("reveal")
        super().reveal(*args, **kwargs)

    def tree_head(self, *args: Any, **kwargs: Any) -> Any:
        self.calls.append("log")
        return super().tree_head(*args, **kwargs)

    def log_proofs(self, *args: Any, **kwargs: Any) -> Any:
        self.calls.append("log")
        return super().log_proofs(*args, **kwargs)


def test_the_commitment_goes_before_the_log_check_and_the_reveal_after_it(
    tmp_path: Path,
) -> None:
    # Prepare: round 1 published, the nodes handed every state of it
    world = World.in_process(make_launcher(), tmp_path, NAMES)
    for name in NAMES:
        client = RecordingClient(world.launcher, name)
        client.calls = []
        world.clients[name] = client
    try:
        world.register_all()
        for _ in range(40):
            world.launcher.advance()
            ann = world.current()
            if ann.round_id == 2:
                break
            world.hand_out(ann)
        assert world.launcher.model(-1).version == 1
        for client in world.clients.values():
            assert isinstance(client, RecordingClient)
            client.calls.clear()

        # Execute: round 2's open (the round's end unseen, as a watcher without a seat), then
        # its reveal
        assert ann.phase is Phase.OPEN
        world.hand_out(ann)
        calls_at_open = {n: list(c.calls) for n, c in world.clients.items()}  # type: ignore[attr-defined]
        while ann.phase is Phase.OPEN:
            world.launcher.advance()
            ann = world.current()
        assert ann.phase is Phase.REVEALING
        world.hand_out(ann)

        # Assert: at open the commitment, then the check of round 1's log; the reveal after
        for name, client in world.clients.items():
            assert calls_at_open[name][0] == "commit", (name, calls_at_open[name])
            assert "log" in calls_at_open[name][1:], (name, calls_at_open[name])
            assert client.calls[-1] == "reveal", (name, client.calls)  # type: ignore[attr-defined]
            assert world.nodes[name].log_watch.checked == 1
    finally:
        world.close()
