"""A node that is not sent a round's ``published`` (the launcher's feed coalesces a round's
end into the next round's opening for watchers without a seat: launch.round_feed) still
follows the rounds: it checks the ended round's log, serves its model, and takes part in
the next round, with the daemon as it is (an old node sees the same announcements)."""

from __future__ import annotations

from pathlib import Path

from mpcrec.federation.announcement import Phase
from tests.node.world import World, make_launcher

NAMES = ["tube-a", "tube-b", "tube-c", "tube-d"]


def test_a_node_sent_no_published_checks_the_log_serves_the_model_and_takes_part(
    tmp_path: Path,
) -> None:
    # Prepare
    world = World.in_process(make_launcher(), tmp_path, NAMES)
    try:
        world.register_all()
        skipped: list[int] = []

        # Execute: every announcement but a round's published, to every node, two models
        # (the launcher opens the next round in the step that publishes: the nodes are
        # handed the next round's open, as a watcher without a seat is sent)
        for _ in range(60):
            world.launcher.advance()
            ann = world.current()
            if ann.phase is Phase.PUBLISHED:
                skipped.append(ann.round_id)
                continue
            assert ann.phase is not Phase.OPEN or ann.newest_model == ann.round_id - 1
            world.hand_out(ann)
            if world.launcher.model(-1).version >= 2 and ann.phase is Phase.OPEN:
                break

        # Assert
        rounds = [world.launcher.store.get_round(i) for i in (1, 2)]
        assert [r.published_version for r in rounds if r is not None] == [1, 2]
        assert set(world.launcher.store.commits(2)) == set(NAMES)  # round 2: everyone again
        assert set(world.launcher.store.contributions(2)) == set(NAMES)
        for node in world.nodes.values():
            assert node.served_version == 2  # followed from the next round's open
            assert node.log_watch.checked >= 2  # each ended round's log checked
            assert node.refusals.entries() == []  # nothing refused
            assert not node.forked
    finally:
        world.close()
