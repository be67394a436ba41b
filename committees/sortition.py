"""Sortition: the committee (and the dealer) any auditor can recompute from the log.

1. Every candidate gets a score ``SHA-256(seed || round_id as 8-byte big-endian || public key)``
   where the public key is the instance's raw 32-byte Ed25519 key.
2. Candidates who sat on a committee in the last ``cooldown - 1`` rounds are not eligible,
   so a member serves at most once in any ``cooldown`` consecutive rounds.
3. The committee is the ``k`` eligible candidates with the lowest scores, in score order
   (which is the member rank order: rank 0 has the lowest score).
4. The dealer, when the provider needs one, is the non-member with the lowest score.

The seed comes from :mod:`committees.seed`; nobody knows it before every participant has
revealed, so nobody can place an instance by choosing its key. Everything here is pure.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Mapping, Sequence

from mpcrec.errors import ConfigError

PUBLIC_KEY_BYTES = 32


class NotEnoughCandidates(ConfigError):
    """Fewer eligible candidates than seats: the round cannot seat a committee."""


def sortition_score(seed: bytes, round_id: int, public_key: bytes) -> bytes:
    """``SHA-256(seed || round_id (8 bytes, big-endian) || public_key)``.

    Examples
    --------
    >>> sortition_score(b"\\x00" * 32, 1, b"\\x01" * 32).hex()[:16]
    'a7cf31387e6255cc'
    """
    if len(public_key) != PUBLIC_KEY_BYTES:
        raise ConfigError(
            f"public key of {len(public_key)} bytes; sortition needs a raw 32-byte Ed25519 key",
            hint="pass Ed25519PublicKey.public_bytes_raw()",
        )
    if not 0 <= round_id < 2**64:
        raise ConfigError(f"round id {round_id} does not fit in 8 unsigned bytes")
    return hashlib.sha256(seed + round_id.to_bytes(8, "big") + public_key).digest()


def eligible(
    candidates: Iterable[str], recent_committees: Sequence[Collection[str]], cooldown: int
) -> list[str]:
    """Candidates allowed to serve this round, in their given order.

    Parameters
    ----------
    candidates:
        Instance ids that could serve.
    recent_committees:
        Member ids of the committees of the previous rounds by round id, oldest first, the
        round just before this one last (an empty collection for a round that drew none).
        Every drawn committee counts, also of rounds that aborted later.
    cooldown:
        A member serves at most once in any ``cooldown`` consecutive rounds: whoever sat in
        one of the last ``cooldown - 1`` rounds is excluded. ``1`` excludes nobody.

    Examples
    --------
    >>> eligible(["a", "b", "c", "d"], [{"a"}, {"b"}, {"c"}], cooldown=3)
    ['a', 'd']
    """
    if cooldown < 1:
        raise ConfigError(f"cooldown {cooldown} must be at least 1", hint="1 means no cooldown")
    start = max(0, len(recent_committees) - (cooldown - 1))
    window = recent_committees[start:] if cooldown > 1 else []
    recent: set[str] = set().union(*window) if window else set()
    seen: set[str] = set()
    out: list[str] = []
    for candidate in candidates:
        if candidate not in recent and candidate not in seen:
            seen.add(candidate)
            out.append(candidate)
    return out


def _ranked(seed: bytes, round_id: int, candidates: Mapping[str, bytes]) -> list[str]:
    """Candidate ids sorted by score (ties, impossible in practice, broken by id)."""
    return sorted(candidates, key=lambda c: (sortition_score(seed, round_id, candidates[c]), c))


def draw_committee(
    seed: bytes, round_id: int, candidates: Mapping[str, bytes], k: int
) -> tuple[str, ...]:
    """The ``k`` candidates with the lowest scores, in score (= member rank) order.

    Parameters
    ----------
    seed:
        The round's seed (:func:`committees.seed.combine_reveals`).
    round_id:
        The round.
    candidates:
        Eligible instance id -> raw 32-byte Ed25519 public key.
    k:
        Committee size.

    Raises
    ------
    NotEnoughCandidates
        When fewer than ``k`` candidates are eligible.
    """
    if k < 1:
        raise ConfigError(f"committee size {k} must be at least 1")
    if len(candidates) < k:
        raise NotEnoughCandidates(
            f"round {round_id}: {len(candidates)} eligible candidates for a committee of {k}",
            hint="register more instances or lower the cooldown",
        )
    return tuple(_ranked(seed, round_id, candidates)[:k])


def draw_dealer(
    seed: bytes, round_id: int, candidates: Mapping[str, bytes], members: Collection[str]
) -> str:
    """The non-member candidate with the lowest score: the TTP dealer.

    Raises
    ------
    NotEnoughCandidates
        When every candidate is a member.
    """
    others = {c: key for c, key in candidates.items() if c not in members}
    if not others:
        raise NotEnoughCandidates(
            f"round {round_id}: no candidate outside the committee to act as dealer",
            hint="register more instances, lower the cooldown, or use the replicated provider",
        )
    return _ranked(seed, round_id, others)[0]
