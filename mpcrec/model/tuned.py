"""The model settings tuned on the validation item of ML-100k (docs/model.md): the defaults
of the benchmarks, the demo and the nodes' local training."""

from __future__ import annotations

from mpcrec.model.fedavg import FedConfig
from mpcrec.model.local import LocalConfig
from mpcrec.model.mf import MFConfig

MF = MFConfig(
    dim=32,
    lr=0.07,
    reg=0.03,
    batch_size=256,
    epochs=100,
    init_std=0.1,
    decay=True,
    recency_boost=9.0,
    recency_half_life=10.0,
)
FEDAVG = FedConfig(
    rounds=200, local=LocalConfig(mf=MF, epochs=2), server_lr=1.0, server_momentum=0.0
)
# fedavg_dp was tuned with the earlier, unweighted factorisation (its per-user steps do not
# use recency weights); it keeps that step size and regularisation.
MF_DP = MFConfig(dim=32, lr=0.15, reg=0.01, batch_size=256, epochs=100, init_std=0.1, decay=True)
FEDAVG_DP = FedConfig(
    rounds=50,
    local=LocalConfig(mf=MF_DP, clip="user", clip_norm=0.1, user_rate=0.2, user_steps=1),
    server_lr=20.0,
    server_momentum=0.5,
)
