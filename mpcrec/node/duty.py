"""A committee member's work in a ``plaintext`` round: open, check, sum, step.

The secure round does the same inside CrypTen on sealed shares (:mod:`mpcrec.secure`); this
is the baseline it is compared with, and the plaintext twin the tests check it against.

1. Open each envelope addressed to this member; reject (with a logged reason) any bound to
   another round or model, of the wrong length, not finite, or with an L2 norm above
   ``clip_norm``.
2. ``aggregate = sum_i w_i * delta_i / sum_j w_j``: ``i`` over the accepted contributions,
   ``j`` over all (weights are public before the checks, as in the secure round).
3. with ``noise_multiplier`` ``z``: ``aggregate += N(0, (z * clip_norm * max_j w_j)^2)``;
4. ``next = ServerSGD.public_offset(model) + lr * aggregate``, the velocity coming from the
   two last published models (public).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from mpcrec.errors import ProtocolError
from mpcrec.federation.plain import open_plain
from mpcrec.federation.spec import FederationSpec
from mpcrec.model.server import ServerSGD, weighted_sum

log = logging.getLogger("mpcrec.node.duty")
Matrix = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Envelope:
    """One envelope a member downloaded: who sent it, its public weight, its bytes."""

    contributor: str
    weight: float
    signing_key: bytes
    data: bytes


def plain_round(
    envelopes: Sequence[Envelope],
    *,
    spec: FederationSpec,
    round_id: int,
    model: Matrix,
    model_hash: bytes,
    previous: Matrix | None,
    seed: bytes = b"",
) -> tuple[Matrix, tuple[str, ...]]:
    """The next model and the accepted contributors (see the module docstring).

    With ``spec.noise_multiplier`` the sum gets Gaussian noise drawn from the round's public
    ``seed`` (every member draws the same, so they agree; a plaintext committee protects
    nothing anyway: this keeps the baseline's utility comparable to the secure round's).
    """
    accepted: list[tuple[str, float, Matrix]] = []
    for env in envelopes:
        try:
            values = open_plain(
                env.data,
                round_id=round_id,
                model_hash=model_hash,
                contributor=env.contributor,
                size=spec.size,
            )
        except ProtocolError as err:
            log.warning("round %d: rejected: %s", round_id, err)
            continue
        norm = float(np.linalg.norm(values))
        if norm > spec.clip_norm:
            log.warning(
                "round %d: rejected %s: norm %.3g > %g",
                round_id,
                env.contributor,
                norm,
                spec.clip_norm,
            )
            continue
        accepted.append((env.contributor, env.weight, values))
    if not accepted:
        return model, ()
    # weights are fixed over every frozen contribution (as in the secure round, where they
    # are public before the accept bits): a rejected contribution counts as zero
    total = sum(env.weight for env in envelopes)
    aggregate = weighted_sum([v for _, _, v in accepted], [w / total for _, w, _ in accepted])
    sigma = spec.noise_std([env.weight / total for env in envelopes])
    if sigma > 0:
        rng = np.random.default_rng(int.from_bytes(hashlib.sha256(seed).digest()[:8], "big"))
        aggregate = aggregate + rng.normal(0.0, sigma, size=aggregate.shape)
    sgd = ServerSGD(lr=spec.server_lr, momentum=spec.server_momentum)
    if previous is not None:
        sgd.observe(previous.ravel(), model.ravel())
    step = sgd.public_offset(model.ravel()) + spec.server_lr * aggregate
    return step.reshape(model.shape), tuple(c for c, _, _ in accepted)
