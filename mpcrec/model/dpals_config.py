"""DP-ALS's settings (:class:`ALSConfig`), apart from the pure steps of
:mod:`mpcrec.model.dpals` (which re-exports them)."""

from __future__ import annotations

from dataclasses import dataclass

ITEM_GRAMS = ("per-item", "global")
BLOCKS = ("gram", "rhs", "mass", "global")
INITS = ("random", "metadata", "content")


@dataclass(frozen=True)
class ALSConfig:
    """Hyper-parameters of (DP-)ALS (chosen on the validation item: docs/model.md).

    Attributes
    ----------
    dim:
        Factor dimension ``d``.
    iterations:
        Item solves (each one noisy release).
    reg, unobserved:
        ``lam`` and ``w0`` of the item solve (in units of the bounded statistics).
    user_reg, user_unobserved:
        The same for the user solve at home (in units of the confidences).
    recency_boost, recency_half_life:
        Confidence of an event ``1 + boost * 0.5 ** (age / half_life)`` (as
        :func:`~mpcrec.model.mf.recency_weights`); it also shapes the statistic weights.
    max_items:
        At most this many (most recent) items per user enter the statistics (0: all).
    tail_exponent:
        Statistic weight ``* count_i ** -tail_exponent`` (more of a user's budget on tail
        items; the counts are a noisy public release).
    user_norm:
        ``B``, the bound on a user factor in the statistics.
    item_gram:
        ``"per-item"`` (Chien et al.) or ``"global"`` (per-item Gram approximated by the
        mass times the mean Gram: far smaller payload, far less noise).
    shares:
        Relative share of a round's privacy budget (``(Delta / sigma)^2``) for
        ``gram, rhs, mass, global`` (unused blocks are ignored).
    count_share:
        Fraction of the whole budget spent on the item counts (only if ``tail_exponent``).
    init_std:
        Standard deviation of the random initial item factors, or (``init="metadata"``)
        the mean row norm of the metadata ones.
    init:
        ``"random"`` or ``"metadata"``: the start is the top principal directions of the
        public video metadata (tags and publication year), free of privacy cost
        (:func:`~mpcrec.model.dpals_train.metadata_items`); ``"content"``: the same plus
        the hashed title words, year and decade of :mod:`mpcrec.model.content`.
    item_bias:
        Fix every user's last coordinate to 1 before bounding, so ``V[:, -1]`` is an item
        bias (a popularity term learned from the same statistics).
    popularity_weight:
        Scores add ``popularity_weight * m_i / max(m)``, ``m`` the last round's noisy masses
        (public: post-processing of a release; ``item_gram="global"`` only).
    prior_reg, prior_scale:
        The item solve shrinks toward ``prior_scale`` times the public start (the metadata
        factors) with weight ``prior_reg`` instead of toward 0 (0: off), so a tail item whose
        statistics are mostly noise keeps what its public metadata says.
    smoothing, smoothing_reg, smoothing_words:
        Public post-processing of the last release (:func:`smooth_items`, ``item_gram=
        "global"`` only): every item factor is blended with a ridge prediction from its
        public metadata (``smoothing``: the mass at which both weigh the same; 0: off;
        ``smoothing_reg``: the ridge penalty; ``smoothing_words``: title words too).
    head_items:
        Train and serve only the ``head_items`` items of largest noisy count (a count
        release of ``count_share``); the others' rows are 0 (0: every item).
    tail_cut:
        Post-processing: rows outside the ``tail_cut`` largest released masses are set to 0.
    gram_floor:
        The noisy global Gram's eigenvalues floored at this fraction of its largest.
    """

    dim: int = 32
    iterations: int = 5
    reg: float = 2.0
    unobserved: float = 0.01
    user_reg: float = 1.0
    user_unobserved: float = 0.1
    recency_boost: float = 9.0
    recency_half_life: float = 10.0
    max_items: int = 0
    tail_exponent: float = 0.0
    user_norm: float = 1.0
    item_gram: str = "global"
    shares: tuple[float, float, float, float] = (0.3, 0.6, 0.05, 0.05)
    count_share: float = 0.05
    init_std: float = 0.1
    init: str = "random"
    item_bias: bool = False
    popularity_weight: float = 0.0
    prior_reg: float = 0.0
    prior_scale: float = 1.0
    smoothing: float = 0.0
    smoothing_reg: float = 1.0
    smoothing_words: bool = False
    head_items: int = 0
    tail_cut: int = 0
    gram_floor: float = 0.0

    def __post_init__(self) -> None:
        if self.item_gram not in ITEM_GRAMS:
            raise ValueError(f"item_gram must be one of {ITEM_GRAMS}, not {self.item_gram!r}")
        if self.dim < 1 or self.iterations < 1 or self.user_norm <= 0:
            raise ValueError("dim, iterations and user_norm must be positive")
        if self.init not in INITS:
            raise ValueError(f"init must be one of {INITS}, not {self.init!r}")
        if min(self.shares) < 0 or not 0.0 <= self.count_share < 1.0:
            raise ValueError("shares must be >= 0 and count_share in [0, 1)")
        if self.prior_reg < 0 or self.smoothing < 0 or self.smoothing_reg <= 0:
            raise ValueError("prior_reg and smoothing must be >= 0, smoothing_reg > 0")
        if min(self.head_items, self.tail_cut) < 0 or not 0.0 <= self.gram_floor < 1.0:
            raise ValueError("head_items, tail_cut must be >= 0 and gram_floor in [0, 1)")

    @property
    def releases_counts(self) -> bool:
        """Whether a first release publishes noisy item counts (tail weights, head items)."""
        return bool(self.tail_exponent or self.head_items)

    def blocks(self) -> tuple[str, ...]:
        """The blocks of the flat statistics vector, in order."""
        return ("gram", "rhs", "global") if self.item_gram == "per-item" else BLOCKS[1:]
