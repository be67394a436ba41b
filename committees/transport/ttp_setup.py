"""The three torch.distributed calls CrypTen's TTP set-up makes directly, over the TLS mesh."""

from __future__ import annotations

import torch

from committees.transport.communicator import Group, TlsCommunicator
from committees.transport.party_links import PendingReceive, PendingSend


class TtpSetupCalls:
    """The three torch.distributed calls CrypTen's TTP set-up makes directly, over TLS.

    ``crypten.mpc.provider.ttp_provider`` seeds each member's generator with
    ``dist.isend``/``dist.irecv``/``dist.barrier`` on the ``ttp`` group rather than through
    the communicator; :func:`committees.transport.install.install_transport` puts this object in
    place of ``dist`` there while TLS is selected.
    """

    def isend(self, tensor: torch.Tensor, dst: int, group: Group | None = None) -> PendingSend:
        """Start sending ``tensor`` to ``dst``."""
        comm = _active()
        return PendingSend(comm.links, comm.links.post_tensor(tensor, dst))

    def irecv(self, tensor: torch.Tensor, src: int, group: Group | None = None) -> PendingReceive:
        """Receive into ``tensor`` from ``src`` on ``wait``."""
        comm = _active()
        return comm.links.post_receive(tensor, src)

    def barrier(self, group: Group | None = None) -> None:
        """Barrier over ``group`` (every rank, dealer included, by default)."""
        comm = _active()
        comm.group_barrier(group or comm.ttp_group)


def _active() -> TlsCommunicator:
    inst = TlsCommunicator.instance
    if inst is None:
        raise RuntimeError("CrypTen's TLS communicator is not initialised: call crypten.init()")
    return inst
