"""SASRec's hyper-parameters, apart from the model (:mod:`mpcrec.model.sasrec`) so that
reading the tuned settings (:mod:`mpcrec.model.tuned_sequence`) does not import torch: a
``seqrec`` node imports those settings and must stay a light process."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SASRecConfig:
    """Hyper-parameters of :class:`SASRec` and its training.

    Attributes
    ----------
    dim:
        Embedding (and hidden) dimension.
    blocks:
        Self-attention blocks.
    heads:
        Attention heads per block.
    max_len:
        Items of history the model reads.
    dropout:
        Dropout on embeddings, attention and feed-forward outputs.
    lr:
        Adam learning rate.
    epochs:
        Passes over the training windows.
    batch_size:
        Windows per step.
    negatives:
        0: full softmax over the catalogue; otherwise a sampled softmax against this many
        uniform negatives shared by the batch (much cheaper on one CPU thread).
    xavier:
        Xavier-normal initialisation of every weight matrix and embedding, as the reference
        implementations do (item rows of std ~0.03); False: torch's defaults (embeddings
        N(0, 1), which with the ``sqrt(dim)`` input scaling start training from
        near-one-hot softmax outputs and learn slowly).
    patience:
        Validation checks without a better NDCG@10 before
        :func:`~mpcrec.model.sasrec.validation_curve` stops (0: never stop early).
    """

    dim: int = 64
    blocks: int = 2
    heads: int = 1
    max_len: int = 50
    dropout: float = 0.2
    lr: float = 1e-3
    epochs: int = 100
    batch_size: int = 128
    negatives: int = 0
    xavier: bool = False
    patience: int = 0


@dataclass(frozen=True)
class SASRecFedConfig:
    """Federated averaging of SASRec (:mod:`mpcrec.model.sasrec_fed`).

    Attributes
    ----------
    rounds:
        Secure rounds (one delta per instance each).
    local_epochs:
        Passes over the instance's own windows per round (a fresh local Adam each round).
    server_lr, server_momentum:
        The server step on the weighted mean of the deltas (1, 0: plain FedAvg).
    keep_optimiser:
        Every instance keeps its own local Adam (moments and step count) from round to
        round, at home; False: a fresh Adam each round.
    serve_items:
        A logged-in viewer is read from their last ``serve_items`` items (0: ``max_len``).
    """

    rounds: int = 50
    local_epochs: int = 1
    server_lr: float = 1.0
    server_momentum: float = 0.0
    keep_optimiser: bool = False
    serve_items: int = 0
