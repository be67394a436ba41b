"""A party's end of the mesh as its CrypTen communicator uses it: guarded, in posting order.

Every link operation goes through :meth:`PartyLinks.guarded`: the first failure (a peer
gone, a timeout, a frame out of step) closes every link of this party at once, so peers
blocked on it fail fast too, and is raised again by every later operation. Receives posted
with ``irecv`` are read in the order they were posted (:meth:`PartyLinks.complete_posted`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import NoReturn, TypeVar

import numpy as np
import torch

from committees.transport.errors import TransportError
from committees.transport.frames import KIND_BYTES, Payload
from committees.transport.links import SendRequest
from committees.transport.mesh import Mesh

log = logging.getLogger(__name__)
T = TypeVar("T")


class PendingSend:
    """What ``isend`` returns: the frame is on its way; ``wait`` returns once it is written.

    Before waiting, it completes every receive posted so far: CrypTen waits on its
    ``isend`` before its ``irecv``, and a peer doing the same must find its frame read.
    """

    def __init__(self, links: PartyLinks, request: SendRequest) -> None:
        self._links = links
        self._request = request

    def wait(self) -> None:
        """Block until the frame is written (bounded by the send timeout)."""
        self._links.complete_posted(None)
        self._links.guarded(self._request.wait)

    def is_completed(self) -> bool:
        """Whether the frame has been written."""
        return self._request.is_completed()


class PendingReceive:
    """What ``irecv`` returns: ``wait`` reads the next frame from ``src`` into ``tensor``."""

    def __init__(self, links: PartyLinks, tensor: torch.Tensor, src: int) -> None:
        self._links = links
        self._tensor = tensor
        self._src = src
        self._done = False

    def wait(self) -> None:
        """Block until the frame has arrived (bounded by the receive timeout).

        Receives posted earlier complete first, so frames are read in the order posted.
        """
        if not self._done:
            self._links.complete_posted(self)

    def complete(self) -> None:
        """Read the frame now (the links call this in posting order)."""
        if not self._done:
            self._links.receive_into(self._tensor, self._src)
            self._done = True

    def is_completed(self) -> bool:
        """Whether the frame has been read."""
        return self._done


class PartyLinks:
    """Rank ``rank``'s connected mesh, every operation guarded (see the module docstring)."""

    def __init__(self, mesh: Mesh, rank: int) -> None:
        self.rank = rank
        self.failure: TransportError | None = None
        self._mesh = mesh
        self._posted: list[PendingReceive] = []  # irecv requests not yet waited on, in order

    def wait_long_on(self, rank: int, timeout_s: float) -> None:
        """Let the links to and from ``rank`` wait at least ``timeout_s`` between messages."""
        for src, link in self._mesh.incoming.items():
            if rank in (src, self.rank):
                link.timeout_s = max(link.timeout_s, timeout_s)

    def close(self) -> None:
        """Close every link."""
        self._mesh.close()

    def send_frame(self, dst: int, kind: int, payload: memoryview | bytes) -> None:
        """Write one frame to ``dst`` on this thread; returns once it is written."""
        self.guarded(lambda: self._mesh.outgoing[dst].send(kind, payload))

    def receive_frame(self, src: int, kind: int) -> Payload:
        """Read the next frame from ``src`` into a new array."""
        return self.guarded(lambda: self._mesh.incoming[src].receive(kind))

    def send_tensor(self, tensor: torch.Tensor, dst: int) -> None:
        """Write ``tensor``'s bytes to ``dst``; returns once written (it may change after)."""
        self.send_frame(dst, KIND_BYTES, bytes_of(tensor))

    def post_tensor(self, tensor: torch.Tensor, dst: int) -> SendRequest:
        """Hand ``tensor`` to ``dst``'s sending thread (large) or write it at once (small)."""
        payload = bytes_of(tensor)
        return self.guarded(lambda: self._mesh.outgoing[dst].post(KIND_BYTES, payload))

    def finish(self, posted: list[SendRequest]) -> None:
        """Wait until every posted frame is written."""
        for request in posted:
            self.guarded(request.wait)

    def receive_like(self, like: torch.Tensor, src: int) -> torch.Tensor:
        """The next tensor from ``src``, shaped like ``like``, read into a new tensor."""
        tensor = torch.empty(like.shape, dtype=like.dtype)
        self.receive_into(tensor, src)
        return tensor

    def receive_into(self, tensor: torch.Tensor, src: int) -> None:
        """Read the next frame from ``src`` into ``tensor`` (in place when contiguous)."""
        target = tensor.detach()
        direct = target.is_contiguous()
        buffer = target if direct else torch.empty(target.shape, dtype=target.dtype)
        view = bytes_of(buffer)
        self.guarded(lambda: self._mesh.incoming[src].receive(KIND_BYTES, into=view))
        if not direct:
            target.copy_(buffer)

    def post_receive(self, tensor: torch.Tensor, src: int) -> PendingReceive:
        """Queue a receive into ``tensor``; it is read when it or a later request is waited."""
        request = PendingReceive(self, tensor, src)
        self._posted.append(request)
        return request

    def complete_posted(self, upto: PendingReceive | None) -> None:
        """Read the posted receives in order, up to ``upto`` (all of them for None)."""
        while self._posted:
            request = self._posted.pop(0)
            request.complete()
            if request is upto:
                return
        if upto is not None:  # not posted through irecv (e.g. the TTP set-up's own requests)
            upto.complete()

    def guarded(self, action: Callable[[], T]) -> T:
        """Run a link operation; on any transport failure close everything and re-raise."""
        if self.failure is not None:
            raise TransportError(f"the committee's data plane already failed: {self.failure}")
        try:
            return action()
        except TransportError as err:
            self._fail(err)
        except KeyError as err:
            self._fail(TransportError(f"rank {err} is not connected to rank {self.rank}"))

    def _fail(self, err: TransportError) -> NoReturn:
        self.failure = err
        self._mesh.close()
        log.warning("rank %d: %s; round aborted", self.rank, err)
        raise err


def bytes_of(tensor: torch.Tensor) -> memoryview:
    """The bytes of a CPU tensor: its own memory when it is contiguous, else a copy's."""
    array = tensor.detach().contiguous().numpy().reshape(-1)  # a view when contiguous
    return array.view(np.uint8).data
