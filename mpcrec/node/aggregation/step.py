"""The round arithmetic both aggregations share: the clip at home, the public weights and the
public part of the server step (:class:`mpcrec.model.server.ServerSGD`).

``next = ServerSGD.public_offset(model) + lr * aggregate``: the velocity comes from the two
last published models (public), so only ``aggregate`` needs the committee.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from mpcrec.federation.contribution import Envelope
from mpcrec.federation.spec import FederationSpec
from mpcrec.model.server import ServerSGD, Vector, clip_to_norm

Matrix = npt.NDArray[np.float64]
CLIP_MARGIN = 0.999  # clip a little inside the bound: fixed-point rounding must not reject


def clip_for_committee(update: Matrix, spec: FederationSpec) -> Matrix:
    """``update`` scaled inside ``clip_norm`` (the committee rejects anything above it)."""
    return clip_to_norm(update, CLIP_MARGIN * spec.clip_norm).reshape(update.shape)


def public_weights(envelopes: Sequence[Envelope]) -> tuple[float, ...]:
    """Each frozen contribution's weight over their sum (public before any check)."""
    total = sum(env.weight for env in envelopes)
    return tuple(env.weight / total for env in envelopes)


def public_offset(spec: FederationSpec, model: Matrix, previous: Matrix | None) -> Vector:
    """``model + lr * momentum * velocity``, flat; the velocity from ``previous -> model``."""
    sgd = ServerSGD(lr=spec.server_lr, momentum=spec.server_momentum)
    if previous is not None:
        sgd.observe(previous.ravel(), model.ravel())
    return sgd.public_offset(model.ravel())
