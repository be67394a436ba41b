"""The attacks of a hostile launcher (issue 11): hooks for the hostile launcher.

Each class overrides the hooks it needs; everything else stays the real launcher's. With
``--from-round 2`` (the default) every round up to the first published one is left honest and
every later round is attacked, so each test first sees one honest round publish with its
configuration (a control: a federation that cannot publish at all would "defeat" every
attack for the wrong reason); ``--from-round 1`` attacks from the start.
"""

from __future__ import annotations

import dataclasses
import math
import sqlite3
from typing import Any

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from launch.round import Phase, Round
from mpcrec.audit import entries
from mpcrec.audit.log import AuditLog
from mpcrec.crypto.codec import decode
from mpcrec.crypto.envelope import (
    NonceRegistry,
    SealedShare,
    open_share,
    seal_contribution,
    seal_shares,
)
from mpcrec.crypto.keys import NodeKeys
from mpcrec.crypto.sharing import reconstruct, split
from mpcrec.errors import ProtocolError
from mpcrec.federation.announcement import RoundAnnouncement
from mpcrec.federation.plain import open_plain
from tests.adversarial.catalogue_attacks import catalogue_attacks
from tests.adversarial.envelope_attacks import envelope_attacks
from tests.adversarial.floor_attacks import floor_attacks
from tests.adversarial.hooks import Attack, current_caller
from tests.adversarial.ledger_attacks import ledger_attacks
from tests.adversarial.split_attacks import split_attacks

Share = tuple[Any, ...]  # (contributor, weight, signing_key, envelope, *whatever comes later)


def _committee(launcher: Any, round_id: int) -> tuple[str, ...]:
    rnd = launcher.store.get_round(round_id)
    return tuple(rnd.committee) if rnd is not None else ()


def _base_hash(launcher: Any, round_id: int) -> bytes:
    rnd = launcher.store.get_round(round_id)
    return bytes(launcher.store.get_model(rnd.model_version).model_hash)


def _real_keys(launcher: Any, members: tuple[str, ...]) -> list[bytes]:
    return [bytes(launcher.store.get_instance(m).sealing_key) for m in members]


def _replace_share(
    share: Share, *, weight: float | None = None, key: bytes = b"", blob: bytes = b""
) -> Share:
    contributor, old_weight, old_key, old_blob, *rest = share
    return (
        contributor,
        old_weight if weight is None else weight,
        key or old_key,
        blob or old_blob,
        *rest,
    )


def _aggregate(launcher: Any, rnd: Round, model: bytes) -> np.ndarray:
    """``(revealed - base) / lr``: the weighted sum the committee revealed (momentum 0)."""
    base = launcher.store.get_model(rnd.model_version).array().ravel()
    aggregate: np.ndarray = (np.frombuffer(model, dtype="<f8") - base) / launcher.spec.server_lr
    return aggregate


class _FakeIdentities:
    """Key pairs the launcher makes up, one per instance id."""

    def __init__(self) -> None:
        self.sealing: dict[str, X25519PrivateKey] = {}
        self.signing: dict[str, Ed25519PrivateKey] = {}

    def sealing_public(self, who: str) -> bytes:
        key = self.sealing.setdefault(who, X25519PrivateKey.generate())
        return key.public_key().public_bytes_raw()

    def signing_public(self, who: str) -> bytes:
        key = self.signing.setdefault(who, Ed25519PrivateKey.generate())
        return key.public_key().public_bytes_raw()


class SubstituteKeys(Attack):
    """Announce the launcher's own member keys; open every upload with them; re-seal the
    shares to the real members under a contributor key it made, streamed by FetchShares."""

    name = "substitute-keys"

    def setup(self, config: Any) -> None:
        super().setup(config)
        self.fakes = _FakeIdentities()
        self.opened_updates: dict[tuple[int, str], np.ndarray] = {}
        self.resealed: dict[tuple[int, str], list[bytes]] = {}

    def _seat(self, member: Any) -> Any:
        return dataclasses.replace(
            member,
            sealing_key=self.fakes.sealing_public(member.instance_id),
            signing_key=self.fakes.signing_public(member.instance_id),
        )

    def announce(self, launcher: Any, ann: RoundAnnouncement) -> RoundAnnouncement:
        if not self.active(ann.round_id) or not ann.committee:
            return ann
        if ann.round_id not in self.learned.data.get("announced_rounds", []):
            self.learned.add("announced_rounds", ann.round_id)
        dealer = self._seat(ann.dealer) if ann.dealer is not None else None
        return dataclasses.replace(
            ann, committee=tuple(self._seat(m) for m in ann.committee), dealer=dealer
        )

    def uploaded(self, launcher: Any, contribution: Any) -> None:
        rid, who = contribution.round_id, contribution.contributor
        if not self.active(rid):
            return
        members = _committee(launcher, rid)
        signer = Ed25519PublicKey.from_public_bytes(launcher.store.get_instance(who).signing_key)
        shares = []
        for index, member in enumerate(members):
            self.fakes.sealing_public(member)
            try:
                shares.append(
                    open_share(
                        SealedShare.from_bytes(contribution.envelopes[member]),
                        member_key=self.fakes.sealing[member],
                        contributor_key=signer,
                        round_id=rid,
                        model_hash=_base_hash(launcher, rid),
                        member_index=index,
                        dim=launcher.spec.size,
                        seen=NonceRegistry(),
                    )
                )
            except ProtocolError as err:
                self.learned.add(
                    "open_failed", {"round": rid, "contributor": who, "error": str(err)}
                )
                return
        ring = reconstruct(shares)
        self.opened_updates[(rid, who)] = ring
        self.learned.read(rid, who, "opened all shares", decode(ring))

    def _reseal(self, launcher: Any, rid: int, who: str) -> list[bytes]:
        if (rid, who) not in self.resealed:
            members = _committee(launcher, rid)
            first, seeds = split(self.opened_updates[(rid, who)], len(members))
            self.fakes.signing_public(who)
            sealed = seal_shares(
                [first.astype("<i8").tobytes(), *seeds],
                member_keys=_real_keys(launcher, members),
                signing_key=self.fakes.signing[who],
                round_id=rid,
                model_hash=_base_hash(launcher, rid),
                contributor_id=who,
            )
            self.resealed[(rid, who)] = [s.to_bytes() for s in sealed]
        return self.resealed[(rid, who)]

    def shares(self, launcher: Any, member: str, round_id: int, shares: list[Share]) -> list[Share]:
        index = _committee(launcher, round_id).index(member)
        out = []
        for share in shares:
            who = share[0]
            if (round_id, who) in self.opened_updates:
                blob = self._reseal(launcher, round_id, who)[index]
                share = _replace_share(share, key=self.fakes.signing_public(who), blob=blob)
            out.append(share)
        return out


class ForgeContribution(Attack):
    """Stream, for every contributor but the victim, a forged contribution (zero update)
    signed with a key the launcher made: the published aggregate is the victim's alone."""

    name = "forge-contribution"

    def setup(self, config: Any) -> None:
        super().setup(config)
        self.fakes = _FakeIdentities()
        self.forged: dict[tuple[int, str], list[bytes]] = {}

    def _forge(self, launcher: Any, rid: int, who: str) -> list[bytes]:
        if (rid, who) not in self.forged:
            members = _committee(launcher, rid)
            self.fakes.signing_public(who)
            sealed = seal_contribution(
                np.zeros(launcher.spec.size),
                member_keys=_real_keys(launcher, members),
                signing_key=self.fakes.signing[who],
                round_id=rid,
                model_hash=_base_hash(launcher, rid),
                contributor_id=who,
            )
            self.forged[(rid, who)] = [s.to_bytes() for s in sealed]
            self.learned.add("forged", {"round": rid, "contributor": who})
        return self.forged[(rid, who)]

    def shares(self, launcher: Any, member: str, round_id: int, shares: list[Share]) -> list[Share]:
        if not self.active(round_id):
            return shares
        index = _committee(launcher, round_id).index(member)
        out = []
        for share in shares:
            who = share[0]
            if who != self.victim:
                blob = self._forge(launcher, round_id, who)[index]
                share = _replace_share(share, key=self.fakes.signing_public(who), blob=blob)
            out.append(share)
        return out

    def result(self, launcher: Any, result: Any) -> None:
        if self.active(result.round_id):
            self.learned.add(
                "results",
                {
                    "round": result.round_id,
                    "member": result.member,
                    "ok": result.ok,
                    "accepted": list(result.accepted),
                    "reason": result.reason,
                },
            )

    def save(self, launcher: Any, rnd: Round) -> Round:
        if rnd.phase is Phase.PUBLISHED and self.active(rnd.round_id):
            result = launcher.store.results(rnd.round_id)[rnd.committee[0]]
            forged = {c for r, c in self.forged if r == rnd.round_id}
            if set(result.accepted) - forged == {self.victim}:  # the rest are its own zeros
                weight = 1.0 / len(rnd.contributors)  # equal weights: the victim's share
                update = _aggregate(launcher, rnd, result.model) / weight
                self.learned.read(rnd.round_id, self.victim, "isolated among forgeries", update)
        return rnd


class SkewWeights(Attack):
    """Stream (and announce) weight 1 for the victim and ``1e-9`` for everyone else: the
    published model is the victim's update while ``min_contributors`` holds."""

    name = "skew-weights"
    victim_weight, other_weight = 1.0, 1e-9

    def setup(self, config: Any) -> None:
        super().setup(config)
        self.skewed: set[int] = set()

    def _weight(self, who: str, honest: float) -> float:
        return self.victim_weight if who == self.victim else self.other_weight

    def announce(self, launcher: Any, ann: RoundAnnouncement) -> RoundAnnouncement:
        if not self.active(ann.round_id) or not ann.weights:
            return ann
        weights = tuple(
            self._weight(c, w) for c, w in zip(ann.contributors, ann.weights, strict=True)
        )
        return dataclasses.replace(ann, weights=weights)

    def shares(self, launcher: Any, member: str, round_id: int, shares: list[Share]) -> list[Share]:
        if not self.active(round_id):
            return shares
        if round_id not in self.skewed:
            self.skewed.add(round_id)
            weights = {s[0]: self._weight(s[0], s[1]) for s in shares}
            self.learned.add("skewed", {"round": round_id, "weights": weights})
        return [_replace_share(s, weight=self._weight(s[0], s[1])) for s in shares]

    def save(self, launcher: Any, rnd: Round) -> Round:
        if rnd.phase is Phase.PUBLISHED and rnd.round_id in self.skewed:
            result = launcher.store.results(rnd.round_id)[rnd.committee[0]]
            if self.victim in result.accepted and math.isfinite(self.victim_weight):
                update = _aggregate(launcher, rnd, result.model)  # the victim's weight is ~1
                self.learned.read(rnd.round_id, self.victim, "weights skewed to it", update)
        return rnd


class InfiniteWeight(SkewWeights):
    """Stream (and announce) weight +inf for the victim, the others' unchanged."""

    name = "infinite-weight"
    victim_weight = math.inf

    def _weight(self, who: str, honest: float) -> float:
        return self.victim_weight if who == self.victim else honest


def _downgrade(value: Any) -> Any:
    """``value`` with every dataclass field named ``aggregation`` set to ``plaintext``."""
    if not dataclasses.is_dataclass(value) or isinstance(value, type):
        return value
    changes: dict[str, Any] = {}
    for field in dataclasses.fields(value):
        inner = getattr(value, field.name)
        if field.name == "aggregation" and inner == "secure":
            changes[field.name] = "plaintext"
        elif dataclasses.is_dataclass(inner):
            changes[field.name] = _downgrade(inner)
    return dataclasses.replace(value, **changes) if changes else value


def _downgrade_pb(message: Any) -> None:
    """Every string field named ``aggregation`` in ``message`` (recursively) to plaintext."""
    for field, inner in message.ListFields():
        if field.name == "aggregation" and inner == "secure":
            setattr(message, field.name, "plaintext")
        elif hasattr(inner, "ListFields"):  # a singular message field
            _downgrade_pb(inner)


class DowngradePlaintext(Attack):
    """Tell nodes the aggregation is ``plaintext`` (RegisterReply, and any announced
    parameter named so) while the launcher's own config, and so its log, says secure;
    read the plaintext updates as they arrive. Active from registration on."""

    name = "downgrade-plaintext"

    def register_reply(self, reply: Any) -> None:
        _downgrade_pb(reply)
        self.learned.add("downgraded", current_caller())

    def announce(self, launcher: Any, ann: RoundAnnouncement) -> RoundAnnouncement:
        downgraded: RoundAnnouncement = _downgrade(ann)
        return downgraded

    def uploaded(self, launcher: Any, contribution: Any) -> None:
        rid, who = contribution.round_id, contribution.contributor
        for blob in contribution.envelopes.values():
            try:
                update = open_plain(
                    blob,
                    round_id=rid,
                    model_hash=_base_hash(launcher, rid),
                    contributor=who,
                    size=launcher.spec.size,
                )
            except ProtocolError as err:
                self.learned.add(
                    "open_failed", {"round": rid, "contributor": who, "error": str(err)}
                )
                return
            self.learned.read(rid, who, "plaintext envelope", update)
            return


class LowerUserNoise(Attack):
    """Run a user-level federation but tell every node a user-level noise multiplier of
    :data:`LOWERED_Z` (RegisterReply's spec, and every announced round's parameters with
    their digest, consistently): nodes would then contribute to rounds with (almost) no
    noise per user. Active from registration on."""

    name = "lower-user-noise"

    def register_reply(self, reply: Any) -> None:
        reply.spec.noise_multiplier = LOWERED_Z
        self.learned.add("lowered", current_caller())

    def announce(self, launcher: Any, ann: RoundAnnouncement) -> RoundAnnouncement:
        if ann.params is None:
            return ann
        params = dataclasses.replace(ann.params, noise_multiplier=LOWERED_Z)
        return dataclasses.replace(ann, params=params, params_hash=params.digest)


#: The user-level ``z`` :class:`LowerUserNoise` announces.
LOWERED_Z = 0.01


class AbortRerun(Attack):
    """Let round ``start`` compute, take its revealed model, abort it instead of publishing,
    then rerun on the same base model without the victim's upload: the difference of the
    two revealed models is the victim's update."""

    name = "abort-rerun"

    def setup(self, config: Any) -> None:
        super().setup(config)
        self.revealed: dict[int, tuple[int, int, bytes]] = {}  # base version -> (round, n, model)

    def accept_upload(self, launcher: Any, contribution: Any) -> bool:
        rnd = launcher.store.get_round(contribution.round_id)
        rerun = rnd is not None and rnd.model_version in self.revealed
        if rerun and contribution.contributor == self.victim:
            self.learned.add(
                "dropped", {"round": contribution.round_id, "contributor": self.victim}
            )
            return False
        return True

    def save(self, launcher: Any, rnd: Round) -> Round:
        if rnd.phase is not Phase.PUBLISHED or not self.active(rnd.round_id):
            return rnd
        result = launcher.store.results(rnd.round_id)[rnd.committee[0]]
        earlier = self.revealed.get(rnd.model_version)
        if earlier is None and self.revealed:  # one abort and one rerun are enough
            return rnd
        if earlier is None:
            self.revealed[rnd.model_version] = (rnd.round_id, len(rnd.contributors), result.model)
            self.learned.add(
                "aborted_after_reveal",
                {"round": rnd.round_id, "contributors": list(rnd.contributors)},
            )
            computing: Round = launcher.store.get_round(rnd.round_id)  # not yet published
            return computing.abort(f"no result from {list(rnd.committee[:1])} before the deadline")
        first_round, first_n, first_model = earlier
        first = launcher.store.get_round(first_round)
        if self.victim in first.contributors and self.victim not in rnd.contributors:
            n_now = len(rnd.contributors)
            update = first_n * _aggregate(launcher, rnd, first_model) - n_now * _aggregate(
                launcher, rnd, result.model
            )
            self.learned.read(rnd.round_id, self.victim, "difference of two reveals", update)
        return rnd


class PruneParticipants(Attack):
    """List only the colluders and the victim as the round's participants."""

    name = "prune-participants"

    def opened(self, launcher: Any, rnd: Round) -> Round:
        if not self.active(rnd.round_id):
            return rnd
        chosen = tuple(sorted({*self.colluders, self.victim}))
        self.learned.add(
            "pruned",
            {
                "round": rnd.round_id,
                "participants": list(chosen),
                "registered": list(rnd.participants),
            },
        )
        return dataclasses.replace(rnd, participants=chosen)


class PostDrawAbort(Attack):
    """Abort every round, right after its draw, whose committee does not seat all the
    colluders (a colluding majority), until one does."""

    name = "post-draw-abort"

    def save(self, launcher: Any, rnd: Round) -> Round:
        if rnd.phase is not Phase.COLLECTING or not self.active(rnd.round_id):
            return rnd
        if set(self.colluders) <= set(rnd.committee):
            self.learned.add(
                "colluders_seated", {"round": rnd.round_id, "committee": list(rnd.committee)}
            )
            return rnd
        self.learned.add(
            "post_draw_aborts", {"round": rnd.round_id, "committee": list(rnd.committee)}
        )
        return rnd.abort(f"{rnd.committee[0]} is unreachable")


class ForkedHead(Attack):
    """Show the victim a history of its own: from the first tree head it asks for in round
    ``start`` on, its heads are of a shadow log (the real entries with one extra launcher
    entry at the fork point), signed with the launcher's key and consistent in itself."""

    name = "forked-head"

    def setup(self, config: Any) -> None:
        super().setup(config)
        state_dir = self.config.state_dir
        key = NodeKeys.load_or_create(state_dir / "keys").signing
        db = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        self.shadow = AuditLog(db, launcher_key=key)
        self.copied = -1  # real entries copied into the shadow (-1: not forked yet)

    def tree_head(self, launcher: Any, known_size: int) -> Any:
        current = launcher.current()
        if current_caller() != self.victim or current is None or not self.active(current.round_id):
            return None
        real = launcher.trail.log
        with launcher._lock:
            if self.copied < 0:
                fork_at = real.size
                for entry in real.entries(0, fork_at):
                    self.shadow.append(entry)
                self.shadow.append(entries.abort(round_id=current.round_id, reason="forked view"))
                self.copied = fork_at
                self.learned.add("forked", {"round": current.round_id, "at": fork_at})
            for entry in real.entries(self.copied):
                self.shadow.append(entry)
            self.copied = real.size
            head = self.shadow.sign_head()
            self.learned.add("shadow_heads", {"size": head.size, "known": known_size})
            if 0 < known_size < head.size:
                return head, self.shadow.consistency_proof(known_size, head.size)
            return head, []


class GrowUnsigned(Attack):
    """Announce a model that grows by :data:`UNSIGNED_ROWS` rows beyond the catalogue version
    the round names (the version and its hash are the signed ones, the row count is not):
    nodes would train, seal and aggregate rows no signed catalogue row backs."""

    name = "grow-unsigned"

    def announce(self, launcher: Any, ann: RoundAnnouncement) -> RoundAnnouncement:
        if not (self.active(ann.round_id) and ann.catalogue_version):
            return ann
        rows = ann.catalogue_rows + UNSIGNED_ROWS
        self.learned.add("announced_rows", {"round": ann.round_id, "rows": rows})
        return dataclasses.replace(ann, catalogue_rows=rows)


#: The rows :class:`GrowUnsigned` adds to the announced model.
UNSIGNED_ROWS = 4


ATTACKS: dict[str, type[Attack]] = {
    cls.name: cls
    for cls in (
        Attack,  # "none": the harness itself, as an honest launcher
        SubstituteKeys,
        ForgeContribution,
        SkewWeights,
        InfiniteWeight,
        DowngradePlaintext,
        LowerUserNoise,
        AbortRerun,
        PruneParticipants,
        PostDrawAbort,
        ForkedHead,
        GrowUnsigned,
    )
}
ATTACKS.update(catalogue_attacks())  # tests/adversarial/catalogue_attacks.py
ATTACKS.update(floor_attacks())  # tests/adversarial/floor_attacks.py
ATTACKS.update(ledger_attacks())  # tests/adversarial/ledger_attacks.py
ATTACKS.update(envelope_attacks())  # tests/adversarial/envelope_attacks.py
ATTACKS.update(split_attacks())  # tests/adversarial/split_attacks.py
