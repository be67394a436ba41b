"""A real launcher run, played in-process, and its audit log exported as `mpcrec audit
export` exports it.

:func:`run_federation` drives a :class:`launch.launcher.Launcher` (SQLite store, audit log,
a clock it moves) through its public methods only, playing every instance with real keys:
each registers self-signed, commits to and reveals a fresh seed secret, uploads sealed
secure-aggregation envelopes (:func:`mpcrec.crypto.envelope.seal_contribution`) with its
signed contribution entry, and each committee member returns a model and its signed result.
No MPC runs: members return a stand-in model (the launcher only checks its size and hash).
Every round is bound to a beacon round of a local BLS beacon chain (:class:`LocalBeacon`
on the driver's clock), verified as drand's would be. Some rounds reject one contribution;
some abort because too few instances contribute before the collecting deadline.
``launcher`` may be a subclass of :class:`Launcher` with hostile hooks (the audit's
fairness tests prune participants or abort after the draw with one).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from committees.seed import commitment
from launch.launcher import Launcher, Schedule
from launch.round import Phase, Round, RoundPolicy
from launch.sqlite_store import SQLiteStore
from launch.store import Contribution, MemberResult, PublishedModel
from mpcrec.audit import entries
from mpcrec.audit.entries import public_key_bytes
from mpcrec.audit.log import AuditLog
from mpcrec.audit.simulate import FederationLog
from mpcrec.audit.verify import parse_lines
from mpcrec.cli.app import main
from mpcrec.crypto.beacon import LocalSigner
from mpcrec.crypto.binding import load_tls_identity, sign_binding
from mpcrec.crypto.envelope import seal_contribution
from mpcrec.crypto.keys import NodeKeys
from mpcrec.crypto.pki import issue_certificate
from mpcrec.federation.beacon_http import LocalBeacon
from mpcrec.federation.result import result_entry
from mpcrec.federation.spec import FederationSpec, PrivacyPromise

POLICY = RoundPolicy(committee_size=3, min_contributors=3, cooldown=2, dealer=True)
SPEC = FederationSpec(n_items=4, dim=2, aggregation="secure", noise_multiplier=4.0)
PRIVACY = PrivacyPromise(epsilon_budget=8.0)


def _derive(label: str) -> bytes:
    return hashlib.sha256(f"mpcrec-real-log/{label}".encode()).digest()


class Clock:
    """The launcher's time, moved by the driver."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class Federation:
    """Instances played by the test against one launcher."""

    def __init__(
        self, launcher: Launcher, clock: Clock, keys: dict[str, NodeKeys], ca: Path | None
    ) -> None:
        self.launcher, self.clock, self.keys, self.ca = launcher, clock, keys, ca

    def _bound(self, name: str, keys: NodeKeys) -> dict[str, bytes]:
        """``name``'s certificate from the CA in ``self.ca`` and its key binding (none
        without a CA: an unbound registration)."""
        if self.ca is None:
            return {}
        paths = issue_certificate(self.ca, self.ca / "issued", instance_id=name, hosts=[])
        cert, tls_key = load_tls_identity(paths.cert, paths.key)
        binding = sign_binding(tls_key, name, keys.signing_public, keys.sealing_public)
        return {"certificate": cert, "key_binding": binding}

    def register(self) -> None:
        """Every instance registers with its keys, self-signed (and bound, with a CA)."""
        for number, (name, keys) in enumerate(self.keys.items()):
            address = f"127.0.0.1:{29000 + number}"
            bound = self._bound(name, keys)
            entry = entries.registration(
                instance_id=name,
                signing_key=keys.signing_public,
                sealing_key=keys.sealing_public,
                address=address,
                **bound,
            )
            signature = entry.sign(keys.signing).signature
            self.launcher.register(
                name, keys.signing_public, keys.sealing_public, address, signature, **bound
            )

    def current(self, phase: Phase) -> Round:
        """The launcher's current round, which must be in ``phase``."""
        rnd = self.launcher.current()
        assert rnd is not None and rnd.phase is phase, rnd
        return rnd

    def draw(self, withheld: Collection[str] = (), *, strict: bool = True) -> Round:
        """Every participant commits, then reveals (but ``withheld``): once the beacon round
        is due the committee is drawn (the round is collecting), or the reveal deadline
        passes and it aborts (``strict=False``: whatever the launcher did)."""
        rnd = self.current(Phase.OPEN)
        secrets = {n: _derive(f"secret/{rnd.round_id}/{n}") for n in rnd.participants}
        for name, secret in secrets.items():
            value = commitment(rnd.round_id, name, secret)
            entry = entries.seed_commit(instance_id=name, round_id=rnd.round_id, commitment=value)
            signature = entry.sign(self.keys[name].signing).signature
            self.launcher.commit(name, rnd.round_id, value, signature)
        self.launcher.advance()
        for name, secret in secrets.items():
            if name not in withheld:
                self.launcher.reveal(name, rnd.round_id, secret)
        if withheld:
            self.clock.now += POLICY.reveal_s + 1
        self.clock.now = max(self.clock.now, rnd.beacon_at)
        self.launcher.advance()
        now = self.launcher.store.get_round(rnd.round_id)
        assert now is not None
        assert not strict or now.phase is (Phase.ABORTED if withheld else Phase.COLLECTING)
        return now

    def contribute(self, rnd: Round, count: int | None = None) -> dict[str, bytes]:
        """The first ``count`` participants (default all) upload sealed envelopes; the
        collecting deadline passes when some stayed away; returns the digests."""
        registry = {i.instance_id: i for i in self.launcher.store.instances()}
        model_hash = self.launcher.model(-1).model_hash
        digests: dict[str, bytes] = {}
        for name in rnd.participants[:count]:
            update = np.full(SPEC.size, 0.01 * (1 + sorted(self.keys).index(name)))
            sealed = seal_contribution(
                update,
                member_keys=[registry[m].sealing_key for m in rnd.committee],
                signing_key=self.keys[name].signing,
                round_id=rnd.round_id,
                model_hash=model_hash,
                contributor_id=name,
                weight=1.0,
                params_hash=self.launcher.params.digest,
            )
            envelopes = {m: s.to_bytes() for m, s in zip(rnd.committee, sealed, strict=True)}
            params_hash = self.launcher.params.digest
            upload = Contribution(rnd.round_id, name, 1.0, envelopes, params_hash=params_hash)
            entry = entries.contribution(
                round_id=rnd.round_id,
                instance_id=name,
                model_version=rnd.model_version,
                digest=upload.digest,
                size=upload.size,
                weight=1.0,
                params_hash=params_hash,
            )
            self.launcher.contribute(upload, entry.sign(self.keys[name].signing).signature)
            digests[name] = upload.digest
        if count is not None:
            self.clock.now += POLICY.collect_s + 1
        self.launcher.advance()
        return digests

    def compute(self, rnd: Round, digests: dict[str, bytes], rejected: Collection[str]) -> None:
        """Each member downloads its envelopes and returns the same model, signed."""
        values = np.full((SPEC.n_items, SPEC.dim), 0.001 * rnd.round_id)
        model = PublishedModel.from_array(rnd.model_version + 1, values)
        accepted = tuple(c for c in rnd.contributors if c not in rejected)
        for member in rnd.committee:
            assert len(self.launcher.shares_for(member, rnd.round_id)) == len(digests)
            entry = result_entry(
                member=member,
                round_id=rnd.round_id,
                new_version=rnd.model_version + 1,
                model_hash=model.model_hash,
                digests=digests,
                accepted=accepted,
                params=self.launcher.params,
                weights=dict.fromkeys(rnd.contributors, 1.0),
            )
            signature = entry.sign(self.keys[member].signing).signature
            result = MemberResult(
                rnd.round_id,
                member,
                True,
                "",
                model.model_hash,
                accepted,
                signature,
                model.data,
                weights=(1.0,) * len(rnd.contributors),
            )
            self.launcher.submit_result(result)
        self.launcher.advance()


def run_federation(
    state_dir: Path,
    *,
    rounds: int = 12,
    instances: int = 8,
    abort_every: int = 5,
    reject_every: int = 4,
    withhold_every: int = 0,
    launcher: type[Launcher] = Launcher,
    play: Callable[[Federation], None] | None = None,
    ca: Path | None = None,
) -> FederationLog:
    """Rounds ``1..rounds``: multiples of ``withhold_every`` abort because the last
    participant withholds its reveal, multiples of ``abort_every`` abort after the draw
    (only ``min_contributors - 1`` contribute), those of ``reject_every`` reject one
    contribution (0: never); ``play`` replaces that schedule. The log is exported as
    `mpcrec audit export` does and returned with the keys that signed it.
    With ``ca`` (a directory made by ``create_ca``) every instance registers with a
    certificate from it and a key binding."""
    launcher_key = Ed25519PrivateKey.from_private_bytes(_derive("launcher"))
    keys = {
        f"inst-{i:02d}": NodeKeys(
            Ed25519PrivateKey.from_private_bytes(_derive(f"sign/{i}")),
            X25519PrivateKey.from_private_bytes(_derive(f"seal/{i}")),
        )
        for i in range(instances)
    }
    plan = _Plan(abort_every, reject_every, withhold_every)
    aborts = [r for r in range(1, rounds + 1) if plan.aborts(r)]
    store = SQLiteStore(state_dir / "launcher.sqlite")
    clock = Clock()
    beacon = LocalBeacon(
        LocalSigner(_derive("beacon")), genesis_time=int(clock.now) - 60, period=3, clock=clock
    )
    try:
        running = launcher(
            store,
            policy=POLICY,
            spec=SPEC,
            schedule=Schedule(rounds=rounds - len(aborts), retry_s=0.0),
            clock=clock,
            audit=AuditLog(store.connection, launcher_key=launcher_key),
            launcher_key=public_key_bytes(launcher_key),
            privacy=PRIVACY,
            beacon=beacon,
        )
        federation = Federation(running, clock, keys, ca)
        if play is not None:
            play(federation)
        else:
            _play(federation, rounds, plan)
    finally:
        store.close()
    return _exported(state_dir, launcher_key, {n: k.signing for n, k in keys.items()})


@dataclass(frozen=True)
class _Plan:
    """Which rounds abort or reject (every n-th; 0: never)."""

    abort_every: int
    reject_every: int
    withhold_every: int

    @staticmethod
    def _every(n: int, r: int) -> bool:
        return bool(n) and r % n == 0

    def withholds(self, r: int) -> bool:
        return self._every(self.withhold_every, r)

    def aborts(self, r: int) -> bool:
        return self.withholds(r) or self._every(self.abort_every, r)

    def rejects(self, r: int) -> bool:
        return self._every(self.reject_every, r)


def _play(federation: Federation, rounds: int, plan: _Plan) -> None:
    federation.register()
    federation.launcher.advance()
    for r in range(1, rounds + 1):
        opened = federation.current(Phase.OPEN)
        assert opened.round_id == r
        rnd = federation.draw(opened.participants[-1:] if plan.withholds(r) else ())
        if rnd.phase is Phase.ABORTED:
            continue
        if plan.aborts(r):
            federation.contribute(rnd, POLICY.min_contributors - 1)
            ended = federation.launcher.store.get_round(r)
            assert ended is not None and ended.phase is Phase.ABORTED
            continue
        digests = federation.contribute(rnd)
        rnd = federation.current(Phase.COMPUTING)
        rejected = [rnd.contributors[r % len(rnd.contributors)]] if plan.rejects(r) else []
        federation.compute(rnd, digests, rejected)
    assert federation.launcher.finished()


def _exported(
    state_dir: Path, launcher_key: Ed25519PrivateKey, keys: dict[str, Ed25519PrivateKey]
) -> FederationLog:
    """`mpcrec audit export` of ``state_dir``, parsed back with the keys that signed it."""
    out = state_dir / "audit.jsonl"
    assert main(["audit", "export", "--state-dir", str(state_dir), "--out", str(out)]) == 0
    lines = out.read_bytes().splitlines()
    parsed, heads, bad = parse_lines(lines)
    assert bad == []
    log = FederationLog(launcher_key, keys)
    for entry in parsed:
        log.place(entry)
    log.heads.extend(h for _, h in heads)
    assert log.lines() == lines  # the export is exactly entries and heads
    assert json.loads(lines[0])["kind"] == "config"
    return log
