"""A malicious contributor (the real node daemon with a hostile trainer, its own process)
against an honest launcher and honest committees: wrapping, spiky and over-norm updates."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.adversarial.harness import SECURE_MODEL, HostileFederation, drift_update

# one federation at a time (2 cores): the group runs on one xdist worker, in order
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("adversarial")]

HONEST = ["tube-0", "tube-1", "tube-2"]
EVIL = "evil"
KINDS = ["wrap", "spike", "over-norm"]


@pytest.mark.timeout(200)
def test_wrapping_spiky_and_over_norm_updates_are_rejected_and_the_honest_sum_is_exact(
    tmp_path: Path,
) -> None:
    """One round per kind, from base versions 0, 1, 2. Every member must reject the hostile
    update, and the published aggregate must be the honest contributors' sum under a public
    normalisation (1/N over the frozen contributions, or 1/N over the accepted ones), exact
    to the codec. The launcher's ``model:`` leaves ``range_bound`` out: the wrap guard must be
    on by default (finding 4); on today's main it is off and the wrapping update passes."""
    model = {k: v for k, v in SECURE_MODEL.items() if k != "range_bound"}
    clip = float(model["clip_norm"])
    with HostileFederation(tmp_path, [*HONEST, EVIL]) as fed:
        fed.setup(model=model, node_extra={EVIL: {"faults": {"skip_clip": True}}})
        fed.start("launcher")  # the real, honest launcher
        fed.start_nodes(HONEST)
        fed.start_module(
            EVIL,
            "tests.adversarial.hostile_contributor",
            "--config",
            str(tmp_path / f"{EVIL}.yaml"),
            "--vectors",
            ",".join(KINDS),
            "--clip-norm",
            str(clip),
        )

        def three_published() -> bool:
            done = [r for r in fed.rounds() if r.phase.value == "published"]
            return len({r.model_version for r in done if EVIL in r.contributors}) >= 3

        fed.wait_until(three_published, 100, "three published rounds with the hostile upload")
        fed.kill(EVIL)

    store = fed.store()
    problems: list[str] = []  # every kind checked, so a failure names all that got through
    try:
        done = [r for r in fed.rounds() if r.phase.value == "published" and EVIL in r.contributors]
        for rnd in done[:3]:
            kind = KINDS[rnd.model_version % len(KINDS)]
            results = store.results(rnd.round_id)
            took = sorted(member for member, result in results.items() if EVIL in result.accepted)
            if took:
                problems.append(f"{kind}: accepted by {took}")
            base, got = store.get_model(rnd.model_version), store.get_model(rnd.published_version)
            assert base is not None and got is not None
            aggregate = (got.array() - base.array()).ravel()
            honest = [c for c in rnd.contributors if c != EVIL]
            total = np.sum([drift_update(c, base.array(), clip) for c in honest], axis=0).ravel()
            scale = float(aggregate @ total / (total @ total))
            accepted = len(next(iter(results.values())).accepted)
            allowed = [1.0 / len(rnd.contributors), 1.0 / accepted]
            residual = float(np.abs(aggregate - scale * total).max())
            if min(abs(scale - a) for a in allowed) >= 1e-4 or residual >= 1e-3:
                problems.append(
                    f"{kind}: not the honest sum (scale {scale:.4g}, off {residual:.3g})"
                )
    finally:
        store.close()
    assert not problems, problems


@pytest.mark.timeout(200)
@pytest.mark.parametrize("kind", ["heavy", "infinite"])
def test_a_declared_weight_neither_takes_the_aggregate_nor_stops_the_rounds(
    tmp_path: Path, kind: str
) -> None:
    """The contributor sends an in-bounds update with weight 1e12 (on main: the published
    model is its update alone) or +inf (on main: every round it joins aborts on NaN). Rounds
    must still publish, and in each the contributor's normalised weight, solved from the
    published aggregate and every contributor's (public, deterministic) update, is at most
    one half: capped, uniform, or its contribution dropped are all correct."""
    with HostileFederation(tmp_path, [*HONEST, EVIL]) as fed:
        fed.setup()
        fed.start("launcher")  # the real, honest launcher
        fed.start_nodes(HONEST)
        fed.start_module(
            EVIL,
            "tests.adversarial.hostile_contributor",
            "--config",
            str(tmp_path / f"{EVIL}.yaml"),
            "--vectors",
            kind,
        )
        fed.wait_until(
            lambda: sum(r.phase.value == "published" for r in fed.rounds()) >= 2,
            90,
            "two published rounds while the contributor declares its weight",
        )
        fed.kill(EVIL)

    clip = float(SECURE_MODEL["clip_norm"])
    store = fed.store()
    try:
        for rnd in [r for r in fed.rounds() if r.phase.value == "published"][:2]:
            base, got = store.get_model(rnd.model_version), store.get_model(rnd.published_version)
            assert base is not None and got is not None
            aggregate = (got.array() - base.array()).ravel()
            updates = np.stack(
                [drift_update(c, base.array(), clip).ravel() for c in rnd.contributors]
            )
            weights, *_ = np.linalg.lstsq(updates.T, aggregate, rcond=None)
            assert np.abs(updates.T @ weights - aggregate).max() < 1e-3, "not a weighted sum"
            share = dict(zip(rnd.contributors, weights, strict=True)).get(EVIL, 0.0)
            assert share <= 0.5 + 1e-3, f"round {rnd.round_id}: {kind} weight took {share:.3f}"
    finally:
        store.close()
