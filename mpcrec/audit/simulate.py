"""A simulated federation's audit log, in the launcher's format, without training or MPC.

It writes what :mod:`launch.audit_trail` writes for a real run, entry for entry: a
``config`` entry (in force from round 1), one self-signed ``register`` per instance, then
per round ``round_open``, one instance-signed ``seed_commit`` per participant (a fresh
per-round commitment, :mod:`committees.seed`), ``seed_reveals`` and ``committee`` (the
sortition with cooldown and dealer, :mod:`committees.sortition`), one ``contribution`` per
instance, one ``result_contributions`` (the maps, once) and one ``result_signature`` per
member (with ``full_results``, the results alone, the maps in them: the form before the
digest, :mod:`mpcrec.audit.result_contributions`), and ``publish`` or ``abort``, followed by a
signed RFC 6962 tree head. Updates and models are stand-ins (their digests are hashes of
labels). It feeds the tamper tests beside a log exported from a real launcher run
(``tests/audit/real_log.py``) and the verification benchmark (``mpcrec bench audit``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from committees.seed import combine_reveals, commitment, committee_seed
from committees.sortition import draw_committee, draw_dealer, eligible
from mpcrec.audit import entries as make
from mpcrec.audit import merkle
from mpcrec.audit.entries import LogEntry, RoundResult, TreeHead, canonical_json
from mpcrec.audit.round_digest import params_digest
from mpcrec.crypto.beacon import ChainInfo, LocalSigner
from mpcrec.files import write_atomic
from mpcrec.privacy.accountant import accountant_for

#: The launcher's first round id (``launch.launcher.Launcher`` opens round 1 first).
FIRST_ROUND = 1


def _derive(label: str, seed: int) -> bytes:
    return hashlib.sha256(f"mpcrec-sim/{seed}/{label}".encode()).digest()


#: When the simulated federation's first round ends (2026-01-01T00:00Z, in milliseconds).
SIMULATED_EPOCH_MS = 1_767_225_600_000


@dataclass
class FederationLog:
    """A federation's signed log (entries and tree heads) and the private keys that signed
    it: simulated here, or exported from a real launcher run (the tests build one)."""

    launcher_key: Ed25519PrivateKey
    instance_keys: dict[str, Ed25519PrivateKey]
    entries: list[LogEntry] = field(default_factory=list)
    heads: list[TreeHead] = field(default_factory=list)
    _acc: merkle.RootAccumulator = field(default_factory=merkle.RootAccumulator)

    def place(self, entry: LogEntry) -> LogEntry:
        """Append ``entry`` as signed (a launcher logging whatever it was sent)."""
        placed = entry.at(len(self.entries))
        self.entries.append(placed)
        self._acc.append(merkle.leaf_hash(placed.leaf_bytes()))
        return placed

    def append(self, entry: LogEntry, key: Ed25519PrivateKey | None = None) -> LogEntry:
        """Sign (with ``key``, default the launcher's) and append."""
        return self.place(entry.sign(key if key is not None else self.launcher_key))

    def sign_head(self, timestamp: int | None = None) -> TreeHead:
        """Sign the head over every entry so far (at ``timestamp`` ms, or untimed)."""
        head = TreeHead(len(self.entries), self._acc.root(), timestamp=timestamp)
        head = head.sign(self.launcher_key)
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
        """JSON Lines as ``mpcrec audit export`` writes them: every entry, each head right
        after the entry completing its size."""
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


@dataclass(frozen=True)
class _Plan:
    """What the simulated federation does (see :func:`simulate_federation`)."""

    committee_size: int
    cooldown: int
    provider: str
    noise_multiplier: float
    sample_rate: float
    abort_every: int
    reject_every: int
    seed: int
    params: Mapping[str, Any]
    min_contributors: int = 3
    beacon: LocalSigner | None = None
    full_results: bool = False

    @property
    def chain(self) -> ChainInfo | None:
        """The simulated beacon chain (round ``10 r`` serves round ``r``)."""
        return self.beacon.chain(genesis_time=0, period=1) if self.beacon else None

    @property
    def params_hash(self) -> bytes:
        """The round parameters' digest every contribution and result signs."""
        return params_digest(self.params)


def _register(sim: FederationLog, ids: Sequence[str], seed: int) -> None:
    """One self-signed registration per instance."""
    for i in ids:
        sealing = X25519PrivateKey.from_private_bytes(_derive(f"seal/{i}", seed)).public_key()
        registration = make.registration(
            instance_id=i,
            signing_key=make.public_key_bytes(sim.instance_keys[i]),
            sealing_key=sealing.public_bytes_raw(),
            address=f"127.0.0.1:{20000 + len(sim.entries)}",
        )
        sim.append(registration, sim.instance_keys[i])


def _draw(
    sim: FederationLog, r: int, plan: _Plan, history: list[tuple[str, ...]]
) -> tuple[str, ...]:
    """Commitments, reveals and the committee of round ``r``; returns the members."""
    ids = sorted(sim.instance_keys)
    secrets = {i: _derive(f"secret/{r}/{i}", plan.seed) for i in ids}
    for i in ids:
        committed = make.seed_commit(
            instance_id=i, round_id=r, commitment=commitment(r, i, secrets[i])
        )
        sim.append(committed, sim.instance_keys[i])
    sim.append(make.seed_reveals(round_id=r, reveals=secrets))
    round_seed = combine_reveals(r, secrets)
    beacon = None
    if plan.beacon is not None and plan.chain is not None:
        value = plan.beacon.sign(plan.chain, 10 * r)
        round_seed, beacon = committee_seed(r, round_seed, value.randomness), value.to_json()
    public = {i: make.public_key_bytes(sim.instance_keys[i]) for i in ids}
    pool = {i: public[i] for i in eligible(ids, history, plan.cooldown)}
    members = draw_committee(round_seed, r, pool, plan.committee_size)
    dealer = draw_dealer(round_seed, r, pool, members) if plan.provider == "ttp" else None
    drawn = make.committee(
        round_id=r,
        seed=round_seed,
        members=members,
        dealer=dealer,
        provider=plan.provider,
        beacon=beacon,
    )
    sim.append(drawn)
    return members


def _result(
    r: int, version: int, digests: Mapping[str, bytes], plan: _Plan, ids: Sequence[str]
) -> RoundResult:
    """What the members sign: every ``reject_every``-th round rejects one contribution."""
    rejected = {ids[r % len(ids)]} if plan.reject_every and r % plan.reject_every == 0 else set()
    return RoundResult(
        round_id=r,
        model_version=version + 1,
        model_hash=_derive(f"model/{version + 1}", plan.seed),
        accepted={i: d for i, d in digests.items() if i not in rejected},
        rejected={i: d for i, d in digests.items() if i in rejected},
        noise_multiplier=plan.noise_multiplier,
        sample_rate=plan.sample_rate,
        params_hash=plan.params_hash,
        weights={i: 0.0 if i in rejected else 1.0 for i in digests},
        sensitivity=str(plan.params["sensitivity"]),
    )


def _run_round(
    sim: FederationLog, r: int, version: int, plan: _Plan, history: list[tuple[str, ...]]
) -> int:
    """Round ``r`` on ``version``, to publish or abort and a signed head; the new version."""
    ids = sorted(sim.instance_keys)
    bound = 10 * r if plan.beacon is not None else 0
    sim.append(
        make.round_open(round_id=r, model_version=version, participants=ids, beacon_round=bound)
    )
    members = _draw(sim, r, plan, history)
    history.append(members)
    aborts = bool(plan.abort_every) and r % plan.abort_every == 0
    senders = ids[: plan.min_contributors - 1] if aborts else ids
    digests = {i: _derive(f"update/{r}/{i}", plan.seed) for i in senders}
    for i in senders:
        sent = make.contribution(
            round_id=r,
            instance_id=i,
            model_version=version,
            digest=digests[i],
            size=4096,
            weight=1.0,
            params_hash=plan.params_hash,
        )
        sim.append(sent, sim.instance_keys[i])
    if aborts:
        reason = f"only {len(senders)} contributions, {plan.min_contributors} needed"
        sim.append(make.abort(round_id=r, reason=reason))
        sim.sign_head(_head_time(r))
        return version
    result = _result(r, version, digests, plan, ids)
    for m in members:
        if not plan.full_results and m == members[0]:  # the maps once, as the launcher
            sim.append(make.result_contributions(result=result))
        signed = make.result_signature(member=m, result=result, full=plan.full_results)
        sim.append(signed, sim.instance_keys[m])
    sim.append(make.publish(round_id=r, model_version=version + 1, model_hash=result.model_hash))
    sim.sign_head(_head_time(r))
    return version + 1


def _head_time(r: int) -> int:
    """The simulated head time after round ``r`` (ms): one round a minute from 2026-01-01."""
    return SIMULATED_EPOCH_MS + 60_000 * r


def _params(
    noise_multiplier: float,
    min_contributors: int,
    committee_size: int,
    user_clip_norm: float | None,
    sample_rate: float,
) -> dict[str, Any]:
    """The simulated run's round parameters (user level with ``user_clip_norm``)."""
    params: dict[str, Any] = {
        "aggregation": "secure",
        "clip_norm": 1.0,
        "range_bound": 16.0,
        "noise_multiplier": float(noise_multiplier),
        "min_contributors": min_contributors,
        "committee_size": committee_size,
        "server_lr": 1.0,
        "server_momentum": 0.0,
        "max_weight": 1e6,
        "sensitivity": "replace-one",
    }
    if user_clip_norm is not None:
        params |= {
            "sensitivity": "user",
            "user_clip_norm": user_clip_norm,
            "user_rate": sample_rate,
        }
    return params


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
    seed: int = 0,
    beacon: bool = True,
    user_clip_norm: float | None = None,
    accountant: str | None = None,
    full_results: bool = False,
) -> FederationLog:
    """Run rounds ``1..rounds`` of a simulated federation and return its signed log.

    Every round: open, one commitment per instance, the reveals, committee (and dealer for
    ``ttp``), one contribution per instance, one result signature per member, publish, a
    signed tree head. Rounds whose id is a multiple of ``abort_every`` abort after the
    draw with one contribution too few when collecting ends; those whose id is a multiple
    of ``reject_every`` reject one contribution. With ``beacon`` every round is bound to a
    round of a local BLS beacon chain (logged in the config entry) whose value enters the
    committee seed. With ``user_clip_norm`` the run is user level (``privacy_unit: user``,
    ``sensitivity: user``, ``q = sample_rate``). The config entry names ``accountant``: by
    default (``None``) the launcher's choice for ``sample_rate``
    (:func:`~mpcrec.privacy.accountant.accountant_for`); ``""`` leaves it out, as logs
    written before it. ``full_results`` writes results in the form before the digest.
    """
    launcher = Ed25519PrivateKey.from_private_bytes(_derive("launcher", seed))
    ids = [f"inst-{i:02d}" for i in range(instances)]
    keys = {i: Ed25519PrivateKey.from_private_bytes(_derive(f"key/{i}", seed)) for i in ids}
    sim = FederationLog(launcher, keys)
    signer = LocalSigner(_derive("beacon", seed)) if beacon else None
    chain = signer.chain(genesis_time=0, period=1) if signer else None
    params = _params(
        noise_multiplier, min_contributors, committee_size, user_clip_norm, sample_rate
    )
    rules = make.config(
        from_round=FIRST_ROUND,
        launcher_key=make.public_key_bytes(launcher),
        committee_size=committee_size,
        cooldown=cooldown,
        min_contributors=min_contributors,
        provider=provider,
        delta=delta,
        epsilon_budget=epsilon_budget,
        privacy_unit="instance" if user_clip_norm is None else "user",
        beacon=chain.to_json() if chain else None,
        params=params,
        params_hash=params_digest(params),
        accountant=accountant_for([sample_rate]) if accountant is None else accountant,
    )
    sim.append(rules)
    _register(sim, ids, seed)
    plan = _Plan(
        committee_size=committee_size,
        cooldown=cooldown,
        provider=provider,
        noise_multiplier=noise_multiplier,
        sample_rate=sample_rate,
        abort_every=abort_every,
        reject_every=reject_every,
        seed=seed,
        min_contributors=min_contributors,
        beacon=signer,
        params=params,
        full_results=full_results,
    )
    history: list[tuple[str, ...]] = []
    version = 0
    for r in range(FIRST_ROUND, FIRST_ROUND + rounds):
        version = _run_round(sim, r, version, plan, history)
    return sim
