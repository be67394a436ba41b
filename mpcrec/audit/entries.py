"""Log entries: one signed statement by one author about one event of the federation.

An entry is ``(kind, round, author, payload)`` signed with the author's Ed25519 key, plus the
``index`` the log gave it. Bytes travel as lowercase **hex** (keys, signatures, digests,
seeds, secrets). Canonical JSON (:func:`canonical_json`) is UTF-8 with sorted keys, no
spaces, no NaN; floats use Python's shortest round-trip ``repr``.

- The author signs ``b"mpcrec/log-entry/v1\\n" || canonical({author, kind, payload, round})``:
  the index is not signed (an instance cannot know it), but the Merkle leaf is the canonical
  JSON of the whole entry, index and signature included, so the launcher's signed tree heads
  fix every entry's position.
- The launcher signs tree heads over the leaves (:class:`~mpcrec.audit.tree_head.TreeHead`,
  re-exported here, as are :func:`~mpcrec.audit.canonical.canonical_json` and
  :class:`~mpcrec.audit.canonical.LogFormatError`).

One constructor per event kind; they return unsigned entries, :meth:`LogEntry.sign` signs.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from mpcrec.audit.canonical import LogFormatError as LogFormatError
from mpcrec.audit.canonical import canonical_json as canonical_json
from mpcrec.audit.ed25519_check import signed_by
from mpcrec.audit.result_contributions import compact, maps_of
from mpcrec.audit.tree_head import TreeHead as TreeHead

LAUNCHER = "launcher"
_ENTRY_DOMAIN = b"mpcrec/log-entry/v1\n"


class Kind(StrEnum):
    """What an entry records."""

    CONFIG = "config"
    REGISTER = "register"
    SEED_COMMIT = "seed_commit"
    ROUND_OPEN = "round_open"
    SEED_REVEALS = "seed_reveals"
    COMMITTEE = "committee"
    CONTRIBUTION = "contribution"
    RESULT_SIGNATURE = "result_signature"
    RESULT_CONTRIBUTIONS = "result_contributions"  # a result's maps (result_contributions)
    PUBLISH = "publish"
    ABORT = "abort"
    CATALOGUE = "catalogue"  # a catalogue version (mpcrec.audit.catalogue_entry)


def public_key_bytes(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    """The raw 32-byte Ed25519 public key."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes_raw()


@dataclass(frozen=True)
class LogEntry:
    """One signed event.

    Attributes
    ----------
    kind:
        A :class:`Kind` value.
    round:
        The round the event belongs to, ``None`` for federation-wide events.
    author:
        The instance id of the signer, or ``"launcher"``.
    payload:
        The event's fields (JSON values; bytes as hex).
    signature:
        The author's Ed25519 signature over :meth:`signed_bytes` (empty until signed).
    index:
        Position in the log (``-1`` until appended).
    """

    kind: str
    round: int | None
    author: str
    payload: Mapping[str, Any] = field(default_factory=dict)
    signature: bytes = b""
    index: int = -1

    def signed_bytes(self) -> bytes:
        """What the author signs."""
        return _ENTRY_DOMAIN + canonical_json(
            {"author": self.author, "kind": self.kind, "payload": self.payload, "round": self.round}
        )

    def sign(self, key: Ed25519PrivateKey) -> LogEntry:
        """This entry signed with ``key``."""
        return replace(self, signature=key.sign(self.signed_bytes()))

    def verify(self, key: Ed25519PublicKey) -> bool:
        """Whether the signature is ``key``'s over this entry."""
        return signed_by(key, self.signature, self.signed_bytes())

    def at(self, index: int) -> LogEntry:
        """This entry placed at ``index``."""
        return replace(self, index=index)

    def to_json(self) -> dict[str, Any]:
        """The exported form (one JSON Lines line)."""
        return {
            "index": self.index,
            "kind": self.kind,
            "round": self.round,
            "author": self.author,
            "payload": self.payload,
            "sig": self.signature.hex(),
        }

    def leaf_bytes(self) -> bytes:
        """The Merkle leaf data: the canonical JSON of the whole entry."""
        return canonical_json(self.to_json())

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, where: str = "entry") -> LogEntry:
        """Parse the exported form; raises :class:`LogFormatError` naming ``where``."""
        try:
            index, kind, rnd = data["index"], data["kind"], data["round"]
            author, payload, sig = data["author"], data["payload"], data["sig"]
            ok = (
                isinstance(index, int)
                and isinstance(kind, str)
                and (rnd is None or isinstance(rnd, int))
                and isinstance(author, str)
                and isinstance(payload, dict)
                and isinstance(sig, str)
            )
            if not ok or set(data) != {"index", "kind", "round", "author", "payload", "sig"}:
                raise TypeError("unexpected fields or field types")
            return cls(kind, rnd, author, payload, bytes.fromhex(sig), index)
        except (KeyError, TypeError, ValueError) as err:
            raise LogFormatError(f"{where}: not a log entry ({err})") from None


# -- one constructor per event ---------------------------------------------------------------


def config(
    *,
    from_round: int,
    launcher_key: bytes,
    committee_size: int,
    cooldown: int,
    min_contributors: int,
    provider: str,
    delta: float,
    epsilon_budget: float | None,
    params: Mapping[str, Any],
    params_hash: bytes,
    privacy_unit: str = "instance",
    beacon: Mapping[str, Any] | None = None,
    accountant: str = "",
) -> LogEntry:
    """The federation's rules, in force from ``from_round`` (a change is a new entry).

    ``params`` are the round parameters every contribution and result of these rounds
    signs by ``params_hash`` (:class:`mpcrec.federation.round_params.RoundParams`).

    ``epsilon_budget`` ``None`` declares no differential-privacy promise (the auditor then
    reports the ε spent and judges nothing); ``delta`` is the δ at which ε is stated.

    ``provider`` is ``"ttp"`` (a dealer drawn from non-members), ``"replicated"`` (three
    members, no dealer) or ``"tfp"`` (never allowed: the auditor flags it).

    ``beacon`` is the randomness beacon's chain (drand's ``/info`` fields,
    :meth:`mpcrec.crypto.beacon.ChainInfo.to_json`); without it the field is left out and
    the seed is the commit-reveal's alone.

    ``accountant`` names how ε is computed (``"gdp"``: exact, every round at sample rate 1;
    ``"rdp"``; :mod:`mpcrec.privacy.budget`); empty leaves the field out, as logs written
    before it, which the auditor accounts by RDP.
    """
    extra: dict[str, Any] = {"beacon": dict(beacon)} if beacon is not None else {}
    if accountant:
        extra["accountant"] = accountant
    return LogEntry(
        Kind.CONFIG,
        from_round,
        LAUNCHER,
        {
            **extra,
            "launcher_key": launcher_key.hex(),
            "committee_size": committee_size,
            "cooldown": cooldown,
            "min_contributors": min_contributors,
            "provider": provider,
            "delta": delta,
            "epsilon_budget": epsilon_budget,
            "privacy_unit": privacy_unit,
            "params": dict(params),
            "params_hash": params_hash.hex(),
        },
    )


def registration(
    *,
    instance_id: str,
    signing_key: bytes,
    sealing_key: bytes,
    address: str,
    certificate: bytes = b"",
    key_binding: bytes = b"",
) -> LogEntry:
    """An instance joins, self-signed with ``signing_key`` (its Ed25519 public key); with its
    TLS certificate (DER) and key binding (:mod:`mpcrec.crypto.binding`) when it has them
    (entries of unbound instances, as logs made before bindings hold, omit both fields)."""
    payload = {"signing_key": signing_key.hex(), "sealing_key": sealing_key.hex()}
    payload["address"] = address
    if certificate or key_binding:
        payload |= {"certificate": certificate.hex(), "key_binding": key_binding.hex()}
    return LogEntry(Kind.REGISTER, None, instance_id, payload)


def seed_commit(*, instance_id: str, round_id: int, commitment: bytes) -> LogEntry:
    """An instance's commitment for ``round_id`` (:func:`committees.seed.commitment`).

    ``last_round`` is always ``round_id``: a commitment serves one round. The field stays
    in the payload so that logs written so far keep their format and signatures.
    """
    return LogEntry(
        Kind.SEED_COMMIT,
        round_id,
        instance_id,
        {"commitment": commitment.hex(), "last_round": round_id},
    )


def round_open(
    *, round_id: int, model_version: int, participants: Collection[str], beacon_round: int = 0
) -> LogEntry:
    """The launcher opens a round on ``model_version`` for ``participants``, bound to the
    future ``beacon_round`` (``0``: no beacon, the field is left out)."""
    extra = {"beacon_round": beacon_round} if beacon_round else {}
    return LogEntry(
        Kind.ROUND_OPEN,
        round_id,
        LAUNCHER,
        {"model_version": model_version, "participants": sorted(participants), **extra},
    )


def seed_reveals(*, round_id: int, reveals: Mapping[str, bytes]) -> LogEntry:
    """Every participant's reveal, logged by the launcher (each opens a signed commitment)."""
    return LogEntry(
        Kind.SEED_REVEALS,
        round_id,
        LAUNCHER,
        {"reveals": {i: s.hex() for i, s in sorted(reveals.items())}},
    )


def committee(
    *,
    round_id: int,
    seed: bytes,
    members: Collection[str],
    dealer: str | None,
    provider: str,
    beacon: Mapping[str, Any] | None = None,
) -> LogEntry:
    """The committee (rank order) and dealer drawn from ``seed``; ``beacon`` is the bound
    beacon round's value (drand's ``/public/{round}`` fields) that went into the seed."""
    extra = {"beacon": dict(beacon)} if beacon is not None else {}
    return LogEntry(
        Kind.COMMITTEE,
        round_id,
        LAUNCHER,
        {
            "seed": seed.hex(),
            "members": list(members),
            "dealer": dealer,
            "provider": provider,
            **extra,
        },
    )


def contribution(
    *,
    round_id: int,
    instance_id: str,
    model_version: int,
    digest: bytes,
    size: int,
    weight: float,
    params_hash: bytes,
) -> LogEntry:
    """An instance's contribution: the digest of its sealed envelopes, its raw weight and
    the round parameters it contributed under, signed by it."""
    return LogEntry(
        Kind.CONTRIBUTION,
        round_id,
        instance_id,
        {
            "model_version": model_version,
            "digest": digest.hex(),
            "size": size,
            "weight": weight,
            "params_hash": params_hash.hex(),
        },
    )


@dataclass(frozen=True)
class RoundResult:
    """What every member signs at the end of a round: with the round parameters' digest, the
    raw weight it used for each frozen contribution (read from the signed envelopes) and the
    noise's sensitivity convention."""

    round_id: int
    model_version: int
    model_hash: bytes
    accepted: Mapping[str, bytes]
    rejected: Mapping[str, bytes]
    noise_multiplier: float
    sample_rate: float
    params_hash: bytes = b""
    weights: Mapping[str, float] = field(default_factory=dict)
    sensitivity: str = ""
    slice_hash: bytes = b""  # a Gram release's round: the revealed slice's digest

    def to_json(self) -> dict[str, Any]:
        """JSON form (bytes as hex; ``slice_hash`` only when set)."""
        data = {
            "round": self.round_id,
            "model_version": self.model_version,
            "model_hash": self.model_hash.hex(),
            "accepted": {i: d.hex() for i, d in sorted(self.accepted.items())},
            "rejected": {i: d.hex() for i, d in sorted(self.rejected.items())},
            "noise_multiplier": self.noise_multiplier,
            "sample_rate": self.sample_rate,
            "params_hash": self.params_hash.hex(),
            "weights": {i: float(w) for i, w in sorted(self.weights.items())},
            "sensitivity": self.sensitivity,
        }
        if self.slice_hash:
            data["slice_hash"] = self.slice_hash.hex()
        return data


def result_signature(*, member: str, result: RoundResult, full: bool = False) -> LogEntry:
    """A member's signature over the round result (``model_version`` is the new version),
    its contributions named by their digest (:mod:`mpcrec.audit.result_contributions`;
    ``full``: the maps in the result, as logs written before the digest hold)."""
    signed = result.to_json() if full else compact(result.to_json())
    return LogEntry(Kind.RESULT_SIGNATURE, result.round_id, member, {"result": signed})


def result_contributions(*, result: RoundResult) -> LogEntry:
    """The launcher logs the maps a compact result signs by digest (accepted, rejected,
    weights), before the round's first ``result_signature`` entry of their digest."""
    return LogEntry(Kind.RESULT_CONTRIBUTIONS, result.round_id, LAUNCHER, maps_of(result.to_json()))


def publish(*, round_id: int, model_version: int, model_hash: bytes) -> LogEntry:
    """The launcher publishes the model the committee computed."""
    return LogEntry(
        Kind.PUBLISH,
        round_id,
        LAUNCHER,
        {"model_version": model_version, "model_hash": model_hash.hex()},
    )


def abort(*, round_id: int, reason: str, missing: Collection[str] = ()) -> LogEntry:
    """The launcher aborts a round; ``missing`` names who failed to act, if anyone."""
    return LogEntry(Kind.ABORT, round_id, LAUNCHER, {"reason": reason, "missing": sorted(missing)})
