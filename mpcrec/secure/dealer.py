"""The TTP dealer, with one extra service: shares of per-row sums of squares of a mask.

An exact squared norm with Beaver's method needs, per contribution, a random mask ``r`` and
shares of ``sum_j r_j**2``; CrypTen's ``square`` deals ``r**2`` element by element
(``N * D`` words from the dealer to member 0). :meth:`row_square_sums` deals only the ``N``
row sums. Both sides draw ``r`` from the generators CrypTen's TTP set up at ``init``
(``_get_additive_PRSS`` on the dealer, ``TTPClient.get_generator()`` on the members), in the
same order, so the masks agree without being sent. Those generators are AES-256-CTR
keystreams under a fresh 32-byte key per member that the dealer sends it at set-up
(``committees.transport.randomness``), never torch generators.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mpcrec.crypten_compat import load_crypten
from mpcrec.secure.ring import block_dots

ROW_SQUARE_SUMS = "row_square_sums"


def serve() -> None:
    """Be a session's dealer (CrypTen's ``TTPServer`` plus :func:`row_square_sums`)."""
    load_crypten()
    from crypten.mpc.provider.ttp_provider import TTPServer

    class RowSquareDealer(TTPServer):  # type: ignore[misc]
        def row_square_sums(self, size: tuple[int, int], width: int) -> Any:
            """Member 0's share of ``sum_j r_ij**2`` per block of ``width`` columns, for
            the joint mask ``r`` of ``size``."""
            r = self._get_additive_PRSS(size)
            sums = block_dots(r, r, width=width)
            return sums - self._get_additive_PRSS(tuple(sums.shape), remove_rank=True)

    RowSquareDealer()


def row_square_mask(size: tuple[int, int], width: int) -> tuple[Any, Callable[[], Any]]:
    """This member's share of a mask ``r`` of ``size``, and a call returning its share of
    the per-row ``sum r**2`` per block of ``width`` columns, ``(N, K)``.

    Member 0 sends the request at once and collects the dealer's answer only when the
    returned callable is called, so the dealer computes while the members open ``x - r``.
    """
    crypten = load_crypten()
    import torch
    from crypten.common.rng import generate_random_ring_element
    from crypten.mpc.provider.ttp_provider import TTPClient

    client = TTPClient.get()
    comm = crypten.communicator.get()
    generator = client.get_generator()
    r = generate_random_ring_element(size, generator=generator)
    if comm.get_rank() != 0:
        blocks = -(-size[1] // width) if size[1] else 1
        sums = generate_random_ring_element((size[0], blocks), generator=generator)
        return r, lambda: sums
    dealer = comm.get_ttp_rank()
    request: dict[str, Any] = {
        "function": ROW_SQUARE_SUMS,
        "device": None,
        "args": (size, width),
        "kwargs": {},
    }
    comm.send_obj(request, dealer, client.ttp_group)

    def collect() -> Any:
        shape = comm.recv_obj(dealer, client.ttp_group)
        result = torch.empty(shape, dtype=torch.long)
        comm.broadcast(result, dealer, client.comm_group)
        return result

    return r, collect
