"""How a round's updates are aggregated: one interface, a ``plaintext`` and a ``secure`` kind.

An :class:`Aggregation` seals a contributor's update for the round's committee, does a
member's work for the round, and (secure only) serves as the round's dealer. The daemon
picks one from the federation's spec when it registers (:func:`aggregation_for`) and never
asks which kind it holds.
"""

from __future__ import annotations

from mpcrec.federation.spec import FederationSpec
from mpcrec.node.aggregation.dpals_step import item_features
from mpcrec.node.aggregation.kind import Aggregation, Seat

__all__ = ["Aggregation", "Seat", "aggregation_for", "item_features"]


def aggregation_for(spec: FederationSpec, seat: Seat) -> Aggregation:
    """The aggregation ``spec`` names, for this node's ``seat``."""
    if spec.aggregation == "plaintext":
        from mpcrec.node.aggregation.plaintext import PlaintextAggregation

        return PlaintextAggregation(spec, seat.instance_id, seat.item_features)
    from mpcrec.node.aggregation.secure import SecureAggregation

    return SecureAggregation(spec, seat)
