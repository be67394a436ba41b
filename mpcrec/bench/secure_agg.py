"""``mpcrec bench secure-agg``: one secure round, from sealed shares in memory to the model.

Setup (not timed): start a :class:`~committees.local_committee.LocalCommittee` (3 members,
``replicated``; or ``--protocol ttp``: Beaver triples from a dealer process), seal ``N``
random updates of ``D`` values with real envelopes (X25519 + HKDF + AES-GCM, Ed25519) and
hand every member its envelopes. Timed: members open their envelopes (decrypt share 1,
expand seeds), rebuild the contributions, check the L2 norm (and with ``--range-check`` the
coordinate check) inside MPC, reveal the accept bits, sum with public weights, add the
distributed Gaussian noise, apply the server step and reveal the new model. One warm-up
round, then ``--repeats`` timed rounds (fresh envelopes each: members reject replays).

Defaults are the configuration compared with Flower's SecAgg+ (docs/benchmarks/secure-agg.md):
norm check on (C = 1), noise on (sigma = C), coordinate check off. ``max_abs_error`` comes
from one extra round with the same configuration and noise off, against plaintext FedAvg.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console

from mpcrec.bench import flower_peer
from mpcrec.bench.report import metric_table, write_json

RANGE_FACTOR = 16.0  # B = 16 C: honest rejection probability below 1e-6 with 40 projections


def register(sub: Any) -> None:
    """Add ``secure-agg`` to the ``mpcrec bench`` subcommands."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "secure-agg",
        help="time one secure aggregation round (sealed shares to revealed model)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--contributors", type=int, default=10, help="contributions N (10)")
    parser.add_argument("--dim", type=int, default=53_824, help="values per update D (53824)")
    parser.add_argument("--protocol", choices=["replicated", "ttp"], default="replicated")
    parser.add_argument("--range-check", action="store_true", help="add the coordinate check")
    parser.add_argument("--no-norm-check", action="store_true", help="skip the L2 norm check")
    parser.add_argument("--noise-multiplier", type=float, default=1.0, help="z, sigma = z C (1)")
    parser.add_argument("--clip-norm", type=float, default=1.0, help="C (1.0)")
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds (5)")
    parser.add_argument(
        "--transport",
        choices=["gloo", "tls"],
        default="gloo",
        help="links between parties: gloo (plaintext, loopback) or TLS 1.3",
    )
    parser.add_argument("--timeout", type=float, default=120.0, help="per-step timeout, s")
    parser.add_argument(
        "--flower",
        type=Path,
        metavar="PYTHON",
        help="also run Flower's SecAgg+ at the same size with this interpreter (Flower "
        "installed: `make flower-venv`, then .venv-flower/bin/python) and print it beside ours",
    )
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write")
    parser.set_defaults(func=run)


def _load() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "n/a"


def run(args: argparse.Namespace) -> int:
    """Run the benchmark, print a table, write JSON; returns 0."""
    _check(args)
    workload = _Workload.draw(args)
    console = Console()
    load_before = _load()
    rounds = _measure(args, workload)
    result = _result(args, workload, rounds, load_before)
    if args.flower is not None:
        result["flower"] = flower_peer.measure(
            args.flower, contributors=args.contributors, dim=args.dim
        )
    _print(console, result)
    write_json(args.out, result)
    return 0


def _check(args: argparse.Namespace) -> None:
    from mpcrec.errors import ConfigError

    if args.contributors < 1 or args.dim < 1 or args.repeats < 1:
        raise ConfigError("--contributors, --dim and --repeats must be positive")


@dataclass(frozen=True)
class _Workload:
    """The round's inputs: honest updates, public weights and offset, and everyone's keys."""

    updates: list[Any]
    weights: tuple[float, ...]
    offset: Any
    keys: _Keys
    clip: float | None

    @classmethod
    def draw(cls, args: argparse.Namespace) -> _Workload:
        """Updates of norm about C/2 (so the norm check accepts all of them), seeded."""
        rng = np.random.default_rng(2026)
        updates = [
            rng.normal(0, 0.5 * args.clip_norm / np.sqrt(args.dim), args.dim)
            for _ in range(args.contributors)
        ]
        weights = tuple(float(w) for w in rng.dirichlet(np.ones(args.contributors)))
        offset = rng.normal(0, 0.1, args.dim)
        clip = None if args.no_norm_check else args.clip_norm
        return cls(updates, weights, offset, _Keys.generate(args.contributors), clip)


@dataclass(frozen=True)
class _Rounds:
    """What the timed rounds measured, and the outcome of the noise-free round."""

    times: list[float]
    outcomes: list[list[Any]]  # per timed round, every member's outcome
    exact: Any
    upload: int


def _measure(args: argparse.Namespace, workload: _Workload) -> _Rounds:
    """One warm-up round, ``--repeats`` timed rounds, then one round with the noise off."""
    from committees.local_committee import LocalCommittee
    from committees.session import SessionSettings

    protocol = "beaver" if args.protocol == "ttp" else "replicated"
    settings = SessionSettings(protocol=protocol, provider="TTP", timeout_s=args.timeout)
    times: list[float] = []
    outcomes = []
    with LocalCommittee(3, settings, transport=args.transport) as committee:
        for repeat in range(args.repeats + 2):
            noise = 0.0 if repeat == args.repeats + 1 else args.noise_multiplier * args.clip_norm
            spec = _spec(repeat, args, workload.weights, workload.offset, workload.clip, noise)
            inputs, upload = workload.keys.seal(workload.updates, spec.round_id)
            committee.stage(spec, inputs)
            started = time.perf_counter()
            outcome = committee.run_staged()
            elapsed = time.perf_counter() - started
            if 1 <= repeat <= args.repeats:  # repeat 0 warms up, the last measures error
                times.append(elapsed)
                outcomes.append(list(committee.last_outcomes))
    return _Rounds(times, outcomes, outcome, upload)


def _result(
    args: argparse.Namespace, workload: _Workload, rounds: _Rounds, load_before: str
) -> dict[str, Any]:
    from mpcrec.model.server import weighted_sum

    exact, outcomes, times, upload = rounds.exact, rounds.outcomes, rounds.times, rounds.upload
    expected = workload.offset + weighted_sum(workload.updates, workload.weights)
    assert exact.params is not None
    return {
        "benchmark": "secure-agg",
        "contributors": args.contributors,
        "dim": args.dim,
        "protocol": args.protocol,
        "provider": exact.provider,
        "transport": args.transport,
        "norm_check": workload.clip is not None,
        "range_check": args.range_check,
        "clip_norm": workload.clip,
        "range_bound": RANGE_FACTOR * args.clip_norm if args.range_check else None,
        "noise_std": args.noise_multiplier * args.clip_norm,
        "repeats": args.repeats,
        "round_s_median": statistics.median(times),
        "round_s_min": min(times),
        "round_s_all": times,
        "upload_bytes_per_contributor": upload,
        "upload_bytes_per_value": upload / args.dim,
        # CrypTen counts every tensor a member sends or receives; the protocols are symmetric
        "member_bytes_counted": max(o.comm_bytes for o in outcomes[-1]),
        "member_bytes_sent": max(o.comm_bytes for o in outcomes[-1]) // 2,
        "member_comm_rounds": max(o.comm_rounds for o in outcomes[-1]),
        "program_s_median": statistics.median(max(o.seconds for o in r) for r in outcomes),
        # CPU of the busiest member (open + program, every thread): what load does not stretch
        "member_cpu_s_median": statistics.median(max(o.cpu_seconds for o in r) for r in outcomes),
        "phase_s_median": _phase_medians(outcomes),
        "accepted": sum(exact.accepted),
        "max_abs_error": float(np.max(np.abs(exact.params - expected))),
        "load_before": load_before,
        "load_after": _load(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _phase_medians(outcomes: list[list[Any]]) -> dict[str, float]:
    """Per phase of the program, the median over rounds of the slowest member's seconds."""
    return {
        name: statistics.median(
            max(dict(o.phase_seconds).get(name, 0.0) for o in r) for r in outcomes
        )
        for name, _ in outcomes[-1][0].phase_seconds
    }


def _spec(
    round_id: int,
    args: argparse.Namespace,
    weights: tuple[float, ...],
    offset: Any,
    clip: float | None,
    noise: float,
) -> Any:
    from mpcrec.secure.program import RoundSpec

    return RoundSpec(
        round_id=round_id,
        dim=args.dim,
        weights=weights,
        public_offset=offset,
        clip_norm=clip,
        range_bound=RANGE_FACTOR * args.clip_norm if args.range_check else None,
        noise_std=noise,
        min_contributors=1,
    )


class _Keys:
    """Member X25519 keys and contributor Ed25519 keys, raw bytes where envelopes need them."""

    def __init__(self, members: list[Any], signers: list[Any]) -> None:
        from cryptography.hazmat.primitives import serialization as ser

        raw = ser.Encoding.Raw
        self.members = members
        self.signers = signers
        self.member_pubs = [m.public_key().public_bytes(raw, ser.PublicFormat.Raw) for m in members]
        self.member_privs = [
            m.private_bytes(raw, ser.PrivateFormat.Raw, ser.NoEncryption()) for m in members
        ]
        self.signer_pubs = tuple(
            s.public_key().public_bytes(raw, ser.PublicFormat.Raw) for s in signers
        )

    @classmethod
    def generate(cls, contributors: int) -> _Keys:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
        from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

        return cls(
            [X25519PrivateKey.generate() for _ in range(3)],
            [Ed25519PrivateKey.generate() for _ in range(contributors)],
        )

    def seal(self, updates: list[Any], round_id: int) -> tuple[list[Any], int]:
        """Every member's :class:`SealedInputs`, and one contributor's upload in bytes."""
        from committees.session import SealedInputs
        from mpcrec.crypto.envelope import seal_contribution

        model_hash = b"\x42" * 32
        sealed = [
            seal_contribution(
                u,
                member_keys=self.member_pubs,
                signing_key=s,
                round_id=round_id,
                model_hash=model_hash,
                contributor_id=f"instance-{i}",
            )
            for i, (u, s) in enumerate(zip(updates, self.signers, strict=True))
        ]
        upload = sum(len(env.to_bytes()) for env in sealed[0])
        inputs = [
            SealedInputs(
                tuple(env[j] for env in sealed),
                self.member_privs[j],
                self.signer_pubs,
                model_hash,
                tuple(f"instance-{i}" for i in range(len(sealed))),
            )
            for j in range(3)
        ]
        return inputs, upload


def _print(console: Console, r: dict[str, Any]) -> None:
    title = (
        f"secure-agg: {r['contributors']} x {r['dim']:,} values, {r['protocol']} "
        f"({r['provider']}), {r['transport']}, norm check {'on' if r['norm_check'] else 'off'}, "
        f"range check {'on' if r['range_check'] else 'off'}, noise sigma {r['noise_std']}"
    )
    rows = [
        ("round (median), s", f"{r['round_s_median']:.3f}"),
        ("round (min), s", f"{r['round_s_min']:.3f}"),
        *(
            ("  of which opening the envelopes, s", f"{secs:.3f}")
            for name, secs in r["phase_s_median"].items()
            if name == "open"
        ),
        ("  of which the MPC program (median), s", f"{r['program_s_median']:.3f}"),
        *(
            (f"    {name}, s", f"{secs:.3f}")
            for name, secs in r["phase_s_median"].items()
            if name != "open"
        ),
        ("CPU of the busiest member (median), s", f"{r['member_cpu_s_median']:.3f}"),
        ("upload per contributor, bytes", f"{r['upload_bytes_per_contributor']:,}"),
        ("upload per value, bytes", f"{r['upload_bytes_per_value']:.4f}"),
        ("bytes sent per member (CrypTen count / 2)", f"{r['member_bytes_sent']:,}"),
        ("communication rounds per member", str(r["member_comm_rounds"])),
        ("accepted", f"{r['accepted']}/{r['contributors']}"),
        ("max abs error vs plaintext (noise off)", f"{r['max_abs_error']:.2e}"),
        ("load average before / after", f"{r['load_before']} / {r['load_after']}"),
    ]
    if "flower" in r:
        f = r["flower"]
        rows += [
            (
                f"Flower {f['flower']} SecAgg+ critical path (median), s",
                f"{f['critical_path_s_median']:.3f}",
            ),
            ("Flower SecAgg+ one process (median), s", f"{f['wall_s_median']:.3f}"),
            *(
                (f"Flower {label} (median), s", f"{f[key]:.3f}")
                for label, key in (
                    ("critical path, CPU", "critical_path_cpu_s_median"),
                    ("one process, CPU", "cpu_s_median"),
                )
                if key in f
            ),
            ("Flower upload per value, bytes", f"{f['upload_bytes_per_value']:.4f}"),
            ("Flower max abs error vs plain mean", f"{f['max_abs_error']:.2e}"),
        ]
    console.print(metric_table(title, rows))
