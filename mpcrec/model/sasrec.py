"""SASRec (Kang & McAuley, ICDM 2018): causal self-attention over a user's recent items.

A central, order-aware reference for ``mpcrec bench quality``. The user's last
``max_len`` items (left-padded) pass through item plus position embeddings and ``blocks``
pre-norm Transformer blocks with a causal mask; the output at position ``t`` scores every
item as the next one by a dot product with the (shared) item embeddings. Training: every
user's history is cut, from its end, into windows of ``max_len`` next-item predictions,
and the full-softmax cross-entropy of every position is descended with Adam (one CPU
thread, seeded). Scoring a user feeds their latest ``max_len`` items and reads the last
position: there are no per-user parameters.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from mpcrec.data.interactions import IntArray
from mpcrec.data.split import Split
from mpcrec.model.metrics import Scorer, Scores, evaluate
from mpcrec.model.sasrec_config import SASRecConfig
from mpcrec.model.sequence import histories


class _Block(nn.Module):
    """Pre-norm causal self-attention then a point-wise feed-forward, both residual."""

    def __init__(self, config: SASRecConfig) -> None:
        super().__init__()
        d = config.dim
        self.attn_norm = nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, config.heads, dropout=config.dropout, batch_first=True)
        self.ff_norm = nn.LayerNorm(d)
        self.ff = nn.Sequential(
            nn.Linear(d, d), nn.ReLU(), nn.Dropout(config.dropout), nn.Linear(d, d)
        )
        self.drop = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, causal: torch.Tensor) -> torch.Tensor:
        h = self.attn_norm(x)
        x = x + self.drop(self.attn(h, h, h, attn_mask=causal, need_weights=False)[0])
        out: torch.Tensor = x + self.drop(self.ff(self.ff_norm(x)))
        return out


class SASRec(nn.Module):
    """The network: ``forward(seq)`` maps ``(B, L)`` item ids + 1 (0 = padding) to ``(B, L, d)``."""

    def __init__(self, n_items: int, config: SASRecConfig) -> None:
        super().__init__()
        self.config = config
        self.item = nn.Embedding(n_items + 1, config.dim, padding_idx=0)
        self.position = nn.Embedding(config.max_len, config.dim)
        self.drop = nn.Dropout(config.dropout)
        self.layers = nn.ModuleList([_Block(config) for _ in range(config.blocks)])
        self.norm = nn.LayerNorm(config.dim)
        if config.xavier:
            for name, weight in self.named_parameters():
                if weight.dim() > 1 and "norm" not in name:
                    nn.init.xavier_normal_(weight)
            with torch.no_grad():
                self.item.weight[0].zero_()

    def forward(self, seq: torch.Tensor) -> torch.Tensor:
        length = seq.shape[1]
        keep = (seq > 0).unsqueeze(-1).float()
        x = self.item(seq) * math.sqrt(self.config.dim) + self.position.weight[-length:]
        x = self.drop(x) * keep
        causal = torch.triu(torch.ones(length, length, dtype=torch.bool), diagonal=1)
        for layer in self.layers:
            x = layer(x, causal) * keep
        out: torch.Tensor = self.norm(x)
        return out

    def item_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Scores of every catalogue item (padding excluded) for each hidden state."""
        return hidden @ self.item.weight[1:].T


def windows(history_list: list[IntArray], max_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Training windows: inputs (item + 1, left-padded with 0) and next-item targets (-100 pad)."""
    inputs, targets = [], []
    for h in history_list:
        for end in range(h.shape[0] - 1, 0, -max_len):
            lo = max(0, end - max_len)
            x = np.zeros(max_len, dtype=np.int64)
            y = np.full(max_len, -100, dtype=np.int64)
            x[max_len - (end - lo) :] = h[lo:end] + 1
            y[max_len - (end - lo) :] = h[lo + 1 : end + 1]
            inputs.append(x)
            targets.append(y)
    if not inputs:
        raise ValueError("SASRec needs a history of at least two items for some user")
    return torch.from_numpy(np.stack(inputs)), torch.from_numpy(np.stack(targets))


def recent(history_list: list[IntArray], max_len: int) -> torch.Tensor:
    """Every user's latest ``max_len`` items (+ 1), left-padded with 0: shape ``(U, max_len)``."""
    out = np.zeros((len(history_list), max_len), dtype=np.int64)
    for u, h in enumerate(history_list):
        tail = h[-max_len:]
        out[u, max_len - tail.shape[0] :] = tail + 1
    return torch.from_numpy(out)


def train_sasrec(
    split: Split,
    config: SASRecConfig,
    *,
    seed: int,
    on_epoch: Callable[[int, Scorer], bool | None] | None = None,
) -> Scorer:
    """Train on ``split.train``; the scorer reads each user's latest training items.

    ``on_epoch(epoch, scorer)`` is called after every epoch (1-based), e.g. to follow
    validation quality while tuning; training stops early when it returns ``False``.
    Uses one torch thread and ``torch.manual_seed(seed)``.
    """
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    history_list = histories(split.train)
    inputs, targets = windows(history_list, config.max_len)
    model = SASRec(split.n_items, config)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.lr, betas=(0.9, 0.98))
    order = torch.Generator().manual_seed(seed)
    scorer = latest_scorer(model, recent(history_list, config.max_len))
    for epoch in range(config.epochs):
        model.train()
        shuffled = torch.randperm(inputs.shape[0], generator=order)
        for start in range(0, inputs.shape[0], config.batch_size):
            batch = shuffled[start : start + config.batch_size]
            loss = window_loss(model, inputs[batch], targets[batch], config.negatives, order)
            optimiser.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            optimiser.step()
        if on_epoch is not None and on_epoch(epoch + 1, scorer) is False:
            break
    return scorer


def window_loss(
    model: SASRec,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    negatives: int,
    generator: torch.Generator,
) -> torch.Tensor:
    """Next-item cross-entropy of every non-padding position (full or sampled softmax)."""
    hidden = model(inputs)
    real = targets >= 0
    states, wanted = hidden[real], targets[real]
    if negatives == 0:
        return nn.functional.cross_entropy(model.item_logits(states), wanted)
    n_items = model.item.weight.shape[0] - 1
    drawn = torch.randint(0, n_items, (negatives,), generator=generator)
    positive = (states * model.item.weight[wanted + 1]).sum(-1, keepdim=True)
    logits = torch.cat([positive, states @ model.item.weight[drawn + 1].T], dim=1)
    return nn.functional.cross_entropy(logits, torch.zeros(logits.shape[0], dtype=torch.long))


def latest_scorer(model: SASRec, latest: torch.Tensor) -> Scorer:
    """Scores from the last position of each user's latest items (model in eval mode)."""

    def score(users: IntArray) -> Scores:
        model.eval()
        with torch.no_grad():
            hidden = model(latest[torch.from_numpy(np.asarray(users))])[:, -1]
            return np.asarray(model.item_logits(hidden).numpy(), dtype=np.float64)

    return score


def validation_curve(
    tuning: Split, config: SASRecConfig, *, seed: int, every: int = 10
) -> list[tuple[int, float]]:
    """Validation NDCG@10 every ``every`` epochs of a run on the leave-last-out ``tuning``.

    With ``config.patience`` > 0 the run stops after that many checks without a new best
    (early stopping; the best check's epoch count is the setting to train with).
    """
    curve: list[tuple[int, float]] = []

    def follow(epoch: int, scorer: Scorer) -> bool:
        if epoch % every == 0:
            curve.append((epoch, evaluate(scorer, tuning, stage="valid")["ndcg@10"]))
        return not stale(curve, config.patience)

    train_sasrec(tuning, config, seed=seed, on_epoch=follow)
    return curve


def stale(curve: list[tuple[int, float]], patience: int) -> bool:
    """Whether the last ``patience`` checks of ``curve`` all fell short of an earlier best."""
    if patience <= 0 or len(curve) <= patience:
        return False
    best_before = max(score for _, score in curve[:-patience])
    return all(score <= best_before for _, score in curve[-patience:])
