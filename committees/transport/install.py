"""Installing the committee's data plane into CrypTen: TLS links or gloo, and its PRGs."""

from __future__ import annotations

import importlib
import os
from typing import Any

from committees.transport.communicator import TlsCommunicator
from committees.transport.randomness import install_randomness
from committees.transport.settings import GlooTransport, Transport, gloo_environment
from committees.transport.ttp_setup import TtpSetupCalls
from mpcrec.crypten_compat import load_crypten


def install_transport(transport: Transport) -> None:
    """Choose how this process's CrypTen party talks to the others; call before ``crypten.init``.

    ``TlsTransport``: CrypTen's communicator singleton becomes
    :class:`committees.transport.communicator.TlsCommunicator` (mutually authenticated TLS 1.3
    between every pair of ranks, peers pinned to the committee assignment), and the TTP
    provider's three direct torch.distributed calls go over it too. ``GlooTransport``:
    CrypTen's own torch.distributed communicator, with the environment it reads set here
    and a rendezvous outside loopback refused unless explicitly allowed. The choice holds
    until the next call; ``crypten.uninit()`` then ``install_transport`` switches. Either
    way every generator CrypTen draws from is keyed with 256 bits
    (:func:`committees.transport.randomness.install_randomness`).
    """
    crypten = load_crypten()
    comm: Any = importlib.import_module("crypten.communicator")
    ttp: Any = importlib.import_module("crypten.mpc.provider.ttp_provider")
    if comm.is_initialized():
        raise RuntimeError("install_transport must be called before crypten.init()")
    install_randomness()
    if isinstance(transport, GlooTransport):
        TlsCommunicator.configure(None)
        comm.DistributedCommunicator = (
            crypten.communicator.distributed_communicator.DistributedCommunicator
        )
        ttp.dist = importlib.import_module("torch.distributed")
        os.environ.update(gloo_environment(transport))
    else:
        TlsCommunicator.configure(transport)
        comm.DistributedCommunicator = TlsCommunicator
        ttp.dist = TtpSetupCalls()
