"""CrypTen's Communicator over the committee's mutually authenticated TLS mesh.

A drop-in for CrypTen's ``DistributedCommunicator`` (torch.distributed + gloo): the same
methods with the same signatures, groups and return values, the same communication
statistics (the methods carry CrypTen's own ``_logging`` decorator), so every CrypTen
operation runs unchanged over :mod:`committees.transport.mesh`. Install it with
:func:`committees.transport.install.install_transport`; ``crypten.init()`` then builds it.

Collectives are point-to-point exchanges over the mesh, each link a FIFO: since every party
performs the same sequence of collectives, the n-th frame a party reads from a peer is the
one that peer wrote n-th to it (gloo's tag-less semantics). Frames are read on the calling
thread; sends of large tensors are posted to the link's sending thread and waited for
before a collective returns (``isend``: when its request is waited on, after the receives
posted so far have been read). ``all_reduce`` sends the whole
tensor to every other party and sums what arrives (k = 3 or 4 parties: a ring saves little
and costs rounds). Integer shares sum modulo 2^64 in any order, so results equal gloo's bit
for bit.

Any failure (a peer gone, a timeout, a frame out of step) closes every link of this party
at once, so peers blocked on it fail fast too, and raises a
:class:`~committees.transport.errors.TransportError` (a ``RoundAborted``); see
:mod:`committees.transport.party_links`.
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch.distributed import ReduceOp

from committees.transport.errors import TransportError
from committees.transport.frames import KIND_BYTES, KIND_OBJECT
from committees.transport.mesh import connect_mesh
from committees.transport.party_links import PartyLinks, PendingReceive, PendingSend
from committees.transport.settings import TlsTransport
from mpcrec.crypten_compat import load_crypten
from mpcrec.errors import ConfigError

_crypten = load_crypten()
_Communicator: Any = _crypten.communicator.Communicator
_logging: Callable[[Callable[..., Any]], Callable[..., Any]] = (
    _crypten.communicator.communicator._logging
)
_serial: Any = _crypten.common.serial

log = logging.getLogger(__name__)

#: How long links to and from the TTP dealer wait: it idles between requests and rounds.
DEALER_IDLE_S = 24 * 3600.0


@dataclass(frozen=True)
class Group:
    """A set of ranks taking part in a collective (CrypTen's ``main``, ``ttp`` groups)."""

    ranks: tuple[int, ...]


class TlsCommunicator(_Communicator):  # type: ignore[misc]
    """CrypTen's communicator singleton over TLS; configure with :meth:`configure` first."""

    BYTES_PER_ELEMENT: ClassVar[int] = 8
    instance: ClassVar[TlsCommunicator | None] = None
    transport: ClassVar[TlsTransport | None] = None

    def __init__(self, transport: TlsTransport, *, init_ttp: bool) -> None:
        total = len(transport.peers)
        self.world_size = total - 1 if init_ttp else total
        if self.world_size < 1:
            raise ConfigError(
                f"a TTP provider needs the dealer as last rank; the assignment has {total}"
            )
        self.rank = transport.rank
        self.reset_communication_stats()
        self._name = f"rank{self.rank}"
        self.main_group = Group(tuple(range(self.world_size)))
        self.ttp_group = Group(tuple(range(total)))
        self.ttp_comm_group = Group((0, total - 1))
        self.ttp_initialized = init_ttp
        self.links = PartyLinks(connect_mesh(transport), self.rank)
        if init_ttp:  # the dealer idles between requests: as on gloo, its links wait long
            self.links.wait_long_on(total - 1, DEALER_IDLE_S)
        log.info("rank %d connected to %d peers over TLS", self.rank, total - 1)

    # -- the singleton, as crypten.communicator drives it ------------------------------------

    @classmethod
    def configure(cls, transport: TlsTransport | None) -> None:
        """Set the transport the next :meth:`initialize` connects with (None: forget it)."""
        cls.transport = transport

    @classmethod
    def is_initialized(cls) -> bool:
        """Whether a connected instance exists."""
        return cls.instance is not None

    @classmethod
    def initialize(cls, rank: int = 0, world_size: int = 1, init_ttp: bool = False) -> None:
        """Connect the mesh (``rank``/``world_size`` come from the transport, as in CrypTen)."""
        if cls.transport is None:
            raise ConfigError(
                "TLS transport selected but not configured",
                hint="call committees.transport.install.install_transport(TlsTransport(...)) first",
            )
        cls.instance = cls(cls.transport, init_ttp=init_ttp)

    @classmethod
    def get(cls) -> TlsCommunicator | None:
        """The connected instance."""
        return cls.instance

    @classmethod
    def shutdown(cls) -> None:
        """Tell the dealer to stop (rank 0, as CrypTen does), then close every link."""
        inst = cls.instance
        if inst is None:
            return
        try:
            if inst.rank == 0 and inst.ttp_initialized and inst.links.failure is None:
                inst.send_obj("terminate", inst.get_ttp_rank(), inst.ttp_group)
        except TransportError:
            pass
        finally:
            inst.links.close()
            cls.instance = None

    # -- point to point ---------------------------------------------------------------------

    @_logging
    def send(self, tensor: torch.Tensor, dst: int) -> None:
        """Send ``tensor`` to ``dst``; returns once it is written (it may change after)."""
        self.links.send_tensor(tensor, dst)

    @_logging
    def recv(self, tensor: torch.Tensor, src: int | None = None) -> torch.Tensor:
        """Receive a tensor shaped like ``tensor`` from ``src``; returns a new tensor."""
        return self.links.receive_like(tensor, self._require_src(src))

    @_logging
    def isend(self, tensor: torch.Tensor, dst: int) -> PendingSend:
        """Start sending ``tensor`` to ``dst``; do not change it until the request is waited."""
        return PendingSend(self.links, self.links.post_tensor(tensor, dst))

    @_logging
    def irecv(self, tensor: torch.Tensor, src: int | None = None) -> PendingReceive:
        """Receive into ``tensor`` from ``src`` when the returned request is waited on."""
        return self.links.post_receive(tensor, self._require_src(src))

    # -- collectives ------------------------------------------------------------------------

    @_logging
    def scatter(
        self,
        scatter_list: Sequence[torch.Tensor],
        src: int,
        size: torch.Size | None = None,
        device: Any = None,
    ) -> torch.Tensor:
        """``src`` sends ``scatter_list[r]`` to each rank ``r``; every rank returns its part."""
        rank = self.get_rank()
        if rank == src:
            posted = [
                self.links.post_tensor(scatter_list[d], d) for d in self._others(self.main_group)
            ]
            self.links.finish(posted)
            return scatter_list[rank].data
        if size is None:
            size = scatter_list[rank].size()
        tensor = torch.empty(size=size, dtype=torch.long)
        self.links.receive_into(tensor, src)
        return tensor

    @_logging
    def reduce(self, input: Any, dst: int, op: Any = ReduceOp.SUM, batched: bool = False) -> Any:
        """Combine ``input`` of every rank at ``dst`` (SUM or BXOR); others get None."""
        tensors = self._as_list(input, batched)
        if self.get_rank() != dst:
            self.links.finish([self.links.post_tensor(tensor, dst) for tensor in tensors])
            return None
        result = self._combine_from(self._others(self.main_group), tensors, op)
        return result if batched else result[0]

    @_logging
    def all_reduce(self, input: Any, op: Any = ReduceOp.SUM, batched: bool = False) -> Any:
        """Combine ``input`` of every rank (SUM or BXOR); every rank gets the result."""
        tensors = self._as_list(input, batched)
        others = self._others(self.main_group)
        posted = [self.links.post_tensor(tensor, dst) for dst in others for tensor in tensors]
        result = self._combine_from(others, tensors, op)
        self.links.finish(posted)
        return result if batched else result[0]

    @_logging
    def gather(self, tensor: torch.Tensor, dst: int) -> list[torch.Tensor | None]:
        """Collect every rank's ``tensor`` at ``dst`` (a list by rank); others get ``[None]``."""
        rank = self.get_rank()
        if rank != dst:
            self.links.finish([self.links.post_tensor(tensor, dst)])
            return [None]
        result: list[torch.Tensor | None] = []
        for src in self.main_group.ranks:
            result.append(tensor.clone() if src == rank else self.links.receive_like(tensor, src))
        return result

    @_logging
    def all_gather(self, tensor: torch.Tensor) -> list[torch.Tensor]:
        """Every rank gets the list of every rank's ``tensor``."""
        rank = self.get_rank()
        posted = [self.links.post_tensor(tensor, dst) for dst in self._others(self.main_group)]
        result = [
            tensor.clone() if src == rank else self.links.receive_like(tensor, src)
            for src in self.main_group.ranks
        ]
        self.links.finish(posted)
        return result

    @_logging
    def broadcast(
        self, input: Any, src: int, group: Group | None = None, batched: bool = False
    ) -> Any:
        """``src``'s ``input`` is copied into every other rank's ``input`` (in place)."""
        group = group or self.main_group
        tensors = self._as_list(input, batched)
        if self.get_rank() == src:
            self.links.finish(
                [
                    self.links.post_tensor(tensor, dst)
                    for dst in self._others(group)
                    for tensor in tensors
                ]
            )
        else:
            for tensor in tensors:
                self.links.receive_into(tensor, src)
        return input

    @_logging
    def barrier(self) -> None:
        """Return once every member has entered the barrier."""
        self.group_barrier(self.main_group)

    def group_barrier(self, group: Group) -> None:
        """Barrier over any group (CrypTen's TTP set-up calls it on the ``ttp`` group)."""
        others = self._others(group)
        for dst in others:
            self.links.send_frame(dst, KIND_BYTES, b"")
        for src in others:
            self.links.receive_frame(src, KIND_BYTES)

    # -- objects ----------------------------------------------------------------------------

    @_logging
    def send_obj(self, obj: Any, dst: int, group: Group | None = None) -> None:
        """Send a picklable object to ``dst``."""
        self.links.send_frame(dst, KIND_OBJECT, pickle.dumps(obj))

    @_logging
    def recv_obj(self, src: int, group: Group | None = None) -> Any:
        """Receive an object from ``src`` (CrypTen's restricted unpickler)."""
        return _serial.restricted_loads(self.links.receive_frame(src, KIND_OBJECT).tobytes())

    @_logging
    def broadcast_obj(self, obj: Any, src: int, group: Group | None = None) -> Any:
        """``src``'s object, returned on every rank of ``group``."""
        group = group or self.main_group
        if self.get_rank() == src:
            if obj is None:
                raise ValueError("src party must provide obj for broadcast")
            payload = pickle.dumps(obj)
            for dst in self._others(group):
                self.links.send_frame(dst, KIND_OBJECT, payload)
            return obj
        return _serial.restricted_loads(self.links.receive_frame(src, KIND_OBJECT).tobytes())

    # -- identity ---------------------------------------------------------------------------

    def get_world_size(self) -> int:
        """Number of members (the dealer excluded, as in CrypTen)."""
        return self.world_size

    def get_rank(self) -> int:
        """This party's rank."""
        return self.rank

    def get_ttp_rank(self) -> int:
        """The dealer's rank: the one after the last member."""
        return self.world_size

    def set_name(self, name: str) -> None:
        """Set the party name used for CrypTen's file save/load."""
        if not isinstance(name, str):
            raise TypeError(f"party name must be a string, got {type(name).__name__}")
        self._name = name

    def get_name(self) -> str:
        """The party name."""
        return self._name

    def get_distributed_backend(self) -> str:
        """``"tls"``, where CrypTen's own communicator would say ``"gloo"``."""
        return "tls"

    # -- internals --------------------------------------------------------------------------

    def _combine_from(
        self, sources: list[int], tensors: list[torch.Tensor], op: Any
    ) -> list[torch.Tensor]:
        """``tensors`` combined with the same-shaped tensors each of ``sources`` sends."""
        result: list[torch.Tensor] | None = None
        for src in sources:  # frames arrive in the order each source sent them
            received = [self.links.receive_like(t, src) for t in tensors]
            if result is None:
                result = received  # fresh buffers: accumulate in place, no clone
            else:
                for acc, other in zip(result, received, strict=True):
                    _combine(acc, other, op)
        if result is None:
            return [t.clone() for t in tensors]
        for acc, own in zip(result, tensors, strict=True):
            _combine(acc, own, op)
        return result

    def _others(self, group: Group) -> list[int]:
        if self.rank not in group.ranks:
            raise ValueError(f"rank {self.rank} is not in group {group.ranks}")
        return [r for r in group.ranks if r != self.rank]

    @staticmethod
    def _require_src(src: int | None) -> int:
        if src is None:
            raise ValueError("the TLS communicator needs an explicit src for recv/irecv")
        return src

    @staticmethod
    def _as_list(input: Any, batched: bool) -> list[torch.Tensor]:
        if batched:
            if not isinstance(input, list):
                raise TypeError("batched input must be a list of tensors")
            return input
        if not torch.is_tensor(input):
            raise TypeError(f"expected a tensor, got {type(input).__name__}")
        return [input]


def _combine(acc: torch.Tensor, other: torch.Tensor, op: Any) -> None:
    """``acc op= other`` for the reductions CrypTen uses (int64 sums wrap modulo 2^64)."""
    if op == ReduceOp.SUM:
        acc.add_(other)
    elif op == ReduceOp.BXOR:
        acc.bitwise_xor_(other)
    else:
        raise ValueError(f"reduce op {op} is not supported over TLS (SUM and BXOR are)")
