"""The round seed: commit-reveal among the round's participants, behind a ``SeedSource``.

Protocol (one round ``r``):

1. Before round ``r`` opens, each participant has a *commitment* for ``r``:
   ``commitment(r, id, s) = SHA-256("mpcrec/seed-commit/v1" 0x00 || r (8 bytes) ||
   len(id) (2 bytes) || id || s)`` for a 32-byte secret ``s``, signed by the instance.
2. After the commitments are closed, each participant reveals ``s``; anyone checks it with
   :func:`verify_reveal`.
3. The seed is :func:`combine_reveals`: SHA-256 over the round and every ``(id, s)`` in
   sorted id order. One honest participant's secret makes it uniform and unpredictable.

*Hash chains.* A participant may commit once to many rounds: it draws a tip ``s_last`` and
sets ``s_{r-1} = commitment(r, id, s_r)`` down to ``s_first``; its commitment for
``first`` is ``commitment(first, id, s_first)``. The reveal for round ``r`` is then also its
commitment for round ``r + 1``, so one signed commitment serves every round and each reveal
is checked by hashing (:func:`verify_chained_reveal`), without a signature: a reveal is a
preimage nobody else can produce. A one-round commitment is the chain of length one.

*Last revealer.* The last participant to reveal knows the seed before anyone else and may
withhold its reveal to force a redraw. Policy: reveals have a deadline; a missing reveal
aborts the round (no seed, no committee, logged with the missing ids), the next round uses
fresh values, and the withholder is visible in the log. Withholding buys at most one redraw
per withheld reveal, never a chosen seed. The launcher, which sees reveals first, has the
same power by aborting; every abort after the reveals is logged and counted by the auditor.

*drand.* A public randomness beacon fits the same :class:`SeedSource` interface: a round
``r`` is bound, before it opens, to a future beacon round ``b(r)``, and ``seed(r)`` returns
``SHA-256(domain || r || beacon signature of b(r))`` after checking the BLS signature against
the beacon's public key. That removes the last-revealer bias (nobody can withhold) at the
cost of trusting the beacon's threshold network. Not implemented here.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Protocol

from mpcrec.errors import ConfigError, ProtocolError, RoundAborted

SECRET_BYTES = 32
_COMMIT_DOMAIN = b"mpcrec/seed-commit/v1\x00"
_SEED_DOMAIN = b"mpcrec/seed/v1\x00"


def _tagged_id(instance_id: str) -> bytes:
    raw = instance_id.encode("utf-8")
    if not raw or len(raw) > 0xFFFF:
        raise ConfigError(f"instance id {instance_id!r} must be 1 to 65535 UTF-8 bytes")
    return len(raw).to_bytes(2, "big") + raw


def _round_bytes(round_id: int) -> bytes:
    if not 0 <= round_id < 2**64:
        raise ConfigError(f"round id {round_id} does not fit in 8 unsigned bytes")
    return round_id.to_bytes(8, "big")


def commitment(round_id: int, instance_id: str, secret: bytes) -> bytes:
    """The domain-separated SHA-256 commitment of ``instance_id`` to ``secret`` for a round.

    Examples
    --------
    >>> c = commitment(7, "peertube.example", bytes(32))
    >>> verify_reveal(7, "peertube.example", bytes(32), c), verify_reveal(8, "peertube.example",
    ...     bytes(32), c)
    (True, False)
    """
    if len(secret) != SECRET_BYTES:
        raise ProtocolError(f"seed secret of {len(secret)} bytes; expected {SECRET_BYTES}")
    return hashlib.sha256(
        _COMMIT_DOMAIN + _round_bytes(round_id) + _tagged_id(instance_id) + secret
    ).digest()


def verify_reveal(round_id: int, instance_id: str, secret: bytes, expected: bytes) -> bool:
    """Whether ``secret`` opens the commitment ``expected`` of ``instance_id`` for a round."""
    if len(secret) != SECRET_BYTES:
        return False
    return secrets.compare_digest(commitment(round_id, instance_id, secret), expected)


def verify_chained_reveal(
    *,
    instance_id: str,
    round_id: int,
    secret: bytes,
    known: bytes,
    known_round: int,
    max_gap: int = 1_000_000,
) -> bool:
    """Whether the reveal for ``round_id`` opens ``known``, the commitment for ``known_round``.

    ``known`` is the instance's signed commitment for ``known_round``, or its reveal for
    round ``known_round - 1`` (which is its commitment for ``known_round``). Rounds between
    may have been skipped; each costs one hash, up to ``max_gap``.
    """
    if not known_round <= round_id <= known_round + max_gap or len(secret) != SECRET_BYTES:
        return False
    value = secret
    for r in range(round_id, known_round, -1):
        value = commitment(r, instance_id, value)
    return verify_reveal(known_round, instance_id, value, known)


def combine_reveals(round_id: int, reveals: Mapping[str, bytes]) -> bytes:
    """The round's seed from every participant's revealed secret (order-independent).

    Examples
    --------
    >>> a = combine_reveals(3, {"x": bytes(32), "y": b"\\x01" * 32})
    >>> a == combine_reveals(3, {"y": b"\\x01" * 32, "x": bytes(32)})
    True
    """
    if not reveals:
        raise ProtocolError(f"round {round_id}: no reveals to combine into a seed")
    digest = hashlib.sha256(_SEED_DOMAIN + _round_bytes(round_id))
    for instance_id in sorted(reveals, key=lambda i: i.encode("utf-8")):
        secret = reveals[instance_id]
        if len(secret) != SECRET_BYTES:
            raise ProtocolError(f"round {round_id}: reveal of {instance_id} is not 32 bytes")
        digest.update(_tagged_id(instance_id) + secret)
    return digest.digest()


@dataclass(frozen=True)
class HashChain:
    """A participant's secrets for rounds ``first_round..last_round`` (kept by the node).

    Attributes
    ----------
    instance_id, first_round, last_round:
        Whose chain and which rounds it covers.
    values:
        ``values[r - first_round]`` is the secret revealed for round ``r``.
    """

    instance_id: str
    first_round: int
    last_round: int
    values: tuple[bytes, ...]

    @classmethod
    def generate(
        cls, instance_id: str, first_round: int, last_round: int, tip: bytes | None = None
    ) -> HashChain:
        """Draw a fresh tip (or use ``tip``) and hash down to ``first_round``."""
        if last_round < first_round:
            raise ConfigError(f"chain rounds {first_round}..{last_round} are empty")
        value = tip if tip is not None else secrets.token_bytes(SECRET_BYTES)
        out = [value]
        for r in range(last_round, first_round, -1):
            value = commitment(r, instance_id, value)
            out.append(value)
        return cls(instance_id, first_round, last_round, tuple(reversed(out)))

    @property
    def anchor(self) -> bytes:
        """The commitment for ``first_round``: what the instance signs and publishes."""
        return commitment(self.first_round, self.instance_id, self.values[0])

    def reveal(self, round_id: int) -> bytes:
        """The secret to reveal in ``round_id``."""
        if not self.first_round <= round_id <= self.last_round:
            raise ConfigError(
                f"round {round_id} outside this chain ({self.first_round}..{self.last_round})",
                hint="commit to a fresh chain",
            )
        return self.values[round_id - self.first_round]


class SeedSource(Protocol):
    """Where a round's seed comes from (commit-reveal here; a drand beacon would also fit)."""

    def seed(self, round_id: int) -> bytes:
        """The seed of ``round_id``; raises :class:`SeedWithheld` when it cannot be fixed."""
        ...


class SeedWithheld(RoundAborted):
    """Some participant did not reveal: the round aborts without a seed."""

    def __init__(self, round_id: int, missing: Collection[str]) -> None:
        self.round_id = round_id
        self.missing = tuple(sorted(missing))
        super().__init__(f"round {round_id}: no reveal from {', '.join(self.missing)}")


@dataclass
class _Live:
    round_id: int  # the round the commitment is for
    last_round: int
    value: bytes


class CommitReveal:
    """Commit-reveal seed source: commitments in, reveals checked, seed out.

    Examples
    --------
    >>> chain = HashChain.generate("a", 0, 9)
    >>> source = CommitReveal()
    >>> source.commit("a", round_id=0, commitment=chain.anchor, last_round=9)
    >>> source.open_round(4, ["a"])
    ('a',)
    >>> source.reveal(4, "a", chain.reveal(4))
    >>> source.seed(4) == combine_reveals(4, {"a": chain.reveal(4)})
    True
    """

    def __init__(self) -> None:
        self._live: dict[str, _Live] = {}
        self._expected: dict[int, tuple[str, ...]] = {}
        self._reveals: dict[int, dict[str, bytes]] = {}

    def commit(
        self, instance_id: str, *, round_id: int, commitment: bytes, last_round: int | None = None
    ) -> None:
        """Record ``instance_id``'s commitment for ``round_id`` (a chain up to ``last_round``)."""
        end = round_id if last_round is None else last_round
        if end < round_id or len(commitment) != 32:
            raise ProtocolError(f"{instance_id}: malformed commitment for round {round_id}")
        self._live[instance_id] = _Live(round_id, end, commitment)

    def open_round(self, round_id: int, participants: Collection[str]) -> tuple[str, ...]:
        """Fix who must reveal in ``round_id``: the participants holding a live commitment."""
        expected = tuple(
            sorted(
                p
                for p in participants
                if p in self._live
                and self._live[p].round_id <= round_id <= self._live[p].last_round
            )
        )
        self._expected[round_id] = expected
        self._reveals[round_id] = {}
        return expected

    def reveal(self, round_id: int, instance_id: str, secret: bytes) -> None:
        """Check and record a reveal; raises :class:`ProtocolError` if it does not open."""
        if instance_id not in self._expected.get(round_id, ()):
            raise ProtocolError(f"round {round_id}: {instance_id} is not expected to reveal")
        live = self._live[instance_id]
        if not verify_chained_reveal(
            instance_id=instance_id,
            round_id=round_id,
            secret=secret,
            known=live.value,
            known_round=live.round_id,
        ):
            raise ProtocolError(
                f"round {round_id}: the reveal of {instance_id} does not open its commitment",
                hint="the node must reveal the secret it committed to for this round",
            )
        self._reveals[round_id][instance_id] = secret
        if round_id < live.last_round:
            self._live[instance_id] = _Live(round_id + 1, live.last_round, secret)
        else:
            del self._live[instance_id]

    def missing(self, round_id: int) -> tuple[str, ...]:
        """Participants of ``round_id`` who have not revealed yet."""
        got = self._reveals.get(round_id, {})
        return tuple(p for p in self._expected.get(round_id, ()) if p not in got)

    def seed(self, round_id: int) -> bytes:
        """The round's seed, once every expected participant revealed."""
        if round_id not in self._expected:
            raise ProtocolError(f"round {round_id} was never opened")
        missing = self.missing(round_id)
        if missing or not self._expected[round_id]:
            raise SeedWithheld(round_id, missing)
        return combine_reveals(round_id, self._reveals[round_id])
