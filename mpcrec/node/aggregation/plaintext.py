"""The ``plaintext`` aggregation: a member opens, checks, sums and steps in the clear.

The secure round does the same inside CrypTen on sealed shares (:mod:`mpcrec.secure`); this
is the baseline it is compared with, and the plaintext twin the tests check it against.

1. Open each envelope addressed to this member; reject (with a logged reason) any bound to
   another round or model, of the wrong length, not finite, or with an L2 norm above
   ``clip_norm``.
2. ``aggregate = sum_i w_i * delta_i / sum_j w_j``: ``i`` over the accepted contributions,
   ``j`` over all (weights are public before the checks, as in the secure round).
3. with ``noise_multiplier`` ``z``: ``aggregate += N(0, (z * 2 * clip_norm * max_j w_j)^2)``;
4. ``next = ServerSGD.public_offset(model) + lr * aggregate``
   (:func:`~mpcrec.node.aggregation.step.public_offset`).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence

import numpy as np

from mpcrec.errors import ProtocolError
from mpcrec.federation.announcement import RoundAnnouncement
from mpcrec.federation.contribution import Envelope
from mpcrec.federation.grown_model import round_spec as grown_spec
from mpcrec.federation.plain import open_plain, plain_terms, seal_plain
from mpcrec.federation.published_model import PublishedModel
from mpcrec.federation.spec import FederationSpec
from mpcrec.model.server import weighted_sum
from mpcrec.node.aggregation.dpals_step import ItemFeatures, committee_offset, next_model
from mpcrec.node.aggregation.step import Matrix, public_weights

log = logging.getLogger("mpcrec.node.plaintext")


def _opened(
    envelopes: Sequence[Envelope],
    spec: FederationSpec,
    round_id: int,
    model: Matrix,
    model_hash: bytes,
) -> list[tuple[int, Matrix]]:
    """``(index, values)`` of every envelope that opens and passes the norm check."""
    accepted: list[tuple[int, Matrix]] = []
    for index, env in enumerate(envelopes):
        try:
            values = open_plain(
                env.data,
                round_id=round_id,
                model_hash=model_hash,
                contributor=env.contributor,
                size=spec.contribution_size,  # the round\'s rows
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
        accepted.append((index, values))
    return accepted


def plain_round(
    envelopes: Sequence[Envelope],
    *,
    spec: FederationSpec,
    round_id: int,
    model: Matrix,
    model_hash: bytes,
    previous: Matrix | None,
    seed: bytes = b"",
    item_features: ItemFeatures | None = None,
    base_version: int = -1,
) -> tuple[Matrix, tuple[str, ...]]:
    """The next model and the accepted contributors (see the module docstring).

    With ``spec.noise_multiplier`` the sum gets Gaussian noise drawn from the round's public
    ``seed`` (every member draws the same, so they agree; a plaintext committee protects
    nothing anyway: this keeps the baseline's utility comparable to the secure round's).
    ``item_features``: the public item metadata a ``dpals`` round's smoothing reads;
    ``base_version``: the version of ``model`` (a ``dpals`` count release's is 0).
    """
    spec = grown_spec(spec, model.shape[0])  # the round's rows (they grow with the catalogue)
    accepted = _opened(envelopes, spec, round_id, model, model_hash)
    if not accepted:
        return model, ()
    # weights are fixed over every frozen contribution (as in the secure round, where they
    # are public before the accept bits): a rejected contribution counts as zero
    weights = public_weights(envelopes)
    aggregate = weighted_sum([v for _, v in accepted], [weights[i] for i, _ in accepted])
    sigma = spec.noise_std(list(weights), base_version)
    if sigma > 0:
        rng = np.random.default_rng(int.from_bytes(hashlib.sha256(seed).digest()[:8], "big"))
        aggregate = aggregate + rng.normal(0.0, sigma, size=aggregate.shape)
    step = committee_offset(spec, model, previous) + spec.server_lr * aggregate
    shape = (model.shape[0], model.shape[1])
    nxt = next_model(spec, step, weights, shape, item_features, model, base_version)
    return nxt, tuple(envelopes[i].contributor for i, _ in accepted)


class PlaintextAggregation:
    """Envelopes that carry the update itself; members compute :func:`plain_round`."""

    def __init__(
        self, spec: FederationSpec, instance_id: str, item_features: ItemFeatures | None = None
    ) -> None:
        self.spec = spec
        self.instance_id = instance_id
        self.item_features = item_features

    def seal(
        self, update: Matrix, ann: RoundAnnouncement, *, weight: float, params_hash: bytes
    ) -> list[bytes]:
        blob = seal_plain(
            update,
            round_id=ann.round_id,
            model_hash=ann.model_hash,
            contributor=self.instance_id,
            weight=weight,
            params_hash=params_hash,
        )
        return [blob for _ in ann.committee]

    def signed_terms(self, envelope: Envelope) -> tuple[float, bytes]:
        """What the plaintext envelope declares (unsigned: plaintext protects nothing)."""
        return plain_terms(envelope.data)

    def compute(
        self,
        ann: RoundAnnouncement,
        envelopes: Sequence[Envelope],
        base: PublishedModel,
        previous: Matrix | None,
    ) -> tuple[Matrix, tuple[str, ...]]:
        return plain_round(
            envelopes,
            spec=self.spec,
            round_id=ann.round_id,
            model=base.array(),
            model_hash=base.model_hash,
            previous=previous,
            seed=ann.seed,
            item_features=self.item_features,
            base_version=base.version,
        )

    def deal(self, ann: RoundAnnouncement) -> None:
        """A plaintext round has no dealer: nothing to do."""

    def prepare(self, ann: RoundAnnouncement) -> None:
        """Nothing to start."""

    def release(self) -> None:
        """Nothing was started."""

    def close(self) -> None:
        """Nothing was started."""
