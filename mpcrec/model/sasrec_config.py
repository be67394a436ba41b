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
