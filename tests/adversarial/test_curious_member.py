"""A curious member tries to rebuild the other members' masks, and with them every input.

Setting: the Beaver configuration with a TTP dealer, ``k = 3`` members, norm check on. For
each contribution ``x`` (an ``(N, D)`` ring tensor split among the members) the norm check
draws a mask ``r = r_0 + r_1 + r_2``, member ``i`` drawing ``r_i`` from the generator the
dealer set up for it, and opens ``eps = x - r`` to every member
(:func:`mpcrec.secure.validation.squared_norms`). Whoever knows all three generators knows
``r`` and reads ``x = eps + r``: every contribution in full.

The attacker is member 1, a real party process (:mod:`tests.adversarial.curious_view`);
its view is what it received from the dealer at set-up (its own seed or key) and the
openings. It does not need its own shares.

With CrypTen's own randomness the dealer draws each member's seed with ``torch.randint``
from torch's default generator, whose Mersenne Twister state depends on only the low 32 bits
of its seed, and each member's generator again keeps 32 bits of its seed. So member 1
enumerates the 2^32 states of the dealer's default generator, keeps the one whose draw at
position ``c + 1`` (``c`` = draws before this session, a small number) equals the seed it
received, reads the other members' seeds at ``c`` and ``c + 2``, regenerates ``r_0`` and
``r_2`` and checks that ``eps + r`` is a vector of small fixed-point values (a wrong guess
gives uniform 64-bit words). That is 2^32 candidates, hours of one core in Python and
trivially parallel; to keep the test to a second the test hands the attacker the top 16 of
the 32 bits (read from the dealer process), and it searches the remaining 2^16 with the
same code. With 256-bit keys (:mod:`committees.transport.randomness`) there is no 32-bit
state to enumerate: the key the member received is not a draw of any Mersenne Twister, the
other members' keys are independent ``os.urandom`` values, and the same search finds
nothing. The first test checks the search itself on seeds dealt the way CrypTen deals them,
so that the second cannot pass merely because the attack is broken.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from committees import local_committee
from committees.local_committee import LocalCommittee
from committees.session import SessionSettings
from mpcrec.crypto.codec import encode
from mpcrec.secure.program import RoundSpec
from tests.adversarial.curious_view import VIEW_DIR_ENV, curious_party_main
from tests.secure.conftest import member_shares

GIVEN_BITS = 16  # of the 32 state bits of the dealer's default generator
SEARCHED_BITS = 32 - GIVEN_BITS
DRAWS = 12  # positions searched: seeds of the first sessions of a fresh dealer
PLAUSIBLE = 2**40  # |x| below this for a fixed-point update (2**16 * 2**24)


def _ring(size: tuple[int, ...], seed: int) -> torch.Tensor:
    """``crypten.common.rng.generate_random_ring_element`` from a torch generator."""
    g = torch.Generator().manual_seed(seed)
    return torch.randint(-(2**63), 2**63 - 1, size, generator=g, dtype=torch.long)


def rebuild_inputs(
    received: np.ndarray, opening: np.ndarray, rank: int, world: int, given_high_bits: int
) -> np.ndarray | None:
    """The attack: every member's mask from a search of the dealer's generator, then ``x``.

    ``received`` is what this member got from the dealer at set-up, ``opening`` the opened
    ``x - r``. Returns the contributions, or ``None`` if no candidate state explains the view.
    """
    own = torch.from_numpy(received.astype(np.int64).reshape(-1))
    eps = torch.from_numpy(opening)
    g = torch.Generator()
    for low in range(1 << SEARCHED_BITS):
        g.manual_seed((given_high_bits << SEARCHED_BITS) | low)
        draws = torch.randint(-(2**63), 2**63 - 1, (DRAWS,), generator=g)
        for pos in torch.nonzero(torch.isin(draws, own)).view(-1).tolist():
            start = pos - rank
            if start < 0 or start + world > DRAWS:
                continue
            seeds = draws[start : start + world].tolist()
            x = eps.clone()
            for seed in seeds:
                x += _ring(tuple(eps.shape), seed)
            if int(x.abs().max()) < PLAUSIBLE:
                return x.numpy()
    return None


def test_the_search_recovers_seeds_dealt_the_way_crypten_deals_them() -> None:
    # Prepare: CrypTen's TTPServer._setup_generators on a default generator of known state
    state = (0xBEEF << SEARCHED_BITS) | 0x1234
    dealer = torch.Generator().manual_seed(state)
    seeds = [int(torch.randint(-(2**63), 2**63 - 1, (), generator=dealer)) for _ in range(3)]
    x = torch.from_numpy(encode(np.linspace(-1, 1, 40).reshape(2, 20)))
    eps = x - sum(_ring((2, 20), s) for s in seeds)
    # Execute: member 1 knows its seed and eps
    rebuilt = rebuild_inputs(np.array([seeds[1]]), eps.numpy(), 1, 3, state >> SEARCHED_BITS)
    # Assert
    assert rebuilt is not None and np.array_equal(rebuilt, x.numpy())


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_curious_member_cannot_rebuild_the_other_members_masks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Prepare: three members and a dealer that record their views; norm check on
    monkeypatch.setenv(VIEW_DIR_ENV, str(tmp_path))
    monkeypatch.setattr(local_committee, "party_main", curious_party_main)
    rng = np.random.default_rng(23)
    n, dim = 3, 1000
    updates = [rng.normal(0, 0.3 / np.sqrt(dim), dim) for _ in range(n)]
    spec = RoundSpec(
        round_id=1, dim=dim, weights=(1.0,) * n, public_offset=np.zeros(dim), clip_norm=1.0
    )
    settings = SessionSettings(protocol="beaver", provider="TTP", timeout_s=60)
    with LocalCommittee(3, settings) as committee:
        outcome = committee.run_round(spec, member_shares(updates))
    assert outcome.accepted == (True,) * n
    # Execute: member 1's attack on its own view, helped by 16 bits of the dealer's state
    view = np.load(tmp_path / "member-1.npz")
    openings = [view[k] for k in view.files if k.startswith("opening_")]
    (eps,) = [o for o in openings if o.shape == (n, dim)]
    dealer_state = int((tmp_path / "dealer-seed.txt").read_text()) & 0xFFFFFFFF
    rebuilt = rebuild_inputs(view["dealer_words"], eps, 1, 3, dealer_state >> SEARCHED_BITS)
    # Assert: nothing explains the view, so no contribution is read
    truth = np.stack([encode(u) for u in updates])
    assert rebuilt is None, (
        "member 1 rebuilt the other members' masks from its own view: "
        f"contributions read exactly: {rebuilt is not None and np.array_equal(rebuilt, truth)}"
    )
    assert view["dealer_words"].size * 8 == 32  # what the dealer sent it: one 256-bit key
