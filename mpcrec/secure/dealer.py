"""The TTP dealer, with one extra service: shares of per-row sums of squares of a mask.

An exact squared norm with Beaver's method needs, per contribution, a random mask ``r`` and
shares of ``sum_j r_j**2``; CrypTen's ``square`` deals ``r**2`` element by element
(``N * D`` words from the dealer to member 0). :meth:`row_square_sums` deals only the ``N``
row sums. Both sides draw ``r`` from the generators CrypTen's TTP set up at ``init``
(``_get_additive_PRSS`` on the dealer, ``TTPClient.get_generator()`` on the members), in the
same order, so the masks agree without being sent.
"""

from __future__ import annotations

from typing import Any

from mpcrec.crypten_compat import load_crypten

ROW_SQUARE_SUMS = "row_square_sums"


def serve() -> None:
    """Be a session's dealer (CrypTen's ``TTPServer`` plus :func:`row_square_sums`)."""
    load_crypten()
    from crypten.mpc.provider.ttp_provider import TTPServer

    from mpcrec.secure.validation import row_dots

    class RowSquareDealer(TTPServer):  # type: ignore[misc]
        def row_square_sums(self, size: tuple[int, int]) -> Any:
            """Member 0's share of ``sum_j r_ij**2`` for the joint mask ``r`` of ``size``."""
            r = self._get_additive_PRSS(size)
            return row_dots(r, r) - self._get_additive_PRSS((size[0],), remove_rank=True)

    RowSquareDealer()


def row_square_mask(size: tuple[int, int]) -> tuple[Any, Any]:
    """This member's shares of a mask ``r`` of ``size`` and of its per-row ``sum r**2``."""
    crypten = load_crypten()
    from crypten.common.rng import generate_random_ring_element
    from crypten.mpc.provider.ttp_provider import TTPClient

    client = TTPClient.get()
    generator = client.get_generator()
    r = generate_random_ring_element(size, generator=generator)
    if crypten.communicator.get().get_rank() == 0:
        sums = client.ttp_request(ROW_SQUARE_SUMS, None, size)
    else:
        sums = generate_random_ring_element((size[0],), generator=generator)
    return r, sums
