"""New catalogue rows from public content (mpcrec.model.content_initial): the ridge map
refitted from the base model, the same bits in every process."""

from __future__ import annotations

import hashlib

import numpy as np

from mpcrec.data.catalogue import VideoRecord
from mpcrec.model.catalogue_rows import grow_rows
from mpcrec.model.content import featurise, fit_content_map
from mpcrec.model.content_initial import (
    catalogue_features,
    content_rows_rule,
    ridge_map,
    sparse_features,
)
from mpcrec.model.content_sources import peertube_fields
from tests.determinism import digests_across_blas_threads

KNOWN_DIGEST = "0df291b48a50c06b6cccca77930a7f73b58f6f0d3dbe4723c85b7ef39b1f33b4"
GENRES = ("drama", "comedy", "horror", "news", "music", "science", "sport", "art")
WORDS = ("night", "river", "city", "love", "war", "star", "house", "blue", "last", "road")


def records(n: int, seed: int = 0) -> list[VideoRecord]:
    """``n`` videos with seeded public metadata (tags, title, category, language, channel)."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        tags = tuple(sorted(set(rng.choice(GENRES, size=int(rng.integers(1, 4))).tolist())))
        title = " ".join(rng.choice(WORDS, size=int(rng.integers(1, 4))).tolist())
        out.append(
            VideoRecord(
                url=f"https://tube-{k % 3}.example/w/{k}",
                name=title,
                tags=tags,
                category=int(rng.integers(1, 6)),
                language=str(rng.choice(["en", "fr", "de"])),
                channel=f"channel-{k % 7}",
                account=f"account-{k % 5}",
                published_at=int(1_600_000_000 + 86_400 * 365 * rng.random()),
            )
        )
    return out


def scenario(n_base: int = 60, dim: int = 8) -> tuple[np.ndarray, list[bool]]:
    """A base model whose rows follow the genres (so content predicts them), some retired."""
    rng = np.random.default_rng(1)
    genre_rows = rng.normal(size=(len(GENRES), dim))
    base = np.stack(
        [
            sum(genre_rows[GENRES.index(t)] for t in video.tags) + 0.1 * rng.normal(size=dim)
            for video in records(n_base)
        ]
    )
    retired = [k % 11 == 0 for k in range(n_base)]
    return base, retired


def digest_of_rows() -> str:
    """The rule's new rows for a catalogue of 600 + 9 rows of dimension 32, as a SHA-256 of
    their float64 bytes (at this size a BLAS solve differs between 1 and 2 threads here)."""
    base, retired = scenario(n_base=600, dim=32)
    grown = grow_rows(base, 609, retired=retired, initial=content_rows_rule(records(609)))
    return hashlib.sha256(np.ascontiguousarray(grown).tobytes()).hexdigest()


def test_sparse_features_are_featurise_exactly() -> None:
    fields = [peertube_fields(r) for r in records(40)]
    assert np.array_equal(sparse_features(fields, 256).dense(), featurise(fields, 256))


def test_the_map_is_the_closed_form_ridge_fit() -> None:
    features = catalogue_features(records(80), 128)
    targets = np.random.default_rng(2).normal(size=(80, 5))
    ours = ridge_map(features, targets, lam=10.0, steps=64)
    closed = fit_content_map(features.dense(), targets, lam=10.0)
    assert np.abs(ours - closed).max() < 1e-6 * max(1.0, np.abs(closed).max())


def test_new_rows_are_their_content_rows_and_predict_the_genres() -> None:
    base, retired = scenario()
    videos = records(69)
    grown = grow_rows(base, 69, retired=retired, initial=content_rows_rule(videos, lam=1.0))
    assert np.array_equal(grown[:60], base)
    live = ~np.asarray(retired)
    closed = fit_content_map(catalogue_features(videos).dense()[:60][live], base[live], lam=1.0)
    expected = catalogue_features(videos).dense()[60:] @ closed
    assert np.abs(grown[60:] - expected).max() < 1e-6
    # content carries signal: each new row is nearer its own genre mix than the average is
    rng = np.random.default_rng(1)
    genre_rows = rng.normal(size=(len(GENRES), base.shape[1]))
    truth = np.stack([sum(genre_rows[GENRES.index(t)] for t in v.tags) for v in videos[60:]])
    err_content = np.linalg.norm(grown[60:] - truth)
    err_mean = np.linalg.norm(base[live].mean(axis=0) - truth)
    assert err_content < 0.8 * err_mean


def test_retired_rows_do_not_enter_the_fit() -> None:
    base, retired = scenario()
    rule = content_rows_rule(records(69))
    moved = base.copy()
    moved[np.flatnonzero(retired)] += 1000.0  # retired rows: no influence
    assert np.array_equal(rule(base, 9, retired), rule(moved, 9, retired))
    moved[1] += 1.0  # a live row: the map moves
    assert not np.array_equal(rule(base, 9, retired), rule(moved, 9, retired))


def test_every_process_computes_the_same_bits() -> None:
    """The launcher and a node must pad the model identically: two processes with other
    BLAS thread counts (which change a BLAS reduction's order) agree to the bit."""
    here = digest_of_rows()
    seen = digests_across_blas_threads("tests.model.test_content_initial", "digest_of_rows")
    assert seen == {here}
    # and on every machine: only IEEE elementwise operations, fixed-order scatter-adds and
    # math.fsum (so CI's CPU, whatever its SIMD, gives the digest computed here)
    assert here == KNOWN_DIGEST
