"""Sortition and the commit-reveal seed: determinism, cooldown, dealer, reveal checks."""

from __future__ import annotations

import doctest
import hashlib
import itertools
import random

import pytest

from committees import seed as seed_module
from committees import sortition as sortition_module
from committees.seed import combine_reveals, commitment, verify_reveal
from committees.sortition import (
    NotEnoughCandidates,
    draw_committee,
    draw_dealer,
    eligible,
    sortition_score,
)
from mpcrec.errors import ConfigError, ProtocolError


def keys(n: int, salt: str = "") -> dict[str, bytes]:
    return {f"inst-{i:02d}": hashlib.sha256(f"{salt}{i}".encode()).digest() for i in range(n)}


@pytest.mark.parametrize("module", [seed_module, sortition_module])
def test_doctests(module: object) -> None:
    failures, tried = doctest.testmod(module)  # type: ignore[arg-type]
    assert tried > 0
    assert failures == 0


def test_score_is_sha256_of_seed_round_key() -> None:
    seed, key = b"s" * 32, b"k" * 32
    assert (
        sortition_score(seed, 258, key)
        == hashlib.sha256(seed + b"\x00\x00\x00\x00\x00\x00\x01\x02" + key).digest()
    )


def test_score_rejects_keys_that_are_not_raw_ed25519() -> None:
    with pytest.raises(ConfigError, match="32-byte"):
        sortition_score(b"s", 1, b"k" * 33)


def test_committee_is_k_lowest_scores_in_rank_order_and_deterministic() -> None:
    cands = keys(20)
    seed = b"\x42" * 32
    committee = draw_committee(seed, 5, cands, 3)
    scores = sorted((sortition_score(seed, 5, k), c) for c, k in cands.items())
    assert committee == tuple(c for _, c in scores[:3])
    shuffled = dict(random.Random(1).sample(sorted(cands.items()), len(cands)))
    assert draw_committee(seed, 5, shuffled, 3) == committee
    assert (
        draw_committee(seed, 6, cands, 3) != committee
        or draw_committee(b"\x43" * 32, 5, cands, 3) != committee
    )


def test_committee_depends_on_key_not_on_id() -> None:
    cands = keys(10)
    renamed = {f"other-{c}": k for c, k in cands.items()}
    seed = b"\x01" * 32
    assert [f"other-{c}" for c in draw_committee(seed, 0, cands, 4)] == list(
        draw_committee(seed, 0, renamed, 4)
    )


def test_too_few_candidates_raise() -> None:
    with pytest.raises(NotEnoughCandidates, match="2 eligible candidates for a committee of 3"):
        draw_committee(b"s" * 32, 1, keys(2), 3)
    with pytest.raises(ConfigError):
        draw_committee(b"s" * 32, 1, keys(2), 0)


def test_dealer_is_lowest_non_member() -> None:
    cands = keys(8)
    for r in range(50):
        seed = hashlib.sha256(str(r).encode()).digest()
        members = draw_committee(seed, r, cands, 3)
        dealer = draw_dealer(seed, r, cands, members)
        assert dealer not in members
        assert draw_committee(seed, r, cands, 4)[3] == dealer
    with pytest.raises(NotEnoughCandidates, match="dealer"):
        draw_dealer(b"s" * 32, 1, keys(3), set(keys(3)))


def test_eligible_excludes_last_cooldown_minus_one_rounds() -> None:
    history = [{"a", "b"}, {"c"}, {"d"}]
    cands = ["a", "b", "c", "d", "e", "a"]
    assert eligible(cands, history, 1) == ["a", "b", "c", "d", "e"]
    assert eligible(cands, history, 2) == ["a", "b", "c", "e"]
    assert eligible(cands, history, 3) == ["a", "b", "e"]
    assert eligible(cands, history, 4) == ["e"]
    assert eligible(cands, history, 10) == ["e"]
    assert eligible(cands, [], 5) == ["a", "b", "c", "d", "e"]
    with pytest.raises(ConfigError):
        eligible(cands, history, 0)


@pytest.mark.parametrize("cooldown", [1, 2, 3, 5])
def test_rotation_serves_at_most_once_per_cooldown_window(cooldown: int) -> None:
    cands = keys(20)
    committees: list[tuple[str, ...]] = []
    for r in range(200):
        seed = hashlib.sha256(r.to_bytes(4, "big")).digest()
        allowed = eligible(cands, committees, cooldown)
        committees.append(draw_committee(seed, r, {c: cands[c] for c in allowed}, 3))
    for start in range(len(committees) - cooldown + 1):
        window = committees[start : start + cooldown]
        members = list(itertools.chain.from_iterable(window))
        assert len(members) == len(set(members)), (start, window)


def test_sortition_is_roughly_uniform() -> None:
    cands = keys(10)
    counts = dict.fromkeys(cands, 0)
    rounds = 3000
    for r in range(rounds):
        for c in draw_committee(hashlib.sha256(b"u" + r.to_bytes(4, "big")).digest(), r, cands, 1):
            counts[c] += 1
    expected = rounds / len(cands)
    chi2 = sum((n - expected) ** 2 / expected for n in counts.values())
    assert chi2 < 27.9  # 99.9th percentile of chi-square with 9 degrees of freedom


def test_commitment_binds_round_instance_and_secret() -> None:
    s = b"\x07" * 32
    c = commitment(3, "a", s)
    assert verify_reveal(3, "a", s, c)
    assert not verify_reveal(4, "a", s, c)
    assert not verify_reveal(3, "b", s, c)
    assert not verify_reveal(3, "a", b"\x08" * 32, c)
    assert not verify_reveal(3, "a", s[:31], c)
    # length-prefixed ids: ("ab", secret) and ("a", "b" + ...) cannot collide by concatenation
    assert commitment(3, "ab", s) != commitment(3, "a", s)
    with pytest.raises(ProtocolError):
        commitment(3, "a", b"short")


def test_combine_is_order_independent_and_sensitive_to_everything() -> None:
    reveals = {"a": b"\x01" * 32, "b": b"\x02" * 32, "c": b"\x03" * 32}
    base = combine_reveals(9, reveals)
    assert combine_reveals(9, dict(reversed(list(reveals.items())))) == base
    assert combine_reveals(10, reveals) != base
    assert combine_reveals(9, {**reveals, "c": b"\x04" * 32}) != base
    assert combine_reveals(9, {"a": reveals["a"], "b": reveals["b"]}) != base
    with pytest.raises(ProtocolError):
        combine_reveals(9, {})
