"""A malicious contributor: the real node daemon with a trainer that makes hostile updates.

``python -m tests.adversarial.hostile_contributor --config node.yaml --vectors wrap,spike``

Runs :class:`mpcrec.node.daemon.Node` as ``mpcrec node`` does, with :class:`HostileTrainer`
in place of the configured one (give the node ``faults: {skip_clip: true}`` so the daemon
does not clip what it uploads). From base model version ``v`` it sends ``vectors[v % n]``:

* ``wrap``: chosen coordinates set to multiples of ``2**16`` (ring values multiples of
  ``2**32``): the ring norm is 0, so without the coordinate check it passes the norm check
  and moves those coordinates by chosen amounts (issue 11 finding 4);
* ``spike``: one coordinate of ring value ``2**32 + 1``: ring norm about 1.4, far below the
  bound, while the value is 65536;
* ``over-norm``: an honest-looking direction with L2 norm twice ``clip_norm``;
* ``heavy``, ``infinite``: an in-bounds update (the drift trainer's, clipped) declared with
  weight ``1e12`` or ``+inf``: to take the whole aggregate, or to abort every round
  (finding 2).

With ``--envelopes --victim ID --out record.json`` it keeps the configured trainer and
seals hostile envelopes instead (:mod:`tests.adversarial.hostile_envelopes`: another
contributor's slot claimed; replayed, misaddressed and equivocating envelopes).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

import numpy as np

Matrix = np.ndarray

RING_2_32 = float(2**16)  # the real value whose fixed-point encoding is 2**32
KINDS = ("wrap", "spike", "over-norm", "heavy", "infinite")
WEIGHTS = {"heavy": 1e12, "infinite": float("inf")}
WRAP_COORDINATES = {0: 1.0, 1: -2.0, 2: 3.0, 7: 1.0}  # flat index -> multiple of 2**16


def hostile_vector(kind: str, shape: tuple[int, ...], clip_norm: float) -> Matrix:
    """The update of ``kind`` (see the module docstring)."""
    flat = np.zeros(int(np.prod(shape)))
    if kind == "wrap":
        for index, times in WRAP_COORDINATES.items():
            flat[index] = times * RING_2_32
    elif kind == "spike":
        flat[5] = RING_2_32 + 2.0**-16
    elif kind == "over-norm":
        flat[:] = 2.0 * clip_norm / np.sqrt(flat.size)
    else:
        raise ValueError(f"unknown vector kind {kind!r}")
    return flat.reshape(shape)


class HostileTrainer:
    """A :class:`mpcrec.node.trainer.Trainer` that sends ``kinds[version % len(kinds)]``."""

    def __init__(self, instance_id: str, kinds: list[str], clip_norm: float) -> None:
        self.instance_id = instance_id
        self.kinds = kinds
        self.clip_norm = clip_norm

    def update(self, model: Matrix, version: int) -> tuple[Matrix, float]:
        kind = self.kinds[version % len(self.kinds)]
        if kind in WEIGHTS:
            return in_bounds_update(self.instance_id, model, self.clip_norm), WEIGHTS[kind]
        return hostile_vector(kind, model.shape, self.clip_norm), 1.0


def in_bounds_update(instance_id: str, model: Matrix, clip_norm: float) -> Matrix:
    """The update an honest drift node with this id would send (clipped inside the bound)."""
    from mpcrec.model.server import clip_to_norm
    from mpcrec.node.trainer import drift_target

    delta = 0.5 * (drift_target(instance_id, (model.shape[0], model.shape[1])) - model)
    clipped: Matrix = clip_to_norm(delta, 0.999 * clip_norm).reshape(model.shape)
    return clipped


def main(argv: list[str] | None = None) -> int:
    from mpcrec.crypten_compat import set_torch_threads
    from mpcrec.node.config import NodeConfig
    from mpcrec.node.daemon import Node

    parser = argparse.ArgumentParser(prog="hostile_contributor", description=__doc__)
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--vectors", default="wrap,spike,over-norm")
    parser.add_argument("--clip-norm", type=float, default=10.0)
    parser.add_argument("--envelopes", action="store_true", help="hostile envelopes instead")
    parser.add_argument("--victim", default="tube-0", help="whose slot --envelopes claims")
    parser.add_argument("--out", type=Path, help="--envelopes: what it sent (JSON)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    set_torch_threads(1)
    kinds = [k for k in args.vectors.split(",") if k]
    unknown = set(kinds) - set(KINDS)
    if unknown:
        parser.error(f"unknown vector kinds {sorted(unknown)}; use {', '.join(KINDS)}")
    config = NodeConfig.load(args.config)
    if args.envelopes:
        from tests.adversarial.hostile_envelopes import EnvelopeAttack, EnvelopeNode

        out = args.out or config.state_dir / "envelopes.json"
        node: Node = EnvelopeNode(config, EnvelopeAttack(config.instance_id, args.victim, out))
    else:
        node = Node(config, trainer=HostileTrainer(config.instance_id, kinds, args.clip_norm))
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        node.run(stop)
    finally:
        node.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
