"""Which model kind a node's trainer trains, and the refusal of a round of another kind.

A federation trains one model kind (:data:`~mpcrec.federation.round_params.MODELS`,
announced in every round's signed parameters). A trainer names its kind in the attribute
``model_kind`` (none: ``"mf"``, the item embeddings of matrix factorisation); a node asked
to contribute to a round of another kind refuses with rule ``model-kind`` rather than send
an update of the wrong model. A trainer whose data fixes the model's rows (a DP-ALS
trainer: its users rate a fixed catalogue) names them in ``catalogue_rows``; it refuses a
round whose base has other rows (a base grown with the catalogue, ``mpcrec demo
--new-videos``) with the same rule, rather than fail inside its training.
"""

from __future__ import annotations

from mpcrec.federation.round_params import RoundParams
from mpcrec.node.round_refusal import RoundRefused

RULE = "model-kind"


def trainer_kind(trainer: object) -> str:
    """The model kind ``trainer`` trains (``"mf"`` unless it says otherwise)."""
    return str(getattr(trainer, "model_kind", "mf"))


def check_model_kind(trainer: object, params: RoundParams) -> None:
    """Refuse (``model-kind``) a round whose model kind this node's trainer cannot train."""
    kind = trainer_kind(trainer)
    if params.model != kind:
        raise RoundRefused(
            RULE,
            f"the round trains model kind {params.model!r}, this node's trainer "
            f"({type(trainer).__name__}) trains {kind!r}",
            hint=f"set the trainer's model to {params.model!r} in node.yaml",
        )


def check_model_rows(trainer: object, rows: int) -> None:
    """Refuse (``model-kind``) a round whose base has ``rows`` rows when ``trainer`` trains a
    fixed catalogue (its ``catalogue_rows``) of another size; trainers without
    ``catalogue_rows`` follow the round's rows."""
    fixed = getattr(trainer, "catalogue_rows", None)
    if fixed is not None and int(fixed) != rows:
        raise RoundRefused(
            RULE,
            f"the round's base model has {rows} rows, this node's trainer "
            f"({type(trainer).__name__}, {trainer_kind(trainer)!r}) trains a fixed catalogue "
            f"of {int(fixed)} rows",
            hint="a catalogue that grows between rounds needs a trainer that follows it "
            "(`mpcrec demo --new-videos` runs --model mf)",
        )
