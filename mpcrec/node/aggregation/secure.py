"""The ``secure`` aggregation: sealed shares, aggregated by the committee inside CrypTen.

A contributor splits its update into one sealed share per member
(:func:`mpcrec.crypto.envelope.seal_contribution`); a member opens its shares and runs the
committee program (:func:`mpcrec.secure.program.aggregate`) in its party process
(:class:`committees.seat.CommitteeSeat`), over mutually authenticated TLS between the
members (and the dealer) the round announced.

This module imports neither torch nor CrypTen (only the party process does). The party
starts when the node is drawn (:meth:`SecureAggregation.prepare`, at the collecting phase,
so torch and CrypTen load while contributors train) and stops when its round is done,
unless the seat is kept warm (``committee: {warm_seat: true}``: started at registration and
kept, several hundred MB resident for a faster first step; docs/operations.md).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from committees.seat import CommitteeSeat
from committees.session import SealedInputs, Session, SessionSettings
from committees.transport.settings import committee_transport
from mpcrec.crypto.envelope import SealedShare, seal_contribution, signed_terms
from mpcrec.errors import ProtocolError, RoundAborted
from mpcrec.federation.announcement import RoundAnnouncement
from mpcrec.federation.contribution import Envelope
from mpcrec.federation.grown_model import round_spec as grown_spec
from mpcrec.federation.published_model import PublishedModel
from mpcrec.federation.spec import FederationSpec
from mpcrec.node.aggregation.dpals_step import committee_offset, next_model
from mpcrec.node.aggregation.gram_step import gram_result, gram_slice, gram_spec
from mpcrec.node.aggregation.kind import Seat
from mpcrec.node.aggregation.step import Matrix, public_weights
from mpcrec.node.key_check import check_slots
from mpcrec.secure.program import RoundSpec

log = logging.getLogger("mpcrec.node.secure")


class SecureAggregation:
    """Sealed shares for the committee; a CrypTen party process to serve on it.

    The party process starts when this node is drawn (as a member or the dealer) and stops
    once the round is done; with ``seat.warm_seat`` it starts now and is kept for every
    later round.
    """

    def __init__(self, spec: FederationSpec, seat: Seat) -> None:
        self.spec = spec
        self.seat = seat
        self._party = CommitteeSeat(seat.instance_id, seat.replay_registry)
        #: The Gram slices this member revealed, by base version (the daemon sends each
        #: with its signed result: mpcrec.node.messages.result).
        self.released_slices: dict[int, np.ndarray] = {}
        if seat.warm_seat:
            self._party.start()

    def prepare(self, ann: RoundAnnouncement) -> None:
        """Start the party (returns at once; the round's first step waits for it)."""
        self._party.start()

    def release(self) -> None:
        """Stop the party unless the seat is kept warm."""
        if not self.seat.warm_seat:
            self._party.close()

    def seal(
        self, update: Matrix, ann: RoundAnnouncement, *, weight: float, params_hash: bytes
    ) -> list[bytes]:
        sealed = seal_contribution(
            np.ravel(update),
            member_keys=[m.sealing_key for m in ann.committee],
            signing_key=self.seat.keys.signing,
            round_id=ann.round_id,
            model_hash=ann.model_hash,
            contributor_id=self.seat.instance_id,
            weight=weight,
            params_hash=params_hash,
        )
        return [s.to_bytes() for s in sealed]

    def signed_terms(self, envelope: Envelope) -> tuple[float, bytes]:
        """The weight and parameters digest signed in the envelope's header."""
        try:
            key = Ed25519PublicKey.from_public_bytes(envelope.signing_key)
        except ValueError as err:
            raise ProtocolError(f"{envelope.contributor}: unusable signing key") from err
        return signed_terms(SealedShare.from_bytes(envelope.data), key)

    def round_spec(
        self,
        ann: RoundAnnouncement,
        envelopes: Sequence[Envelope],
        base: Matrix,
        previous: Matrix | None,
    ) -> RoundSpec:
        """Everything public about the round, as every member computes it (a Gram slice's
        round: :func:`~mpcrec.node.aggregation.gram_step.gram_spec`)."""
        grown = grown_spec(self.spec, base.shape[0])
        gram = gram_spec(
            grown.params(committee_size=1, min_contributors=1),
            round_id=ann.round_id,
            base_version=ann.model_version,
            n_items=grown.n_items,
            contributors=len(envelopes),
            min_contributors=self.seat.min_contributors,
        )
        if gram is not None:
            return gram
        weights = public_weights(envelopes)
        return RoundSpec(
            round_id=ann.round_id,
            dim=grown.contribution_size,  # the round's rows (they grow with the catalogue)
            weights=weights,
            public_offset=committee_offset(grown, base, previous),
            server_lr=self.spec.server_lr,
            clip_norm=self.spec.clip_norm,
            range_bound=self.spec.bound or None,
            noise_std=self.spec.noise_std(list(weights), ann.model_version),
            min_contributors=self.seat.min_contributors,
        )

    def compute(
        self,
        ann: RoundAnnouncement,
        envelopes: Sequence[Envelope],
        base: PublishedModel,
        previous: Matrix | None,
    ) -> tuple[Matrix, tuple[str, ...]]:
        spec = self.round_spec(ann, envelopes, base.array(), previous)
        sealed = tuple(SealedShare.from_bytes(e.data) for e in envelopes)
        check_slots(envelopes, sealed)  # RoundRefused: an envelope claims another contributor
        inputs = SealedInputs(
            sealed=sealed,
            member_key=self.seat.keys.sealing.private_bytes_raw(),
            contributor_keys=tuple(e.signing_key for e in envelopes),
            model_hash=base.model_hash,
            contributors=tuple(e.contributor for e in envelopes),
        )
        session = self.session(ann, ann.members.index(self.seat.instance_id))
        timeout = self.seat.mpc_timeout_s + 30
        try:
            outcome = self._party.compute(session, spec, inputs, timeout=timeout)
        finally:
            self.release()
        if outcome.params is None:
            raise RoundAborted(f"the committee refused the round: {outcome.refused}")
        accepted = tuple(
            e.contributor for e, ok in zip(envelopes, outcome.accepted, strict=True) if ok
        )
        params = np.asarray(outcome.params, dtype=np.float64)
        if gram_slice(
            self.spec.params(committee_size=1, min_contributors=1), base.version, base.n_items
        ):
            model, self.released_slices[base.version] = gram_result(
                params, spec.weights, base.array()
            )
            return model, accepted
        grown = grown_spec(self.spec, base.n_items)
        shape, features = (base.n_items, base.dim), self.seat.item_features
        nxt = next_model(grown, params, spec.weights, shape, features, base.array(), base.version)
        return nxt, accepted

    def session(self, ann: RoundAnnouncement, rank: int) -> Session:
        """This party's CrypTen session for the round: ``replicated`` (3 members) or, when a
        dealer was drawn, ``beaver`` with the dealer as TTP (rank ``k``). The parties talk
        over mutually authenticated TLS 1.3, each listening on its registered MPC address,
        peers pinned to the announced committee (and dealer), session bound to the round."""
        ranks: list[Any] = [*ann.committee, *([ann.dealer] if ann.dealer is not None else [])]
        transport = committee_transport(
            ranks,
            rank=rank,
            certs=self.seat.tls,
            session=f"round-{ann.round_id}",
            timeout_s=self.seat.mpc_timeout_s,
        )
        protocol = "beaver" if ann.dealer is not None else "replicated"
        settings = SessionSettings(
            protocol=protocol, provider="TTP", timeout_s=self.seat.mpc_timeout_s
        )
        return Session(
            rendezvous="",
            rank=rank,
            members=len(ann.committee),
            settings=settings,
            transport=transport,
        )

    def deal(self, ann: RoundAnnouncement) -> None:
        session = self.session(ann, len(ann.committee))
        try:
            self._party.deal(session, timeout=self.seat.mpc_timeout_s * 4)
            log.info("%s: round %d: served as dealer", self.seat.instance_id, ann.round_id)
        except RoundAborted as err:
            log.warning("%s: round %d: dealer: %s", self.seat.instance_id, ann.round_id, err)
        finally:
            self.release()

    def close(self) -> None:
        self._party.close()
