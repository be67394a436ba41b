"""The committee's MPC program: from members' shares to the next global model.

Runs inside an initialised CrypTen party (no I/O, no gRPC): every member calls
:func:`aggregate` with the same public :class:`RoundSpec` and its own shares, one ``int64``
vector per contribution (scale ``2**16``, see :mod:`mpcrec.crypto.codec`). Steps:

1. Stack the shares as one ``(N, D)`` ring tensor (``MPCTensor.from_shares`` layout).
2. Validate each contribution inside MPC (:mod:`mpcrec.secure.validation`): squared L2
   norm ``<= C**2`` and, optionally, the coordinate (wrap) check; reveal one accept bit per
   contribution, nothing else.
3. Refuse the round if fewer than ``min_contributors`` were accepted.
4. Sum the accepted shares with public weights ``lr * w_i`` encoded at ``2**24`` (local ring
   products: no communication, no truncation), so the sum sits at scale ``2**40``.
5. Every member adds its own Gaussian noise, ``N(0, sigma**2 / (k - t))`` times ``lr``, to
   its share (:mod:`mpcrec.secure.noise`); member 0 adds the public optimiser offset.
6. Re-randomise the shares with a pseudo-random sharing of zero (so no member reads
   another's share, hence its noise, at the reveal), reveal the ``D`` values once,
   divide by ``2**40`` in float64.

The output is ``public_offset + lr * (sum_i w_i x_i + noise)``, which is
:meth:`mpcrec.model.server.ServerSGD.step` applied to the noisy aggregate.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from mpcrec.crypten_compat import load_crypten
from mpcrec.crypto.codec import FRACTIONAL_BITS
from mpcrec.errors import ConfigError
from mpcrec.secure.noise import member_noise
from mpcrec.secure.validation import accept_bits, check_parameters

WEIGHT_BITS = 24
RESULT_BITS = FRACTIONAL_BITS + WEIGHT_BITS

Vector = npt.NDArray[np.float64]


@dataclass(frozen=True)
class RoundSpec:
    """Everything public about one secure round (identical at every member).

    Parameters
    ----------
    round_id:
        The round this spec belongs to.
    dim:
        Length ``D`` of every update.
    weights:
        Public aggregation weight per contribution, in contribution order.
    public_offset:
        ``params + lr * momentum * velocity`` (:meth:`ServerSGD.public_offset`), length ``D``.
    server_lr:
        Server learning rate ``lr``.
    clip_norm:
        ``C``: contributions with ``||x||_2 > C`` are rejected; ``None`` skips the check.
    range_bound:
        ``B``: the coordinate (wrap) check, see :mod:`mpcrec.secure.validation`; ``None``
        skips it (then values that wrap the ring can fool the norm check).
    noise_std:
        ``sigma`` of the Gaussian noise on the aggregate (0 disables noise).
    collusion_threshold:
        ``t``, the number of members that may pool their views; each member adds noise of
        variance ``sigma**2 / (k - t)``. ``None`` means ``k - 1``.
    min_contributors:
        Refuse the round when fewer contributions are accepted.
    range_projections:
        Number of random projections of the coordinate check (soundness error ``2**-m``).
    """

    round_id: int
    dim: int
    weights: tuple[float, ...]
    public_offset: Vector = field(compare=False, repr=False)
    server_lr: float = 1.0
    clip_norm: float | None = None
    range_bound: float | None = None
    noise_std: float = 0.0
    collusion_threshold: int | None = None
    min_contributors: int = 1
    range_projections: int = 40

    def __post_init__(self) -> None:
        if self.public_offset.shape != (self.dim,):
            raise ConfigError(
                f"public_offset of shape {self.public_offset.shape}, expected ({self.dim},)"
            )
        if self.noise_std < 0 or (self.clip_norm is not None and self.clip_norm <= 0):
            raise ConfigError(f"invalid noise_std {self.noise_std} or clip_norm {self.clip_norm}")
        if self.min_contributors < 1:
            raise ConfigError(f"min_contributors must be >= 1, got {self.min_contributors}")
        check_parameters(self.dim, self.clip_norm, self.range_bound)


@dataclass(frozen=True)
class RoundOutcome:
    """What a round revealed, and what it cost (as seen by one member).

    ``params`` is ``None`` when the round was refused (``refused`` says why); then only
    the accept bits were revealed. ``cpu_seconds`` is the CPU time this member's process
    spent on the program (every thread, the transport's included; a committee party adds
    the opening of the envelopes, phase ``open``): unlike ``seconds`` it does not grow
    with the machine's load.
    """

    round_id: int
    params: Vector | None = field(compare=False, repr=False)
    accepted: tuple[bool, ...]
    protocol: str
    provider: str
    comm_rounds: int
    comm_bytes: int
    seconds: float
    refused: str | None = None
    phase_seconds: tuple[tuple[str, float], ...] = ()
    cpu_seconds: float = 0.0


def aggregate(spec: RoundSpec, shares: Sequence[npt.NDArray[np.int64]]) -> RoundOutcome:
    """Run the round's program on this member's ``shares`` (one per contribution).

    Must be called by every member of an initialised CrypTen session with the same
    ``spec``; returns the same outcome at every member.
    """
    import torch

    crypten = load_crypten()
    comm = crypten.communicator.get()
    started, cpu_started = time.perf_counter(), time.process_time()
    if len(shares) != len(spec.weights):
        raise ConfigError(f"{len(shares)} shares but {len(spec.weights)} weights")
    comm.reset_communication_stats()
    x = torch.from_numpy(np.stack([np.asarray(s, dtype=np.int64) for s in shares]))
    phases = [("stack", time.perf_counter() - started)]
    if x.shape[1] != spec.dim:
        raise ConfigError(f"shares of length {x.shape[1]}, spec dim {spec.dim}")
    accepted = accept_bits(
        x,
        clip_norm=spec.clip_norm,
        range_bound=spec.range_bound,
        projections=spec.range_projections,
    )
    phases.append(("validate", time.perf_counter() - started - sum(t for _, t in phases)))
    n_ok = sum(accepted)
    params = None
    refused = None
    if n_ok < spec.min_contributors:
        refused = (
            f"{n_ok} contributions accepted, fewer than min_contributors={spec.min_contributors}"
        )
    else:
        params = _reveal_model(spec, x, accepted, comm)
        phases.append(("aggregate", time.perf_counter() - started - sum(t for _, t in phases)))
    stats = comm.get_communication_stats()
    return RoundOutcome(
        round_id=spec.round_id,
        params=params,
        accepted=accepted,
        protocol=str(crypten.cfg.mpc.protocol),
        provider="none"
        if crypten.cfg.mpc.protocol == "replicated"
        else str(crypten.cfg.mpc.provider),
        comm_rounds=int(stats["rounds"]),
        comm_bytes=int(stats["bytes"]),
        seconds=time.perf_counter() - started,
        refused=refused,
        phase_seconds=tuple(phases),
        cpu_seconds=time.process_time() - cpu_started,
    )


def _reveal_model(spec: RoundSpec, x: Any, accepted: tuple[bool, ...], comm: Any) -> Vector:
    """Weighted sum of accepted shares + member noise + public offset, revealed once."""
    import torch

    rank, world = comm.get_rank(), comm.get_world_size()
    total = torch.zeros(spec.dim, dtype=torch.int64)
    for i, ok in enumerate(accepted):
        if ok:
            w = round(spec.server_lr * spec.weights[i] * (1 << WEIGHT_BITS))
            total.add_(x[i], alpha=w)
    if spec.noise_std > 0:
        t = world - 1 if spec.collusion_threshold is None else spec.collusion_threshold
        noise = member_noise(
            spec.dim,
            std=spec.server_lr * spec.noise_std,
            members=world,
            collusion_threshold=t,
            fractional_bits=RESULT_BITS,
        )
        total.add_(torch.from_numpy(noise))
    # A fresh sharing of zero: no single member can read another's share at the reveal.
    total.add_(load_crypten().mpc.primitives.ArithmeticSharedTensor.PRZS((spec.dim,)).share)
    if rank == 0:
        offset = np.rint(spec.public_offset * float(1 << RESULT_BITS)).astype(np.int64)
        total.add_(torch.from_numpy(offset))
    revealed = comm.all_reduce(total)
    return np.asarray(revealed.numpy(), dtype=np.float64) / float(1 << RESULT_BITS)
