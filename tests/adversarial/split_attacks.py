"""A hostile launcher's lies about a ``dpals`` federation's budget split (docs/threat-model.md,
"Every claim, its attacker, and how its test failed before"): one user-level federation at
``user_rate`` 1, whose config declares ε and δ and so, by the exact split
(:func:`mpcrec.federation.dpals_noise.dpals_multipliers`), the count release's ``z_count``
and the statistics' ``z``. Every round of a ``dpals`` federation on model version 0 is the
count release, and its parameters sign both multipliers.

The launcher tells each lie **consistently everywhere**: it runs it (its ``spec`` and round
parameters, so ``RegisterReply``, every announcement's parameters and digest and its own
checks of uploads agree) and signs it (a config entry in force from the lie's first round,
:meth:`SplitLies._sign`), so what the nodes are told is what the log says. From
registration on, one stage of :data:`STAGES` a round, in order:

``move-to-counts``
    the same total ε (within a relative 1e-9: the pair is the split's composition, a hair
    noisier), but :data:`COUNTS_SHARE` of it to the counts (the count release less noise,
    the statistics more);
``move-to-statistics``
    the reverse: :data:`STATISTICS_SHARE` to the counts;
``less-statistics-noise``
    the count release's ``z_count`` as declared, the statistics' ``z`` times
    :data:`LESS_NOISE` (a round of less noise than the declared split);
``one-percent-less``
    both multipliers :data:`ONE_PERCENT` below the declared split: the exact split of a
    larger ε (so the split itself holds), more than the declared budget affords for the
    two rounds it runs (the exact Gaussian accountant holds at ``q = 1``);
``instance-level-counts``
    the count release at instance level (``sensitivity: replace-one``), the statistics'
    ``z`` as declared and the counts' :data:`INSTANCE_COUNT_Z`: almost no noise on the
    counts, which no floor rule read at instance level (``floor-noise`` reads ``z``);
``honest`` (the control)
    the declared pair again: the count release must publish.

A stage moves on once every participant committed in one of its rounds that reached
collecting (a node late for a commit window takes no step of that round, so it could not
refuse it), or after :data:`MAX_TRIES` rounds. At each move every node's watch is ended
(``watch_epoch``): it registers again and so learns the stage's spec before the next round
opens. Its own budget is counted at the lie it runs, and it opens the lie's rounds even
when that budget affords none (``instance-level-counts``). Every upload that reaches the
launcher is recorded before its own checks (``learned["uploads"]``: round, contributor).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from launch.budget import PrivacyBudget
from launch.round import Phase, Round
from mpcrec.model.tuned_dpals import ALS_DP
from mpcrec.privacy.budget import REPLACE_ONE
from tests.adversarial.hooks import Attack, current_caller

MOVE_TO_COUNTS, MOVE_TO_STATISTICS = "move-to-counts", "move-to-statistics"
LESS_STATISTICS, ONE_PERCENT_LESS, HONEST = "less-statistics-noise", "one-percent-less", "honest"
INSTANCE_LEVEL = "instance-level-counts"
STAGES = (
    MOVE_TO_COUNTS,
    MOVE_TO_STATISTICS,
    LESS_STATISTICS,
    ONE_PERCENT_LESS,
    INSTANCE_LEVEL,
    HONEST,
)
COUNTS_SHARE = 0.5  # of 1 / z1^2 to the counts in ``move-to-counts`` (declared: 0.05)
STATISTICS_SHARE = 0.01  # ... in ``move-to-statistics``
LESS_NOISE = 0.9
ONE_PERCENT = 0.99
INSTANCE_COUNT_Z = 1e-3
MAX_TRIES = 3
NOISIER = 1.0 + 1e-9  # a moved pair's total ε stays (just) within the declared one


def moved(z: float, z_count: float, share: float) -> tuple[float, float]:
    """``(z, z_count)`` of the same composed multiplier ``z1`` (``1 / z1^2 = 1 / z_count^2 +
    iterations / z^2``: the same ε on the exact curve) with ``share`` of ``1 / z1^2`` to
    the counts."""
    inverse = 1.0 / z_count**2 + ALS_DP.iterations / z**2  # 1 / z1^2
    z_moved = math.sqrt(ALS_DP.iterations / ((1.0 - share) * inverse))
    return z_moved * NOISIER, math.sqrt(1.0 / (share * inverse)) * NOISIER


def stage_pair(stage: str, z: float, z_count: float) -> tuple[float, float]:
    """The ``(z, z_count)`` a stage signs, from the declared split's ``(z, z_count)``."""
    if stage == MOVE_TO_COUNTS:
        return moved(z, z_count, COUNTS_SHARE)
    if stage == MOVE_TO_STATISTICS:
        return moved(z, z_count, STATISTICS_SHARE)
    if stage == LESS_STATISTICS:
        return z * LESS_NOISE, z_count
    if stage == ONE_PERCENT_LESS:
        return z * ONE_PERCENT, z_count * ONE_PERCENT
    if stage == INSTANCE_LEVEL:
        return z, INSTANCE_COUNT_Z
    return z, z_count


class SplitLies(Attack):
    """The lies of the module docstring, one stage at a time from the first round."""

    name = "split-lies"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stage = 0  # index into STAGES of the spec told now
        self.tries = 0  # rounds of the current stage that ended
        self.stage_of: dict[int, str] = {}  # round -> the stage it ran under
        self.collecting: set[int] = set()  # rounds that reached collecting
        self.epoch = 0
        self.honest: Any = None  # the declared spec

    def _spec(self, index: int) -> Any:
        honest = self.honest
        z, z_count = stage_pair(
            STAGES[index], honest.noise_multiplier, honest.count_noise_multiplier
        )
        level = {"sensitivity": REPLACE_ONE} if STAGES[index] == INSTANCE_LEVEL else {}
        return dataclasses.replace(
            honest, noise_multiplier=z, count_noise_multiplier=z_count, **level
        )

    def launcher_spec(self, spec: Any) -> Any:
        assert spec.count_noise_multiplier > 0, "not a dpals federation with a count release"
        self.honest = spec
        return self._spec(0)

    def opened(self, launcher: Any, rnd: Round) -> Round:
        stage = STAGES[self.stage]
        self.stage_of[rnd.round_id] = stage
        self._sign(launcher, rnd.round_id)
        z, z_count = launcher.params.noise_multiplier, launcher.params.count_noise_multiplier
        item = {"round": rnd.round_id, "stage": stage, "z": z, "z_count": z_count}
        self.learned.add("stages", item)
        return rnd

    def _sign(self, launcher: Any, from_round: int) -> None:
        """A config entry for the spec it runs, in force from ``from_round`` (the real
        launcher's own writer, which skips it when the last entry says the same)."""
        launcher.trail.config(
            launcher.policy,
            launcher.privacy,
            from_round=from_round,
            launcher_key=launcher.launcher_key,
            beacon=launcher.beacon.chain,
            params=launcher.params,
        )

    def save(self, launcher: Any, rnd: Round) -> Round:
        if rnd.phase is Phase.COLLECTING:
            self.collecting.add(rnd.round_id)
        ended = rnd.phase.terminal and self.stage_of.get(rnd.round_id) == STAGES[self.stage]
        if ended and self.stage < len(STAGES) - 1:
            self.tries += 1
            commits = launcher.store.commits(rnd.round_id)
            reached = rnd.round_id in self.collecting and set(rnd.participants) <= set(commits)
            if reached or self.tries >= MAX_TRIES:
                self._move(launcher)
        return rnd

    def _move(self, launcher: Any) -> None:
        """The next stage's spec, run from now (and told: every watch ends)."""
        self.stage, self.tries = self.stage + 1, 0
        launcher.spec = self._spec(self.stage)
        policy = launcher.policy
        launcher.params = launcher.spec.params(
            committee_size=policy.committee_size, min_contributors=policy.min_contributors
        )
        spent = launcher._revealed_mechanisms()  # its own stop, counted at the new pair
        launcher.budget = PrivacyBudget.of_rounds(launcher.privacy, launcher.params, spent=spent)
        self.epoch += 1

    def watch_epoch(self) -> int:
        return self.epoch

    def budget_spent(self, launcher: Any, spent: bool) -> bool:
        return spent and STAGES[self.stage] == HONEST  # a lie's own budget may afford none

    def register_reply(self, reply: Any) -> None:
        self.learned.add("registrations", {"stage": STAGES[self.stage], "caller": current_caller()})

    def upload_attempt(self, launcher: Any, upload: Any) -> None:
        self.learned.add("uploads", [upload.round_id, upload.contributor])


def split_attacks() -> dict[str, type[Attack]]:
    """The attacks of this module by name (registered in :data:`attacks.ATTACKS`)."""
    return {SplitLies.name: SplitLies}
