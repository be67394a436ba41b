"""Settings of the order-aware models, chosen on the validation item of ML-100k, seed 0
(docs/benchmarks/quality.md lists the grids tried)."""

from __future__ import annotations

from mpcrec.model.sasrec import SASRecConfig
from mpcrec.model.seqrec import SeqConfig

SASREC = SASRecConfig(
    dim=32, blocks=1, heads=1, max_len=50, dropout=0.2, lr=3e-3, epochs=60, negatives=200
)
SEQ = SeqConfig(dim=32, context=5, decay=0.5, lr=0.05, reg=0.01, epochs=30)
# federated: SEQ's step, two local epochs per round
SEQ_FED = SeqConfig(dim=32, context=5, decay=0.5, lr=0.05, reg=0.01, epochs=2)
SEQ_FED_ROUNDS = 50
