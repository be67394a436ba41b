"""What a model fetch's committee signatures weigh on the wire: each member's result naming
its contributions by digest (now) or with its maps (before), every entry in full or the
shared result once.

Used by ``tests/node/test_model_provenance.py`` and, for the numbers in
docs/benchmarks/federation.md, as ``python -m tests.node.committee_bytes`` (one published
in-process world, its real committee's keys and certificates, each entry's result then
replaced by one naming ``--contributors`` accepted digests, by their digest or in full: the
sizes of a signed entry, not its validity)."""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import tempfile
from pathlib import Path

from mpcrec.audit.entries import RoundResult
from mpcrec.audit.result_contributions import compact
from mpcrec.federation.published_model import PublishedModel
from mpcrec.proto import convert


def with_contributors(
    model: PublishedModel, contributors: int, *, maps: bool = False
) -> PublishedModel:
    """``model`` whose every committee entry's result accepts ``contributors`` digests, named
    by the digest of the maps (``maps``: the maps in the result, the form before)."""
    result = RoundResult(
        round_id=1,
        model_version=model.version,
        model_hash=model.model_hash,
        accepted={f"tube-{i:04d}": hashlib.sha256(b"%d" % i).digest() for i in range(contributors)},
        rejected={},
        noise_multiplier=1.0,
        sample_rate=0.5,
        params_hash=hashlib.sha256(b"params").digest(),
        weights={f"tube-{i:04d}": 1.0 for i in range(contributors)},
        sensitivity="add-remove",
    )
    signed = result.to_json() if maps else compact(result.to_json())
    committee = tuple(
        dataclasses.replace(s, entry={**s.entry, "payload": {"result": signed}})
        for s in model.committee
    )
    return dataclasses.replace(model, committee=committee)


def fetch_bytes(model: PublishedModel, *, shared_result: bool) -> tuple[int, int]:
    """``(all chunks, committee fields of the first)``: serialized bytes of one fetch."""
    chunks = list(convert.model_chunks(model, shared_result=shared_result))
    head = chunks[0]
    signed = sum(len(s) for s in head.committee_signatures) + len(head.committee_result)
    return sum(c.ByteSize() for c in chunks), signed


def main() -> None:
    """Print the bytes of one model fetch, both forms, at ``--contributors``."""
    from tests.node.world import World, drive, make_launcher, published

    parser = argparse.ArgumentParser()
    parser.add_argument("--contributors", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as root:
        world = World.in_process(
            make_launcher(), Path(root), ["tube-a", "tube-b", "tube-c", "tube-d"]
        )
        try:
            world.register_all()
            drive(world, published(world, 1))
            base = world.launcher.model(1)
        finally:
            world.close()
    print(f"{args.contributors} contributors, {len(base.committee)} members")
    for maps in (True, False):
        model = with_contributors(base, args.contributors, maps=maps)
        for shared in (False, True):
            total, signed = fetch_bytes(model, shared_result=shared)
            form = ("maps signed, " if maps else "digest signed, ") + (
                "shared result once" if shared else "every entry in full"
            )
            print(f"{form:40s} fetch {total:>9,d} B   committee fields {signed:>9,d} B")


if __name__ == "__main__":
    main()
