"""Content embeddings from public video metadata: a new video is recommendable on day one.

A video's public metadata (what PeerTube publishes about it: tags, title, category,
language, licence, channel, account, publication date) becomes a feature vector ``f`` by a
hashed bag of features; a learned linear map ``W`` (``n_features x dim``) takes it into the
item-embedding space. A video with collaborative signal keeps its row ``e_i`` of the
federated model; a video nobody has interacted with yet (new in the catalogue) gets the
row ``W^T f`` (:func:`content_rows`), so it can be scored like any other at once.

**Features** (:func:`featurise`). Each field becomes tokens, ``kind:value``, lower-cased:

===============  ==========================================================
``tag:``         every tag (MovieLens: every genre)
``word:``        every title word of two or more letters (not a number), minus a few
                 English stop words
``category:``    PeerTube's category id; ``licence:`` its licence id;
                 ``language:`` its language code
``channel:``     the channel's name; ``account:`` the account's name
``year:``        the publication year, and ``decade:`` its decade
``bias``         always present (the map's intercept)
===============  ==========================================================

Token ``t`` goes to column ``int.from_bytes(blake2b(t, digest_size=8)) mod n_features``
(deterministic across processes and machines, unlike Python's ``hash``); a row is the
token counts divided by their L2 norm. Nothing but these public fields is read.

**The map** (:func:`fit_content_map`): ``W`` minimises ``sum_i ||W^T f_i - e_i||^2 +
lam ||W||^2`` over the items with collaborative signal, in closed form. Its inputs are the
public global model and public metadata, so it is a post-processing of what every round
publishes already: it costs no privacy and adds nothing to the secure payload. It is
refitted whenever the model changes (every round in a federation).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mpcrec.model.mf import Matrix

N_FEATURES = 1024
STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "at",
        "by",
        "de",
        "der",
        "die",
        "for",
        "from",
        "in",
        "la",
        "le",
        "of",
        "on",
        "or",
        "the",
        "to",
        "with",
    ]
)
_WORD = re.compile(r"[^\W\d_]{2,}")


@dataclass(frozen=True)
class ContentFields:
    """The public metadata of one video, as PeerTube publishes it (all optional but title).

    Attributes
    ----------
    title:
        ``video.name``.
    tags:
        The video's tags (``tag.name`` through ``videoTag``).
    category, licence:
        ``video.category``, ``video.licence`` (PeerTube's integer ids), or None.
    language:
        ``video.language`` (a code such as ``"en"``), or None.
    channel, account:
        ``videoChannel.name`` and ``account.name`` of the publisher, or None.
    year:
        Publication year (``video.publishedAt``; MovieLens: release year), or None.
    """

    title: str
    tags: tuple[str, ...] = ()
    category: int | None = None
    licence: int | None = None
    language: str | None = None
    channel: str | None = None
    account: str | None = None
    year: int | None = None


def tokens(fields: ContentFields) -> list[str]:
    """The feature tokens of one video (see the module docstring), in a fixed order."""
    out = ["bias"]
    out += [f"tag:{t.strip().lower()}" for t in fields.tags if t.strip()]
    words = _WORD.findall(fields.title.lower())
    out += [f"word:{w}" for w in words if w not in STOP_WORDS]
    named = (
        ("category", fields.category),
        ("licence", fields.licence),
        ("language", fields.language),
        ("channel", fields.channel),
        ("account", fields.account),
    )
    out += [f"{kind}:{str(value).strip().lower()}" for kind, value in named if value is not None]
    if fields.year is not None:
        out += [f"year:{fields.year}", f"decade:{fields.year // 10 * 10}"]
    return out


def feature_column(token: str, n_features: int = N_FEATURES) -> int:
    """The column of ``token``: its 64-bit BLAKE2b digest modulo ``n_features``."""
    digest = hashlib.blake2b(token.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % n_features


def featurise(videos: Sequence[ContentFields], n_features: int = N_FEATURES) -> Matrix:
    """Hashed, L2-normalised bags of features, shape ``(len(videos), n_features)``.

    Raises
    ------
    ValueError
        If ``n_features`` is not positive.
    """
    if n_features < 1:
        raise ValueError(f"n_features must be positive, not {n_features}")
    rows = np.zeros((len(videos), n_features), dtype=np.float64)
    for k, video in enumerate(videos):
        for token in tokens(video):
            rows[k, feature_column(token, n_features)] += 1.0
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return np.asarray(rows / np.maximum(norms, 1e-12), dtype=np.float64)


def fit_content_map(features: Matrix, rows: Matrix, *, lam: float) -> Matrix:
    """Ridge regression of item rows on their features: ``W`` of shape ``(n_features, dim)``.

    Parameters
    ----------
    features:
        ``(n, n_features)`` feature rows of the items with collaborative signal.
    rows:
        ``(n, dim)`` their rows of the (public) global model.
    lam:
        Ridge penalty (positive).
    """
    if lam <= 0:
        raise ValueError(f"lam must be positive, not {lam}")
    if features.shape[0] != rows.shape[0]:
        raise ValueError(f"{features.shape[0]} feature rows for {rows.shape[0]} model rows")
    gram = features.T @ features + lam * np.eye(features.shape[1])
    return np.asarray(np.linalg.solve(gram, features.T @ rows), dtype=np.float64)


def map_objective(features: Matrix, rows: Matrix, content_map: Matrix, *, lam: float) -> float:
    """The map's ridge objective ``||F W - E||^2 + lam ||W||^2``."""
    residual = features @ content_map - rows
    return float(np.sum(residual**2) + lam * np.sum(content_map**2))


def map_gradient(features: Matrix, rows: Matrix, content_map: Matrix, *, lam: float) -> Matrix:
    """Gradient of :func:`map_objective` in ``W``: ``2 F^T (F W - E) + 2 lam W``.

    Zero at :func:`fit_content_map`'s answer; a node may also refine a map it holds with
    steps along it instead of solving afresh.
    """
    residual = features @ content_map - rows
    return np.asarray(2.0 * (features.T @ residual) + 2.0 * lam * content_map, dtype=np.float64)


def content_rows(features: Matrix, content_map: Matrix) -> Matrix:
    """Model rows of videos known only by their metadata: ``features @ W``.

    The hook for a growing catalogue: a new video's row is its content row until
    collaborative training moves it.
    """
    if features.shape[1] != content_map.shape[0]:
        raise ValueError(
            f"features have {features.shape[1]} columns, the map expects {content_map.shape[0]}"
        )
    return np.asarray(features @ content_map, dtype=np.float64)


def with_content_rows(
    item_emb: Matrix, features: Matrix, signal: np.ndarray, *, lam: float
) -> tuple[Matrix, Matrix]:
    """Fit the map on the items with ``signal`` and give every other item its content row.

    Returns the new item embeddings (rows with signal unchanged) and the map ``W``.
    """
    warm = np.flatnonzero(signal)
    content_map = fit_content_map(features[warm], item_emb[warm], lam=lam)
    out = item_emb.copy()
    cold = np.flatnonzero(~np.asarray(signal, dtype=bool))
    out[cold] = content_rows(features[cold], content_map)
    return out, content_map
