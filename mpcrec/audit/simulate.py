"""A simulated federation's audit log: protocol-faithful, without training or MPC.

It follows the round protocol the launcher runs and uses the real pieces: Ed25519 keys,
hash-chain commitments and reveals (:mod:`committees.seed`), sortition with cooldown and
dealer (:mod:`committees.sortition`), member signatures over the round result, signed RFC
6962 tree heads. Updates and models are stand-ins (their digests are hashes of labels).
It feeds the tamper tests and the verification benchmark until a log from a real
federation run exists (the runtime is not finished yet).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from committees.seed import CommitReveal, HashChain, commitment
from committees.sortition import draw_committee, draw_dealer, eligible
from mpcrec.audit import entries as make
from mpcrec.audit import merkle
from mpcrec.audit.entries import LAUNCHER, LogEntry, RoundResult, TreeHead, canonical_json
from mpcrec.files import write_atomic


def _derive(label: str, seed: int) -> bytes:
    return hashlib.sha256(f"mpcrec-sim/{seed}/{label}".encode()).digest()


@dataclass
class SimulatedFederation:
    """The log of a simulated run and the keys that signed it."""

    launcher_key: Ed25519PrivateKey
    instance_keys: dict[str, Ed25519PrivateKey]
    entries: list[LogEntry] = field(default_factory=list)
    heads: list[TreeHead] = field(default_factory=list)
    _acc: merkle.RootAccumulator = field(default_factory=merkle.RootAccumulator)

    def append(self, entry: LogEntry, key: Ed25519PrivateKey | None = None) -> LogEntry:
        """Sign (with ``key``, default the launcher's) and append."""
        signer = key if key is not None else self.launcher_key
        placed = entry.sign(signer).at(len(self.entries))
        self.entries.append(placed)
        self._acc.append(merkle.leaf_hash(placed.leaf_bytes()))
        return placed

    def sign_head(self) -> TreeHead:
        """Sign the head over every entry so far."""
        head = TreeHead(len(self.entries), self._acc.root()).sign(self.launcher_key)
        self.heads.append(head)
        return head

    def key_file(self) -> dict[str, Any]:
        """The auditor's key file: every public key, as hex."""
        return {
            "launcher": make.public_key_bytes(self.launcher_key).hex(),
            "instances": {
                i: make.public_key_bytes(k).hex() for i, k in sorted(self.instance_keys.items())
            },
        }

    def lines(self) -> list[bytes]:
        """JSON Lines: every entry, each head right after the entry completing its size."""
        by_size: dict[int, list[TreeHead]] = {}
        for head in self.heads:
            by_size.setdefault(head.size, []).append(head)
        out = [canonical_json(h.to_json()) for h in by_size.get(0, [])]
        for entry in self.entries:
            out.append(entry.leaf_bytes())
            out.extend(canonical_json(h.to_json()) for h in by_size.get(entry.index + 1, []))
        return out

    def write(self, path: Path) -> None:
        """Write :meth:`lines` to ``path`` (atomically)."""
        write_atomic(Path(path), b"".join(line + b"\n" for line in self.lines()))


def simulate_federation(
    *,
    rounds: int,
    instances: int = 20,
    committee_size: int = 3,
    cooldown: int = 2,
    min_contributors: int = 3,
    provider: str = "ttp",
    noise_multiplier: float = 1.0,
    sample_rate: float = 0.01,
    delta: float = 1e-5,
    epsilon_budget: float | None = 8.0,
    abort_every: int = 0,
    reject_every: int = 0,
    per_round_commits: bool = False,
    seed: int = 0,
) -> SimulatedFederation:
    """Run ``rounds`` rounds of a simulated federation and return its signed log.

    Every round: open, reveals, committee (and dealer for ``ttp``), one contribution per
    instance, one result signature per member, publish, a signed tree head. Every
    ``abort_every``-th round aborts after the draw (a member timed out); every
    ``reject_every``-th round rejects one contribution. Seeds come from one hash chain per
    instance, or with ``per_round_commits`` from a fresh signed commitment per instance and
    round, logged after the round opens (the launcher's current protocol).
    """
    launcher = Ed25519PrivateKey.from_private_bytes(_derive("launcher", seed))
    ids = [f"inst-{i:02d}" for i in range(instances)]
    keys = {i: Ed25519PrivateKey.from_private_bytes(_derive(f"key/{i}", seed)) for i in ids}
    sim = SimulatedFederation(launcher, keys)
    sim.append(
        make.config(
            from_round=0,
            launcher_key=make.public_key_bytes(launcher),
            committee_size=committee_size,
            cooldown=cooldown,
            min_contributors=min_contributors,
            provider=provider,
            delta=delta,
            epsilon_budget=epsilon_budget,
            privacy_unit="user",
        )
    )
    source = CommitReveal()
    chains = {
        i: HashChain.generate(i, 0, max(rounds - 1, 0), tip=_derive(f"chain/{i}", seed))
        for i in ids
    }

    def secret(i: str, r: int) -> bytes:
        return _derive(f"secret/{r}/{i}", seed) if per_round_commits else chains[i].reveal(r)

    for i in ids:
        sealing = X25519PrivateKey.from_private_bytes(_derive(f"seal/{i}", seed)).public_key()
        sim.append(
            make.registration(
                instance_id=i,
                signing_key=make.public_key_bytes(keys[i]),
                sealing_key=sealing.public_bytes_raw(),
                address=f"127.0.0.1:{20000 + len(sim.entries)}",
            ),
            keys[i],
        )
        if not per_round_commits:
            sim.append(
                make.seed_commit(
                    instance_id=i, round_id=0, commitment=chains[i].anchor, last_round=rounds - 1
                ),
                keys[i],
            )
            source.commit(i, round_id=0, commitment=chains[i].anchor, last_round=rounds - 1)
    sim.sign_head()
    public = {i: make.public_key_bytes(k) for i, k in keys.items()}
    history: list[tuple[str, ...]] = []
    version = 0
    for r in range(rounds):
        sim.append(make.round_open(round_id=r, model_version=version, participants=ids))
        if per_round_commits:
            for i in ids:
                c = commitment(r, i, secret(i, r))
                sim.append(make.seed_commit(instance_id=i, round_id=r, commitment=c), keys[i])
                source.commit(i, round_id=r, commitment=c)
        for i in source.open_round(r, ids):
            source.reveal(r, i, secret(i, r))
        sim.append(make.seed_reveals(round_id=r, reveals={i: secret(i, r) for i in ids}))
        round_seed = source.seed(r)
        pool = {i: public[i] for i in eligible(ids, history, cooldown)}
        members = draw_committee(round_seed, r, pool, committee_size)
        dealer = draw_dealer(round_seed, r, pool, members) if provider == "ttp" else None
        history.append(members)
        sim.append(
            make.committee(
                round_id=r, seed=round_seed, members=members, dealer=dealer, provider=provider
            )
        )
        if abort_every and r % abort_every == abort_every - 1:
            sim.append(make.abort(round_id=r, reason="member timed out", missing=[members[-1]]))
            sim.sign_head()
            continue
        digests = {i: _derive(f"update/{r}/{i}", seed) for i in ids}
        for i in ids:
            sim.append(
                make.contribution(
                    round_id=r, instance_id=i, model_version=version, digest=digests[i], size=4096
                ),
                keys[i],
            )
        rejected = {ids[r % len(ids)]} if reject_every and r % reject_every == 0 else set()
        result = RoundResult(
            round_id=r,
            model_version=version + 1,
            model_hash=_derive(f"model/{version + 1}", seed),
            accepted={i: d for i, d in digests.items() if i not in rejected},
            rejected={i: d for i, d in digests.items() if i in rejected},
            noise_multiplier=noise_multiplier,
            sample_rate=sample_rate,
        )
        for m in members:
            sim.append(make.result_signature(member=m, result=result), keys[m])
        version += 1
        sim.append(make.publish(round_id=r, model_version=version, model_hash=result.model_hash))
        sim.sign_head()
    assert all(e.author == LAUNCHER or e.author in keys for e in sim.entries)
    return sim
