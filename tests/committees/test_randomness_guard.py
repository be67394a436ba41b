"""No secret-dependent draw of a committee goes through torch's generators.

Each party (members and dealer) is a real process in which torch's sampling functions,
in-place sampling methods and ``torch.Generator()`` raise (:mod:`tests.committees.torch_rng_guard`)
from before the session is joined until the process exits. A round with the norm check, the
coordinate (wrap) check and noise on must still run and match its plaintext twin, in both
the replicated configuration (3 members) and the Beaver configuration with a TTP dealer.
On CrypTen's own randomness (``torch.Generator`` seeded with 64-bit integers, the dealer's
seeds from ``torch.randint``) the session cannot even be joined.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from committees import local_committee
from committees.local_committee import LocalCommittee
from committees.session import SessionSettings
from mpcrec.crypto.codec import FRACTIONAL_BITS
from mpcrec.model.server import weighted_sum
from mpcrec.secure.program import RESULT_BITS, WEIGHT_BITS, RoundSpec
from tests.committees.torch_rng_guard import guarded_party_main
from tests.secure.conftest import member_shares

pytestmark = pytest.mark.slow

SETTINGS = {
    "replicated": SessionSettings(protocol="replicated", timeout_s=60),
    "beaver-ttp": SessionSettings(protocol="beaver", provider="TTP", timeout_s=60),
}


def codec_tolerance(updates: list[np.ndarray], weights: list[float], lr: float) -> float:
    """Worst-case fixed-point error of one coordinate of ``offset + lr * sum w_i x_i``.

    Each ``x_i`` is rounded to ``2**-16`` (error ``2**-17``), each ``lr * w_i`` to ``2**-24``
    (error ``2**-25`` times ``|x_i|``), the offset to ``2**-40``; the sum is exact in the ring.
    """
    largest = max(float(np.max(np.abs(u))) for u in updates)
    return (
        lr * sum(weights) * 2.0 ** -(FRACTIONAL_BITS + 1)
        + len(weights) * (largest + 1.0) * 2.0 ** -(WEIGHT_BITS + 1)
        + 2.0**-RESULT_BITS
    )


@pytest.mark.timeout(300)
@pytest.mark.parametrize("config", sorted(SETTINGS))
def test_round_with_checks_and_noise_draws_nothing_from_torch(
    config: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Prepare: guarded party processes; C = 1, B = 16, noise on
    monkeypatch.setattr(local_committee, "party_main", guarded_party_main)
    rng = np.random.default_rng(17)
    dim, lr, sigma = 2000, 0.5, 1e-3
    honest = [rng.normal(0, 0.4 / np.sqrt(dim), dim) for _ in range(3)]
    too_long = rng.normal(0, 3.0 / np.sqrt(dim), dim)
    spiky = np.zeros(dim)
    spiky[7] = 40.0  # above B: the coordinate check alone rejects it
    updates = [honest[0], too_long, honest[1], spiky, honest[2]]
    weights = (1.0, 1.0, 0.5, 1.0, 0.25)
    offset = rng.normal(0, 0.1, dim)
    spec = RoundSpec(
        round_id=1,
        dim=dim,
        weights=weights,
        public_offset=offset,
        server_lr=lr,
        clip_norm=1.0,
        range_bound=16.0,
        noise_std=sigma,
    )
    # Execute
    with LocalCommittee(3, SETTINGS[config]) as committee:
        outcome = committee.run_round(spec, member_shares(updates))
    # Assert: the checks decided, the aggregate is its plaintext twin up to codec and noise
    assert outcome.accepted == (True, False, True, False, True)
    kept, kept_w = [honest[0], honest[1], honest[2]], [1.0, 0.5, 0.25]
    expected = offset + lr * weighted_sum(kept, kept_w)
    noise_bound = 6 * lr * sigma * np.sqrt(3)  # k = 3 members, t = 2: total std sqrt(3) sigma
    assert outcome.params is not None
    error = np.max(np.abs(outcome.params - expected))
    assert error <= codec_tolerance(kept, kept_w, lr) + noise_bound
    assert error > 0  # the noise is there


_GUARD_PROBE = """
import torch
from tests.committees.torch_rng_guard import TorchRandomnessUsed, forbid_torch_randomness
g = torch.Generator().manual_seed(1)
forbid_torch_randomness()
probes = {
    "randint": lambda: torch.randint(0, 9, (2,), generator=g),
    "rand": lambda: torch.rand(2),
    "normal_": lambda: torch.zeros(2).normal_(),
    "Generator": lambda: torch.Generator(),
}
for name, probe in probes.items():
    try:
        probe()
    except TorchRandomnessUsed:
        continue
    raise SystemExit(f"{name} was not refused")
print("all refused")
"""


@pytest.mark.timeout(120)
def test_the_guard_refuses_torch_draws_with_or_without_a_generator() -> None:
    """The guard itself (in a fresh interpreter: it changes torch for the whole process)."""
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run(
        [sys.executable, "-c", _GUARD_PROBE], env=env, capture_output=True, text=True, timeout=100
    )
    assert done.returncode == 0, done.stderr + done.stdout
    assert done.stdout.strip() == "all refused"
