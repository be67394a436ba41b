"""CrypTen's correlated randomness from 256-bit keys: every generator it draws from is a PRG.

CrypTen 0.4.1 draws every random ring element (PRZS masks, the dealer's triples and masks,
the ``local`` shares) with ``torch.randint`` from ``torch.Generator`` objects, whose CPU
Mersenne Twister keeps only the low 32 bits of a seed; the TTP dealer even draws each
member's seed from torch's default generator (itself seeded with 32 effective bits). A
member that searches 2^32 seeds rebuilds the others' masks (see
``tests/adversarial/test_curious_member.py``). :func:`install_randomness` replaces all of it:

* ``crypten.common.rng.generate_random_ring_element`` / ``generate_kbit_random_tensor``
  (and every CrypTen module's imported copy) draw from a :class:`RingGenerator`
  (:class:`mpcrec.crypto.prg.CounterPRG`, AES-256-CTR) and refuse a ``torch.Generator``;
* ``crypten._setup_prng``: the ``next`` key is 32 bytes of ``os.urandom`` sent to the next
  rank (over the committee's mutually authenticated TLS links), ``prev`` the key received
  from the previous rank, ``local`` a key of our own, ``global`` (public coins only) rank
  0's key broadcast to all;
* the TTP set-up on both sides: the dealer sends each member its own fresh 32-byte key.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import numpy as np
import torch

from mpcrec.crypten_compat import load_crypten
from mpcrec.crypto.prg import KEY_BYTES, CounterPRG, new_key

_CPU = torch.device("cpu")
_KEY_WORDS = KEY_BYTES // 8
_ORIGINAL: dict[str, Any] = {}


class RingGenerator(CounterPRG):
    """A :class:`CounterPRG` where CrypTen expects a CPU ``torch.Generator``."""

    device = _CPU

    def ring_tensor(self, size: Any) -> torch.Tensor:
        """Uniform ``int64`` ring elements of shape ``size``."""
        shape = _shape(size)
        return torch.from_numpy(self.ring_elements(shape.numel())).reshape(shape)

    def kbit_tensor(self, size: Any, bits: int) -> torch.Tensor:
        """Uniform integers in ``[0, 2**bits)`` of shape ``size``."""
        shape = _shape(size)
        return torch.from_numpy(self.kbit_words(shape.numel(), bits)).reshape(shape)


def _shape(size: Any) -> torch.Size:
    return torch.Size([size]) if isinstance(size, int) else torch.Size(size)


def _generator(generator: Any, kwargs: dict[str, Any]) -> RingGenerator:
    """The PRG to draw from: the one given, or this party's ``local`` one; CPU only."""
    device = kwargs.pop("device", None)
    if device is not None and torch.device(device) != _CPU:
        raise ValueError(f"cryptographic generators are CPU only, not {device}")
    if kwargs:
        raise TypeError(f"unexpected arguments {sorted(kwargs)}")
    if generator is None:
        generator = load_crypten().generators["local"][_CPU]
    if not isinstance(generator, RingGenerator):
        raise TypeError(
            f"refusing to draw secret randomness from {type(generator).__name__}: "
            "only 256-bit-keyed RingGenerator objects are allowed"
        )
    return generator


def generate_random_ring_element(
    size: Any, ring_size: int = 2**64, generator: Any = None, **kwargs: Any
) -> torch.Tensor:
    """CrypTen's ``generate_random_ring_element``, from a 256-bit-keyed PRG."""
    if ring_size != 2**64:
        raise ValueError(f"only the ring Z/2**64 is supported, not Z/{ring_size}")
    return _generator(generator, kwargs).ring_tensor(size)


def generate_kbit_random_tensor(
    size: Any, bitlength: int | None = None, generator: Any = None, **kwargs: Any
) -> torch.Tensor:
    """CrypTen's ``generate_kbit_random_tensor``, from a 256-bit-keyed PRG."""
    prg = _generator(generator, kwargs)
    if bitlength is None or bitlength == 64:
        return prg.ring_tensor(size)
    return prg.kbit_tensor(size, bitlength)


def _key_tensor(key: bytes) -> torch.Tensor:
    return torch.from_numpy(np.frombuffer(key, dtype="<i8").astype(np.int64))


def _key_bytes(tensor: torch.Tensor) -> bytes:
    return tensor.numpy().astype("<i8").tobytes()


def setup_prng() -> None:
    """``crypten._setup_prng``: pairwise, local and global keys of 256 bits each."""
    crypten = load_crypten()
    comm = crypten.communicator.get()
    world, rank = comm.get_world_size(), comm.get_rank()
    next_key, local_key = new_key(), new_key()
    prev = torch.zeros(_KEY_WORDS, dtype=torch.int64)
    if world >= 2:
        sent = comm.isend(_key_tensor(next_key), (rank + 1) % world)
        received = comm.irecv(prev, src=(rank - 1) % world)
        sent.wait()
        received.wait()
        prev_key = _key_bytes(prev)
    else:
        prev_key = next_key
    global_key = _key_bytes(comm.broadcast(_key_tensor(new_key()), 0))
    keys = {"prev": prev_key, "next": next_key, "local": local_key, "global": global_key}
    for name, key in keys.items():
        crypten.generators[name] = {_CPU: RingGenerator(key)}


def client_setup_generators(client: Any) -> None:
    """``TTPClient``'s set-up: receive this member's 32-byte key from the dealer."""
    ttp = importlib.import_module("crypten.mpc.provider.ttp_provider")
    comm = load_crypten().communicator.get()
    key = torch.zeros(_KEY_WORDS, dtype=torch.int64)
    ttp.dist.irecv(tensor=key, src=comm.get_ttp_rank(), group=client.ttp_group).wait()
    ttp.dist.barrier(group=client.ttp_group)
    client.generator = RingGenerator(_key_bytes(key))
    client.generator_cuda = None


def server_setup_generators(server: Any) -> None:
    """``TTPServer``'s set-up: a fresh 32-byte key for each member, sent to it alone."""
    ttp = importlib.import_module("crypten.mpc.provider.ttp_provider")
    world = load_crypten().communicator.get().get_world_size()
    keys = [new_key() for _ in range(world)]
    sends = [
        ttp.dist.isend(tensor=_key_tensor(key), dst=i, group=server.ttp_group)
        for i, key in enumerate(keys)
    ]
    server.generators = [RingGenerator(key) for key in keys]
    server.generators_cuda = [None] * world
    for request in sends:
        request.wait()
    ttp.dist.barrier(group=server.ttp_group)


def install_randomness() -> None:
    """Put the 256-bit-keyed generators into CrypTen (idempotent; before ``crypten.init``)."""
    crypten = load_crypten()
    rng = importlib.import_module("crypten.common.rng")
    ttp = importlib.import_module("crypten.mpc.provider.ttp_provider")
    if not _ORIGINAL:
        _ORIGINAL["generate_random_ring_element"] = rng.generate_random_ring_element
        _ORIGINAL["generate_kbit_random_tensor"] = rng.generate_kbit_random_tensor
    ours = {
        "generate_random_ring_element": generate_random_ring_element,
        "generate_kbit_random_tensor": generate_kbit_random_tensor,
    }
    for name, module in list(sys.modules.items()):
        if module is None or not (name == "crypten" or name.startswith("crypten.")):
            continue
        for attr, original in _ORIGINAL.items():
            if getattr(module, attr, None) is original:
                setattr(module, attr, ours[attr])
    crypten._setup_prng = setup_prng
    ttp.TTPClient._TTPClient__TTPClient._setup_generators = client_setup_generators
    ttp.TTPServer._setup_generators = server_setup_generators
