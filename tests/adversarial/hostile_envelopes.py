"""A malicious contributor's envelopes: another contributor's slot claimed, and envelopes
replayed, misaddressed or equivocating (``open_share``'s reasons), one stage a round.

Run by ``python -m tests.adversarial.hostile_contributor --config node.yaml --envelopes
--victim tube-0 --out evil.json``: the real node daemon (:class:`EnvelopeNode`) with its
configured (drift) trainer, whose :meth:`SecureAggregation.seal` is replaced in this process
by :meth:`EnvelopeAttack.seal`. Up to the first published model (base version 0) it seals
honestly and keeps what an attack needs: the round and nonce of its last honest envelope
and the hash of that base. From base version 1 on, while a kind in :data:`KINDS` is pending:

``slot-mismatch``
    every envelope, well sealed and signed with its own key, claims the victim's slot
    (``contributor_id``) in its signed header (the members' ``check_slots``);

then, in one round, each honest member gets one of (the others in :data:`OPEN_KINDS` order):

``replayed``
    its share bound to the earlier round, under that round's nonce (``wrong round id``);
``misaddressed``
    its share under the header of another member's index (``sealed to member j, not i``);
``equivocating``
    its share bound to another base model than the others' (``wrong model version``).

Each envelope carries the member's own honest payload of one sharing of the update, sealed
to its key and signed: only the one header field named is wrong, so each is stopped by
exactly one of ``open_share``'s checks. A kind is done once a round in which it was given
to an honest member has reached computing (else it is given again); then it seals honestly.
Everything given is written to ``--out`` (JSON: ``given``, ``computing``, ``pending``); a
restarted contributor resumes from it (with nothing pending it seals honestly).
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from mpcrec.crypto import envelope as env_mod
from mpcrec.crypto.codec import encode
from mpcrec.crypto.envelope import NONCE_BYTES, SealedShare, seal_contribution
from mpcrec.crypto.sharing import split
from mpcrec.federation.announcement import RoundAnnouncement
from mpcrec.files import write_atomic
from mpcrec.node.aggregation.secure import SecureAggregation
from mpcrec.node.daemon import Node

OPEN_KINDS = ("replayed", "misaddressed", "equivocating")
KINDS = ("slot-mismatch", *OPEN_KINDS)

_REAL_SEAL = SecureAggregation.seal


def seal_one(
    payload: bytes, member_key: bytes, signing_key: Ed25519PrivateKey, header: SealedShare
) -> bytes:
    """``payload`` sealed to ``member_key`` under ``header``'s fields (as
    :func:`mpcrec.crypto.envelope.seal_shares` seals one, with any header), signed."""
    ephemeral = X25519PrivateKey.generate()
    eph_pub = ephemeral.public_key().public_bytes(env_mod._RAW, env_mod._RAW_PUB)
    shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(member_key))
    key = env_mod._derive_key(shared, eph_pub, member_key)
    unsigned = dataclasses.replace(header, ephemeral_key=eph_pub, ciphertext=b"", signature=b"")
    ciphertext = AESGCM(key).encrypt(env_mod._GCM_NONCE, payload, unsigned.header())
    body = dataclasses.replace(unsigned, ciphertext=ciphertext)
    signed = dataclasses.replace(body, signature=signing_key.sign(body.signed_bytes()))
    return signed.to_bytes()


class EnvelopeAttack:
    """The stages of the module docstring; its record is saved to ``out``."""

    def __init__(self, me: str, victim: str, out: Path) -> None:
        self.me, self.victim, self.out = me, victim, out
        done = json.loads(out.read_text()) if out.exists() else {}  # restarted: resume
        self.pending: list[str] = done.get("pending", list(KINDS))
        self.given: list[dict[str, Any]] = done.get("given", [])
        self.computing: set[int] = set(done.get("computing", []))
        self.earlier: tuple[int, bytes] | None = None  # (round, nonce) of an honest envelope
        self.other_hash = b""  # the base model hash of that envelope
        self.save()

    def save(self) -> None:
        data = {"given": self.given, "computing": sorted(self.computing), "pending": self.pending}
        write_atomic(self.out, json.dumps(data, indent=1, sort_keys=True).encode())

    def settle(self) -> None:
        """Kinds given to honest members in a round that reached computing are done."""
        for item in self.given:
            if item["round"] in self.computing:
                for given in item["kinds"].values():
                    if given["kind"] in self.pending:
                        self.pending.remove(given["kind"])
        self.save()

    def seal(
        self,
        agg: SecureAggregation,
        update: np.ndarray,
        ann: RoundAnnouncement,
        weight: float,
        params_hash: bytes,
    ) -> list[bytes]:
        """The round's envelopes, in committee order (see the module docstring)."""
        self.settle()
        if ann.model_version < 1 or not self.pending or self.earlier is None:
            honest: list[bytes] = _REAL_SEAL(
                agg, update, ann, weight=weight, params_hash=params_hash
            )
            if ann.model_version < 1:
                first = SealedShare.from_bytes(honest[0])
                self.earlier, self.other_hash = (ann.round_id, first.nonce), ann.model_hash
            return honest
        others = [m for m in ann.members if m != self.me]
        if self.pending[0] == "slot-mismatch":
            sealed = seal_contribution(
                np.ravel(update),
                member_keys=[m.sealing_key for m in ann.committee],
                signing_key=agg.seat.keys.signing,
                round_id=ann.round_id,
                model_hash=ann.model_hash,
                contributor_id=self.victim,  # the slot it claims
                weight=weight,
                params_hash=params_hash,
            )
            kinds = {m: {"kind": "slot-mismatch", "claims": self.victim} for m in others}
            self._record(ann, kinds)
            return [s.to_bytes() for s in sealed]
        return self._open_kinds(agg, update, ann, weight, params_hash)

    def _open_kinds(
        self,
        agg: SecureAggregation,
        update: np.ndarray,
        ann: RoundAnnouncement,
        weight: float,
        params_hash: bytes,
    ) -> list[bytes]:
        """One sharing of ``update``; each honest member's share under one wrong field."""
        assert self.earlier is not None
        first, seeds = split(
            encode(np.ravel(np.asarray(update, dtype=np.float64))), len(ann.members)
        )
        payloads = [first.astype("<i8").tobytes(), *seeds]
        order = [k for k in self.pending if k in OPEN_KINDS]
        order += [k for k in OPEN_KINDS if k not in order]
        nonce = os.urandom(NONCE_BYTES)
        kinds: dict[str, dict[str, Any]] = {}
        blobs = []
        for rank, member in enumerate(ann.committee):
            header: dict[str, Any] = {
                "round_id": ann.round_id,
                "model_hash": ann.model_hash,
                "member_index": rank,
                "nonce": nonce,
            }
            if member.instance_id != self.me:
                kind = order[len(kinds) % len(order)]
                header.update(self._wrong(kind, rank, len(ann.members)))
                kinds[member.instance_id] = {
                    "kind": kind,
                    "rank": rank,
                    **{k: (v.hex() if isinstance(v, bytes) else v) for k, v in header.items()},
                }
            fields = SealedShare(
                contributor_id=self.me,
                ephemeral_key=b"",
                ciphertext=b"",
                signature=b"",
                weight=weight,
                params_hash=params_hash,
                **header,
            )
            blobs.append(
                seal_one(payloads[rank], member.sealing_key, agg.seat.keys.signing, fields)
            )
        self._record(ann, kinds)
        return blobs

    def _wrong(self, kind: str, rank: int, size: int) -> dict[str, Any]:
        """The header fields ``kind`` changes for the member of index ``rank``."""
        assert self.earlier is not None
        if kind == "replayed":
            return {"round_id": self.earlier[0], "nonce": self.earlier[1]}
        if kind == "misaddressed":
            return {"member_index": (rank + 1) % size}
        return {"model_hash": self.other_hash}

    def _record(self, ann: RoundAnnouncement, kinds: dict[str, dict[str, Any]]) -> None:
        self.given.append({"round": ann.round_id, "members": list(ann.members), "kinds": kinds})
        self.save()


class EnvelopeNode(Node):
    """The real node daemon; it notes every round it sees reach computing."""

    def __init__(self, config: Any, attack: EnvelopeAttack) -> None:
        super().__init__(config)
        self.attack = attack

        def seal(
            agg: SecureAggregation,
            update: np.ndarray,
            ann: RoundAnnouncement,
            *,
            weight: float,
            params_hash: bytes,
        ) -> list[bytes]:
            return attack.seal(agg, update, ann, weight, params_hash)

        SecureAggregation.seal = seal  # type: ignore[method-assign,assignment]  # this process only

    def handle(self, client: Any, ann: RoundAnnouncement) -> None:
        if ann.phase.value == "computing" and ann.round_id not in self.attack.computing:
            self.attack.computing.add(ann.round_id)
            self.attack.save()
        super().handle(client, ann)
