"""Checking contributions inside MPC: one revealed accept bit per contribution.

Norm check (exact)
    ``||x||**2`` is computed on the shares at scale ``2**32`` without truncating anything:
    with ``replicated`` (3 members) each member sends its ``(N, D)`` share once to the next
    member (``replicate_shares``), after which ``sum_j x1_j * (x1_j + 2 * x2_j)`` is a local
    additive share of the row's squared norm; with a dealer (``beaver``) it is CrypTen's
    Beaver square, summed per row. ``C**2 * 2**32 - ||x||**2 < 0`` is then one comparison
    per contribution on the raw ring element.

Coordinate (wrap) check, ``range_bound = B``
    In ``Z/2**64`` a vector of multiples of ``2**32`` has squared norm 0, so a norm check
    alone can be fooled. After the shares are fixed, the members draw a public coin and
    from it ``m`` sparse Rademacher vectors ``g`` (``g_j`` = 0 w.p. 1/2, +-1 w.p. 1/4 each).
    The projections ``s = <g, x>`` are linear, hence local on shares (``O(N D m)`` local
    work, no communication), and the contribution passes iff ``|s| <= B/2`` for all ``m``.

    *Soundness.* Suppose some coordinate has ``|x_j| > B`` (as a signed ring element).
    Fix all of ``g`` but ``g_j`` and let ``s'`` be the rest of the sum. If ``|s'| <= B/2``
    then both ``s' + x_j`` and ``s' - x_j`` lie outside ``[-B/2, B/2]`` (else
    ``|x_j| <= B``), so the projection fails whenever ``g_j != 0`` (prob. 1/2); if
    ``|s'| > B/2`` it fails when ``g_j = 0`` (prob. 1/2). The ``m`` projections are
    independent, so such an ``x`` is accepted with probability at most ``2**-m``. This holds
    over the ring (no assumption on how ``x`` wraps). Once every ``|x_j| <= B``, the ring
    norm of a block of ``W`` coordinates with ``W * (B * 2**16)**2 < 2**63`` equals its true
    norm: wraps are ruled out within a block.

Norm check per block (a model of any size)
    ``D`` may exceed ``W`` (``W = floor((2**63 - 1) / (B * 2**16)**2)``: 58,254 entries at
    the demo's ``B = 192``, 1,820 rows of 32). The squared norm is then computed per block
    of ``W`` coordinates, ``n_1 .. n_K`` with ``K = ceil(D / W)``, and the slack has a
    column ``C**2 * 2**32 - n_b`` per block and one ``C**2 * 2**32 - sum_b n_b`` for the
    whole. Given the coordinate check, each ``n_b`` is its block's true norm, in
    ``[0, 2**63)``, so the block columns prove ``n_b <= C**2 * 2**32``; then
    ``sum_b n_b <= K * C**2 * 2**32 < 2**63`` (checked by :func:`check_parameters`) is
    the true ``||x||**2`` too, and the last column is the exact norm check. With ``K = 1``
    it is the single column of before. Cost: ``K`` more sign extractions per contribution
    (55 at 100,000 rows of 32 and ``B = 192``, beside the ``2 m = 80`` of the projections).

    *Completeness.* By Hoeffding, an honest ``x`` passes one projection except with
    probability ``2 exp(-B**2 / (8 ||x||**2))``; with ``||x|| <= C`` and ``B >= 13 C``,
    ``m = 40`` projections reject an honest contribution with probability below ``1e-7``.
    So the check is a wrap guard with a grey zone: it never lets a coordinate above ``B``
    through (w.p. ``1 - 2**-m``) but it is not a per-coordinate clip at ``B``.

    *Cost.* ``2 N m + N`` sign extractions in one batch, OR-ed per contribution
    (``log2(2m + 1)`` rounds of ANDs); nothing proportional to ``D`` beyond local float64
    matrix products.
"""

from __future__ import annotations

import hashlib
import math
import os
from typing import Any

import numpy as np

from mpcrec.crypten_compat import load_crypten
from mpcrec.crypto.codec import SCALE
from mpcrec.crypto.sharing import expand_seed
from mpcrec.errors import ConfigError
from mpcrec.secure.ring import CHUNK, ROWS, block_dots, row_dots  # noqa: F401 (re-exported)

_RING_HALF = 2**63


def honest_rejection_bound(clip_norm: float, range_bound: float, projections: int) -> float:
    """Upper bound on the probability that the coordinate check rejects ``||x|| <= C``."""
    return min(1.0, 2 * projections * math.exp(-(range_bound**2) / (8 * clip_norm**2)))


def norm_block(range_bound: float | None, dim: int) -> int:
    """``W``: the widest block of coordinates whose ring norm cannot wrap once every
    ``|x_j| <= B`` (``W * (B * 2**16)**2 < 2**63``); ``dim`` without a range bound."""
    if range_bound is None:
        return max(dim, 1)
    return max(1, min(max(dim, 1), (_RING_HALF - 1) // math.ceil(range_bound * SCALE) ** 2))


def check_parameters(dim: int, clip_norm: float | None, range_bound: float | None) -> None:
    """Raise :class:`ConfigError` if the checks cannot be sound for these sizes: ``C`` and
    ``B`` within the ring, and the blocks' norms (module docstring) summing without a wrap,
    ``ceil(D / W) * C**2 * 2**32 < 2**63``."""
    if clip_norm is not None and (clip_norm * SCALE) ** 2 >= _RING_HALF:
        raise ConfigError(f"clip_norm {clip_norm} too large for the 64-bit ring (max 46340)")
    if range_bound is None:
        return
    if (range_bound * SCALE) ** 2 >= _RING_HALF:
        raise ConfigError(
            f"range_bound {range_bound} too large for the 64-bit ring: need (B * 2**16)**2 < 2**63",
            hint="use B < 46340",
        )
    blocks = -(-dim // norm_block(range_bound, dim))
    if clip_norm is not None and blocks * (clip_norm * SCALE) ** 2 >= _RING_HALF:
        raise ConfigError(
            f"range_bound {range_bound} and clip_norm {clip_norm} too large for dim {dim}: "
            f"{blocks} norm blocks, need blocks * (C * 2**16)**2 < 2**63",
            hint="lower clip_norm and range_bound",
        )


def accept_bits(
    x: Any, *, clip_norm: float | None, range_bound: float | None, projections: int = 40
) -> tuple[bool, ...]:
    """Return the revealed accept bit of each row of the ``(N, D)`` share tensor ``x``."""
    crypten = load_crypten()
    comm = crypten.communicator.get()
    n = int(x.shape[0])
    if clip_norm is None and range_bound is None:
        return (True,) * n
    check_parameters(int(x.shape[1]), clip_norm, range_bound)
    width = norm_block(range_bound, int(x.shape[1]))
    norm = squared_norms(x, width) if clip_norm is not None else None
    coin = public_coin() if range_bound is not None else b""
    slack = check_slack(
        x,
        norm,
        clip_norm=clip_norm,
        range_bound=range_bound,
        projections=projections,
        coin=coin,
        first=comm.get_rank() == 0,
    )
    failed = any_negative(slack)
    return tuple(not bad for bad in failed)


def check_slack(
    x: Any,
    squared_norm: Any,
    *,
    clip_norm: float | None,
    range_bound: float | None,
    projections: int,
    coin: bytes,
    first: bool,
) -> Any:
    """The decision rule: shares of the ``(N, P)`` slack, whose row ``i`` has no negative
    entry iff contribution ``i`` passes every check (what :func:`any_negative` reveals).

    The columns are ``C**2 * 2**32 - ||x||**2`` (norm check) and ``B/2 - s``, ``s + B/2``
    at scale ``2**16`` for each projection ``s`` (coordinate check). Every column is linear
    in the shares, so only the first member adds the public constants; a single holder of
    the whole vector (``first=True``) gets the slack in the clear.

    Parameters
    ----------
    x:
        The ``(N, D)`` shares (or whole encoded vectors).
    squared_norm:
        Shares of each row's ``||x||**2`` at scale ``2**32``, ``(N,)``, or of its blocks'
        norms, ``(N, K)`` (:func:`squared_norms`), or ``None`` without ``clip_norm``.
    clip_norm, range_bound:
        ``C`` and ``B``; ``None`` skips that check.
    projections, coin:
        How many projections, and the public coin they are drawn from
        (:func:`random_projections`).
    first:
        Whether this member adds the public constants (member 0).
    """
    import torch

    parts = []
    if clip_norm is not None:
        blocks = squared_norm if squared_norm.dim() == 2 else squared_norm[:, None]
        columns = blocks if blocks.shape[1] == 1 else torch.cat([blocks, blocks.sum(1, True)], 1)
        slack = -columns
        if first:
            slack += int(clip_norm**2 * SCALE * SCALE)
        parts.append(slack)
    if range_bound is not None:
        s = random_projections(x, projections, coin)
        half = int(range_bound * SCALE / 2)
        upper, lower = -s, s.clone()
        if first:
            upper += half
            lower += half
        parts.extend([upper, lower])
    return torch.cat(parts, dim=1)


def any_negative(slack: Any) -> tuple[bool, ...]:
    """Reveal, per row of the shared ``(N, P)`` tensor, only whether some entry is negative.

    The sign bits are taken in the binary domain (``A2B``, then ``>> 63``) and OR-ed across
    the row with a tree of ANDs, and only the ``N`` results are revealed. Nothing goes back
    to the arithmetic domain, so ``replicated`` needs no dealer and TFP's first party would
    see nothing (B2A is where CrypTen's TFP leaks to member 0).
    """
    import torch
    from crypten.mpc.primitives import ArithmeticSharedTensor, BinarySharedTensor
    from crypten.mpc.primitives.converters import _A2B

    load_crypten()
    bits = _A2B(ArithmeticSharedTensor.from_shares(slack, precision=0)).share >> 63
    bits &= 1
    while bits.shape[1] > 1:
        half = bits.shape[1] // 2
        a = BinarySharedTensor.from_shares(bits[:, :half].contiguous(), precision=0)
        b = BinarySharedTensor.from_shares(bits[:, half : 2 * half].contiguous(), precision=0)
        either = (a & b) ^ a ^ b
        bits = torch.cat([either.share, bits[:, 2 * half :]], dim=1)
    revealed = BinarySharedTensor.from_shares(bits.contiguous(), precision=0).reveal()
    return tuple(bool(v & 1) for v in revealed.view(-1).tolist())


def squared_norms(x: Any, width: int) -> Any:
    """Additive shares of each row's squared norm per block of ``width`` coordinates, at
    scale ``2**32`` (no truncation), ``(N, K)``.

    ``replicated``: receive the previous member's share (``replicate_shares``), then
    ``sum_j x1_j * (x1_j + 2 x2_j)`` locally. ``beaver``: a Beaver square per row (mask
    ``r`` and shares of ``sum_j r_j**2`` from the dealer, :mod:`mpcrec.secure.dealer`; open
    ``eps = x - r``): ``sum r**2 + 2 sum r * eps + sum eps**2`` (the last term added by
    member 0 only).
    """
    crypten = load_crypten()
    if crypten.cfg.mpc.protocol == "replicated":
        from crypten.mpc.primitives.replicated import replicate_shares

        ((x1, x2),) = replicate_shares([x])
        return block_dots(x1, x1, x2, width=width)
    comm = crypten.communicator.get()
    if crypten.cfg.mpc.provider == "TTP":
        from mpcrec.secure.dealer import row_square_mask

        r, r2_sums = row_square_mask((int(x.shape[0]), int(x.shape[1])), width)
    else:  # TFP (tests only): CrypTen's element-wise square pairs
        r_shared, r2_shared = crypten.mpc.get_default_provider().square(x.size())
        r, r2 = r_shared.share, r2_shared.share
        sums = block_dots(r2, r2.new_ones(r2.shape), width=width)
        r2_sums = lambda: sums  # noqa: E731
    eps = comm.all_reduce(x - r)
    total = r2_sums() + 2 * block_dots(r, eps, width=width)
    if comm.get_rank() == 0:
        total += block_dots(eps, eps, width=width)
    return total


def public_coin() -> bytes:
    """A 32-byte value every member learns and none can predict: the sum of local randomness."""
    import torch

    crypten = load_crypten()
    mine = torch.from_numpy(np.frombuffer(os.urandom(32), dtype=np.int64).copy())
    total = crypten.communicator.get().all_reduce(mine)
    return hashlib.sha256(total.numpy().tobytes()).digest()


_SIGN_OF_BYTE = np.array([0.0, 0.0, 1.0, -1.0] * 64)  # byte -> g: low two bits 00,01,10,11


def rademacher_block(seed: bytes, start: int, rows: int, m: int) -> np.ndarray[Any, Any]:
    """Rows ``start .. start+rows`` of the public sparse Rademacher matrix, as float64."""
    key = hashlib.sha256(seed + start.to_bytes(8, "little")).digest()
    words = (rows * m + 7) // 8
    raw = expand_seed(key, words).view(np.uint8)[: rows * m]
    g: np.ndarray[Any, Any] = _SIGN_OF_BYTE[raw]
    return g.reshape(rows, m)


def random_projections(x: Any, m: int, seed: bytes) -> Any:
    """Shares of ``x @ G`` over ``Z/2**64`` for the public matrix ``G`` (exact, local).

    Each 64-bit share is split into a signed high and an unsigned low 32-bit half; both
    float64 products are exact for chunks of ``2**16`` columns, then recombined with
    wrapping. Blocks of :data:`~mpcrec.secure.ring.ROWS` rows bound the temporaries.
    """
    import torch

    n, d = int(x.shape[0]), int(x.shape[1])
    out = torch.zeros((n, m), dtype=torch.int64)
    for left in range(0, d, CHUNK):
        g = torch.from_numpy(rademacher_block(seed, left, min(CHUNK, d - left), m))
        for top in range(0, n, ROWS):
            block = x[top : top + ROWS, left : left + CHUNK]
            halves = torch.cat([block & 0xFFFFFFFF, block >> 32]).to(torch.float64)
            sums = (halves @ g).round().to(torch.int64)
            k = int(block.shape[0])
            out[top : top + k] += sums[k:] * (1 << 32) + sums[:k]
    return out
