"""A node's side of a model that grows with the catalogue (:mod:`mpcrec.federation.grown_model`).

A round naming a catalogue version runs on that version's rows (``catalogue_rows``, which
:meth:`~mpcrec.node.catalogue_sync.CatalogueSync.check` verified before any step): the base
model the launcher serves is grown to them here, with the same public rule the launcher
applies, so a contributor trains and a member aggregates on the same matrix. The round's
dimension is taken from the round, never from the registration. A base the launcher serves
with more rows than the verified version is refused (``catalogue-unverified``): those rows
trace to no signed catalogue row.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from mpcrec.errors import ConfigError
from mpcrec.federation.announcement import RoundAnnouncement
from mpcrec.federation.grown_model import (
    grow_base,
    grow_previous,
    keep_retired,
    retired_flags,
    round_rows,
    round_spec,
)
from mpcrec.federation.published_model import PublishedModel
from mpcrec.federation.spec import FederationSpec
from mpcrec.model.catalogue_rows import InitialRows, freeze_retired
from mpcrec.node.catalogue_sync import RULE, CatalogueSync
from mpcrec.node.round_refusal import RoundRefused
from mpcrec.secure.validation import check_parameters

Matrix = npt.NDArray[np.float64]


@dataclass(frozen=True)
class GrownModel(PublishedModel):
    """The round's base grown to the round's rows; bound (``model_hash``) to the published
    base it grew from, the hash envelopes and results name."""

    bound_to: bytes = field(default=b"", repr=False)

    @property
    def model_hash(self) -> bytes:
        """The published base's hash (the round is bound to it)."""
        return self.bound_to


@dataclass(frozen=True)
class RoundBase:
    """What a node computes on in a round: the grown base, the grown previous model (for
    momentum) and the retired flags of the round's rows."""

    model: PublishedModel
    values: Matrix = field(repr=False)
    previous: Matrix | None = field(repr=False)
    retired: npt.NDArray[np.bool_] = field(repr=False)

    def freeze(self, update: Matrix) -> Matrix:
        """``update`` with the retired rows zeroed (nothing trains them)."""
        return freeze_retired(update, self.retired.tolist()) if self.retired.any() else update

    def keep_retired(self, model: Matrix) -> Matrix:
        """The revealed ``model`` with the retired rows set back to the base's."""
        return keep_retired(model, self.values, self.retired)


def round_base(
    ann: RoundAnnouncement,
    base: PublishedModel,
    catalogue: CatalogueSync,
    previous: Matrix | None = None,
    *,
    spec: FederationSpec | None = None,
    initial: InitialRows | None = None,
) -> RoundBase:
    """The round's base: ``base`` grown to the rows of the round's verified catalogue (new
    rows from ``initial``; by default their content rows, ``catalogue.initial_rows``).

    Raises
    ------
    RoundRefused
        ``catalogue-unverified``: the base has more rows than the verified version, or the
        node's verified copy is not the round's version; ``floor-range-check``: the wrap
        guard of ``spec`` (a secure round's) cannot be sound at the grown size.
    """
    rows = round_rows(base.n_items, ann.catalogue_rows if ann.catalogue_version else 0)
    if ann.catalogue_version and catalogue.index.tip.version != ann.catalogue_version:
        raise RoundRefused(
            RULE,
            f"round {ann.round_id} names catalogue version {ann.catalogue_version}, this "
            f"node verified version {catalogue.index.tip.version}",
        )
    if ann.catalogue_version and base.n_items > ann.catalogue_rows:
        raise RoundRefused(
            RULE,
            f"round {ann.round_id}: the base model has {base.n_items} rows, the verified "
            f"catalogue version {ann.catalogue_version} {ann.catalogue_rows}: rows without "
            "provenance",
        )
    if spec is not None and spec.aggregation == "secure" and spec.bound:
        try:  # the ring bound, per block of rows (mpcrec.secure.validation), at this size
            check_parameters(round_spec(spec, rows).contribution_size, spec.clip_norm, spec.bound)
        except ConfigError as err:
            raise RoundRefused("floor-range-check", f"{rows} rows: {err.message}") from None
    values = base.array()
    if rows == base.n_items and not ann.catalogue_version:
        return RoundBase(base, values, previous, np.zeros(rows, np.bool_))
    retired = retired_flags(catalogue.index.retired, rows)
    grown = grow_base(values, rows, retired, initial or catalogue.initial_rows)
    model = GrownModel.from_array(base.version, grown)
    bound = GrownModel(
        model.version, model.n_items, model.dim, model.data, bound_to=base.model_hash
    )
    return RoundBase(bound, grown, grow_previous(previous, grown), retired)
