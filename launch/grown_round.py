"""The launcher's side of a model that grows with the catalogue (:mod:`~mpcrec.federation`).

A round runs on as many rows as the catalogue version in force for it (the base model's when
there is none): the upload size the launcher admits, the results it takes and the model it
publishes are all of that size. A member's result is refused unless it has exactly that many
rows and its retired rows are the round's base's (grown by the same public rule every node
applies), so a model whose retired rows moved is never published.
"""

from __future__ import annotations

from collections.abc import Callable

from launch.catalogue import LauncherCatalogue
from launch.round import Phase, Round
from launch.store import LauncherStore, MemberResult, PublishedModel
from mpcrec.errors import ProtocolError
from mpcrec.federation.gram_slice import check_slice
from mpcrec.federation.grown_model import (
    grow_base,
    retired_flags,
    retired_moved,
    round_rows,
    round_spec,
)
from mpcrec.federation.round_params import RoundParams
from mpcrec.federation.spec import FederationSpec
from mpcrec.model.catalogue_rows import InitialRows, zero_rows
from mpcrec.model.item_gram import gram_slices


class RoundRows:
    """Each round's row count (cached per round) and the checks that use it."""

    def __init__(
        self,
        store: LauncherStore,
        spec: FederationSpec,
        catalogue: Callable[[], LauncherCatalogue | None],
        initial: InitialRows = zero_rows,
    ) -> None:
        self.store, self.spec, self.initial = store, spec, initial
        self._catalogue = catalogue  # the launcher's (tests may set it after the start)
        self._rows: dict[int, int] = {}

    def rows(self, rnd: Round) -> int:
        """The model rows of ``rnd`` (the catalogue version in force for it, or the base's)."""
        if rnd.round_id in self._rows:
            return self._rows[rnd.round_id]
        catalogue = self._catalogue()
        found = catalogue.in_force(rnd.round_id) if catalogue else None
        rows = round_rows(self.base_rows(rnd), int(found["rows"]) if found else 0)
        if rnd.phase is not Phase.OPEN:  # kept once the version it opened with is signed
            self._rows = {rnd.round_id: rows}
        return rows

    def base_rows(self, rnd: Round) -> int:
        """The rows of the model ``rnd`` starts from."""
        base = self.store.get_model(rnd.model_version)
        return base.n_items if base is not None else self.spec.n_items

    def spec_of(self, rnd: Round | None) -> FederationSpec:
        """The spec of ``rnd``'s model (the configured one without a round)."""
        return self.spec if rnd is None else round_spec(self.spec, self.rows(rnd))

    def check_result(self, rnd: Round, result: MemberResult) -> None:
        """Refuse a result of another size than the round's, not matching its hash, or whose
        retired rows are not the round's base's."""
        rows, dim = self.rows(rnd), self.spec.dim
        expected = 8 * rows * dim
        if len(result.model) != expected:
            raise ProtocolError(
                f"{result.member}: a model of {len(result.model)} bytes, expected {expected} "
                f"({rows} rows of {dim}: round {rnd.round_id}'s catalogue)"
            )
        model = PublishedModel(-1, rows, dim, result.model)
        if model.model_hash != result.model_hash:
            raise ProtocolError(f"{result.member}: the model does not match its hash")
        self.check_slice(rnd, rows, result)
        catalogue = self._catalogue()
        if catalogue is None:
            return
        flags = retired_flags(catalogue.retired(), rows)
        base = self.store.get_model(rnd.model_version)
        if not flags.any() or base is None:
            return
        grown = grow_base(base.array(), rows, flags, self.initial)
        moved = retired_moved(model.array(), grown, flags)
        if moved:
            raise ProtocolError(
                f"{result.member}: retired rows {moved[:5]} moved in round {rnd.round_id}",
                hint="retired rows are frozen (docs/catalogue.md, the growing model)",
            )

    def check_slice(self, rnd: Round, rows: int, result: MemberResult) -> None:
        """A Gram release's round (:meth:`RoundParams.gram_round`) needs the revealed slice,
        of its size and matching the digest the member signed; any other round none."""
        params = self.spec.params(committee_size=1, min_contributors=1)
        part = gram_slice_of(params, rnd.model_version, rows)
        if part is None:
            if result.gram_slice or result.slice_hash:
                raise ProtocolError(f"{result.member}: a Gram slice in round {rnd.round_id}")
            return
        expected = 8 * (part.stop - part.start)
        if len(result.gram_slice) != expected:
            raise ProtocolError(
                f"{result.member}: a Gram slice of {len(result.gram_slice)} bytes, expected "
                f"{expected} (round {rnd.round_id}, slice {rnd.model_version})"
            )
        check_slice(result.gram_slice, result.slice_hash, version=rnd.model_version + 1)

    def published(self, rnd: Round, result: MemberResult) -> PublishedModel:
        """The model ``rnd`` publishes from ``result`` (checked by :meth:`check_result`)."""
        rows, dim = self.rows(rnd), self.spec.dim
        return PublishedModel(
            rnd.published_version, rows, dim, result.model, gram_slice=result.gram_slice
        )


def gram_slice_of(params: RoundParams, base_version: int, n_items: int) -> slice | None:
    """The triangle's slice the round on model ``base_version`` sums (``None``: not a Gram
    release's round)."""
    if not params.gram_round(base_version, n_items):
        return None
    return gram_slices(n_items, params.ease_slice_values)[base_version]
