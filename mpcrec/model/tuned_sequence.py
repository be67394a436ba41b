"""Settings of the order-aware models, chosen on the validation item of ML-100k, seed 0
(docs/benchmarks/quality.md lists the grids tried)."""

from __future__ import annotations

from dataclasses import replace

from mpcrec.model.sasrec_config import SASRecConfig, SASRecFedConfig
from mpcrec.model.seq_ensemble import SeqMixConfig
from mpcrec.model.seqrec import SeqConfig
from mpcrec.model.seqrec_dp import SeqDPConfig

SASREC = SASRecConfig(
    dim=64, blocks=1, heads=1, max_len=50, dropout=0.2, lr=5e-3, epochs=40, negatives=500
)
SEQ = SeqConfig(dim=32, context=10, decay=0.7, lr=0.05, reg=0.01, epochs=30, recency_boost=9.0)
# federated: chosen on its own validation runs (seed 0): context 5, decay 0.5, two local
# epochs, 100 rounds (50 rounds: 0.097; context 10 at 50 / 100 rounds: 0.090 / 0.104)
SEQ_FED = SeqConfig(dim=32, context=5, decay=0.5, lr=0.05, reg=0.01, epochs=2, recency_boost=9.0)
SEQ_FED_ROUNDS = 100
# user-level DP (issue 16 item 5): the federated model's settings, one full-batch step per
# drawn user, Poisson rate 0.2, clip 1.0, 50 rounds (the MF DP-FedAvg's rate and rounds)
SEQ_DP_MODEL = replace(SEQ_FED, lr=0.05)
SEQ_DP = SeqDPConfig(rounds=50, user_rate=0.2, clip_norm=1.0, user_steps=1, server_lr=1.0)
# hard negatives (issue 16, 2026-12-02): SEQ_FED with the hardest of `negatives` uniform
# candidates as each event's BPR negative. Validation NDCG@10, seed 0, every 25 rounds:
# 8 candidates, 150 rounds: 0.100 0.097 0.094 0.096 0.092 0.096; 3, 100 rounds: 0.102
# 0.100 0.101 0.101; 3 with L2 0.03 (chosen): 0.110 0.109 0.110 0.114 (SEQ_FED: 0.108)
SEQ_FED_HARD = replace(SEQ_FED, negatives=3, reg=0.03)
SEQ_FED_HARD_ROUNDS = 100
# a fair central SASRec (Kang & McAuley's settings: two blocks, dimension 64, last 50 items,
# dropout 0.2, Adam 1e-3, xavier init; a sampled softmax against 256 shared negatives and
# batches of 32 to fit the CPU). Epochs: early stopping on validation, seed 0, checked
# every 5 (patience 2): 0.073 0.071 0.087 0.092 0.106 0.098 0.115 0.113 0.107 at 5..45
SASREC_FAIR = SASRecConfig(
    dim=64,
    blocks=2,
    heads=1,
    max_len=50,
    dropout=0.2,
    lr=1e-3,
    epochs=35,
    batch_size=32,
    negatives=256,
    xavier=True,
)
# SASRec by FedAvg over the 20 instances (issue 16, 2026-12-02): SASREC_FAIR's network,
# each round one local epoch per instance with the instance's own Adam kept at home, the
# prediction-weighted mean of the deltas. Validation NDCG@10, seed 0, every 10 rounds:
# fresh Adam lr 3e-3: 0.075 0.077 0.083 0.086; kept Adam lr 3e-3 (chosen, 40 rounds, the
# CPU's cap): 0.083 0.078 0.078 0.091; fresh lr 1e-3: 0.028 after 3; server step 3 or
# server momentum 0.9 slower after 5-10 (docs/benchmarks/quality.md, 2026-12-02 fedsas)
SASREC_FED = replace(SASREC_FAIR, lr=3e-3)
SASREC_FED_ROUNDS = SASRecFedConfig(rounds=40, local_epochs=1, keep_optimiser=True)
# the same, logged-in viewers read from their last 5 items (an anonymous viewer scored
# above a logged-in one on validation). Kept Adam, validation NDCG@10, seed 0, at 20 / 40 /
# 60 / 80 rounds: last 5 items 0.083 0.099 0.106 0.102 (chosen: 60 rounds); last 50:
# 0.078 0.091 0.086 0.088; current video alone: 0.084 0.092 0.098 0.090
SASREC_FED_RECENT_ROUNDS = SASRecFedConfig(
    rounds=60, local_epochs=1, keep_optimiser=True, serve_items=5
)
# what the runtime trains (`SeqrecTrainer`, `mpcrec demo --model seqrec`, the PeerTube
# seqrec trainer): SEQ_FED_HARD since 2026-12-02 (issue 16). Its per-instance delta norm in
# the demo's 20 x 25 rounds is at most 24.9 (SEQ_FED: 37.6; benchmarks/seq_update_norms.py),
# 3.1 once divided by the demo's server step 8, well inside the committee's clip 8.
SEQ_RUNTIME = SEQ_FED_HARD
# mixes at the viewer's instance (issue 16, 2026-12-02 morning, mpcrec.model.seq_ensemble):
# standardised scores, weights on a grid of 0.1 by validation NDCG@10, seed 0, against
# SEQ_FED_HARD's 0.1138 (logged-in) / 0.0948 (anonymous) alone.
# With the federated SASRec (60 rounds, last 5 items; 0.1058 / 0.0981 alone), SASRec's share
# 0.1 .. 0.9: logged-in 0.1125 0.1131 0.1163 0.1185 0.1166 0.1144 0.1134 0.1105 0.1090,
# anonymous 0.0940 0.0938 0.0962 0.0971 0.1018 0.1018 0.1028 0.1022 0.0992
SEQ_FED_MIX = SeqMixConfig(
    seq_rounds=SEQ_FED_HARD_ROUNDS,
    sasrec=SASREC_FED_RECENT_ROUNDS,
    sasrec_weight=0.4,
    anonymous_sasrec_weight=0.7,
)
# With EASE's item-to-item weights from the summed Gram matrices (mpcrec.model.item_gram;
# 0.0878 alone), EASE's share 0.1 .. 0.9: 0.1209 0.1257 0.1255 0.1239 0.1204 0.1151 0.1107
# 0.1024 0.0935 (chosen: 0.2). All three (seqrec 0.3, EASE 0.2, SASRec 0.5): 0.1321
SEQ_FED_EASE_WEIGHT = 0.2
