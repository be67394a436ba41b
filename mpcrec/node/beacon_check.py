"""The node's side of the beacon binding: it commits and reveals only while the round's
beacon round is still in the future (docs/protocol.md, "The draw").

The launcher binds each round to a beacon round due after the reveals close. A launcher
that names a round already out would know the beacon value before the seed's other half
exists, and with the reveals in hand could choose between committees. A node that pins the
beacon chain (``node.yaml``: ``beacon: {chain_info: FILE}``, drand's ``/info`` document)
computes when the bound round is due from the chain itself and refuses (rule ``beacon``)
to commit to, or reveal for, a round whose beacon round is due already, or a round bound to
none. Without a pinned chain it can only check the launcher's stated ``beacon_at``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mpcrec.crypto.beacon import ChainInfo
from mpcrec.federation.announcement import RoundAnnouncement
from mpcrec.federation.beacon_http import read_chain_info
from mpcrec.node.round_refusal import RoundRefused


@dataclass(frozen=True)
class NodeBeacon:
    """``node.yaml``'s ``beacon`` section: the chain this node pins (``None``: none)."""

    chain_info: Path | None = None


def pinned_chain(config: NodeBeacon) -> ChainInfo | None:
    """The pinned chain, read once at start."""
    return read_chain_info(config.chain_info) if config.chain_info is not None else None


def check_beacon_binding(
    ann: RoundAnnouncement, chain: ChainInfo | None, now: float, step: str
) -> None:
    """Raise :class:`RoundRefused` (``beacon``) unless ``ann``'s beacon round is due after
    ``now`` (the node's clock), before this node sends its ``step``."""
    bound = ann.beacon_round
    if not bound:
        if chain is not None:
            raise RoundRefused(
                "beacon",
                f"round {ann.round_id} is bound to no beacon round",
                hint="this node "
                f"pins beacon chain {chain.chain_hash.hex()[:16]}; the launcher must use it",
            )
        return
    due = float(chain.time_of(bound)) if chain is not None else ann.beacon_at
    if due <= now:
        raise RoundRefused(
            "beacon",
            f"beacon round {bound} was due at {due:.0f}, before this node's {step} "
            f"(now {now:.0f}): its value may be known already",
        )
