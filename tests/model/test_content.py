"""Content features and the content map: deterministic, public fields only, a true minimiser."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np
import pytest

from mpcrec.data.interactions import ItemMeta
from mpcrec.model.content import (
    ContentFields,
    content_rows,
    feature_column,
    featurise,
    fit_content_map,
    map_gradient,
    map_objective,
    tokens,
    with_content_rows,
)
from mpcrec.model.content_sources import (
    movielens_fields,
    new_video_rows,
    peertube_features,
    peertube_fields,
)

VIDEO = ContentFields(
    title="The Making of a Federated Video",
    tags=("PeerTube", "Fediverse"),
    category=15,
    licence=1,
    language="en",
    channel="making_of",
    account="alice",
    year=2026,
)


def test_tokens_cover_every_public_field_and_drop_stop_words() -> None:
    assert tokens(VIDEO) == [
        "bias",
        "tag:peertube",
        "tag:fediverse",
        "word:making",
        "word:federated",
        "word:video",
        "category:15",
        "licence:1",
        "language:en",
        "channel:making_of",
        "account:alice",
        "year:2026",
        "decade:2020",
    ]


def test_every_field_changes_the_features() -> None:
    base = featurise([VIDEO])
    changes = {
        "title": "Another Title",
        "tags": ("cooking",),
        "category": 3,
        "licence": 2,
        "language": "fr",
        "channel": "other",
        "account": "bob",
        "year": 1999,
    }
    assert set(changes) == {f.name for f in fields(ContentFields)}
    for name, value in changes.items():
        assert not np.array_equal(featurise([replace(VIDEO, **{name: value})]), base), name


def test_featurise_is_normalised_and_the_same_in_another_process(tmp_path: Path) -> None:
    rows = featurise([VIDEO, ContentFields(title="")], n_features=64)
    assert rows.shape == (2, 64)
    np.testing.assert_allclose(np.linalg.norm(rows, axis=1), 1.0)
    assert rows[1].nonzero()[0].tolist() == [feature_column("bias", 64)]
    # Python's str hash is salted per process; the featuriser must not depend on it
    code = "from mpcrec.model.content import feature_column as f; print(f('tag:peertube', 1024))"
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert int(out.stdout) == feature_column("tag:peertube", 1024)
    spec = hashlib.blake2b(b"tag:peertube", digest_size=8).digest()  # the documented rule
    assert feature_column("tag:peertube", 1024) == int.from_bytes(spec, "big") % 1024 == 410


def test_movielens_mapping_uses_genres_title_and_year() -> None:
    meta = [
        ItemMeta(title="Toy Story", tags=("Animation", "Comedy"), published=1995.0),
        ItemMeta(title="Unknown", tags=(), published=1900.0),
    ]
    first, second = movielens_fields(meta)
    assert first == ContentFields(title="Toy Story", tags=("Animation", "Comedy"), year=1995)
    assert second.year is None  # MovieLens' placeholder for a missing release year


@dataclass(frozen=True)
class CatalogueVideo:
    """The public fields of a catalogue row (the catalogue's VideoRecord has these and more)."""

    url: str
    name: str
    tags: tuple[str, ...]
    category: int | None
    licence: int | None
    language: str | None
    channel: str
    account: str
    duration: int
    published_at: int


def test_peertube_mapping_reads_the_public_fields_only() -> None:
    video = CatalogueVideo(
        url="https://a.example/w/1",
        name="The Making of a Federated Video",
        tags=("PeerTube", "Fediverse"),
        category=15,
        licence=1,
        language="en",
        channel="making_of",
        account="alice",
        duration=60,
        published_at=1_790_000_000,  # 2026-09
    )
    assert peertube_fields(video) == replace(VIDEO, tags=("Fediverse", "PeerTube"))
    # url and duration are not features; unset names and time are not tokens
    moved = replace(video, url="https://b.example/w/2", duration=3600)
    np.testing.assert_array_equal(peertube_features([moved], 64), peertube_features([video], 64))
    bare = replace(video, channel="", account="", language=None, published_at=0)
    assert tokens(peertube_fields(bare)) == tokens(
        replace(
            VIDEO,
            channel=None,
            account=None,
            language=None,
            year=None,
            tags=("Fediverse", "PeerTube"),
        )
    )


def _problem(seed: int = 0) -> tuple[np.ndarray, np.ndarray, float]:
    rng = np.random.default_rng(seed)
    return rng.random((30, 8)), rng.normal(size=(30, 3)), 0.5


def test_map_gradient_matches_finite_differences() -> None:
    features, rows, lam = _problem()
    point = np.random.default_rng(1).normal(size=(8, 3))
    analytic = map_gradient(features, rows, point, lam=lam)
    numeric = np.zeros_like(point)
    eps = 1e-6
    for index in np.ndindex(point.shape):
        step = np.zeros_like(point)
        step[index] = eps
        up = map_objective(features, rows, point + step, lam=lam)
        down = map_objective(features, rows, point - step, lam=lam)
        numeric[index] = (up - down) / (2 * eps)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-6)


def test_fitted_map_is_the_minimiser() -> None:
    features, rows, lam = _problem()
    fitted = fit_content_map(features, rows, lam=lam)
    np.testing.assert_allclose(map_gradient(features, rows, fitted, lam=lam), 0.0, atol=1e-9)
    best = map_objective(features, rows, fitted, lam=lam)
    for seed in range(5):
        nudge = np.random.default_rng(seed).normal(scale=1e-3, size=fitted.shape)
        assert map_objective(features, rows, fitted + nudge, lam=lam) > best


def test_rows_without_signal_get_their_content_row_only() -> None:
    features, rows, lam = _problem()
    signal = np.arange(30) < 20
    out, fitted = with_content_rows(rows, features, signal, lam=lam)
    np.testing.assert_array_equal(out[:20], rows[:20])
    np.testing.assert_allclose(out[20:], content_rows(features[20:], fitted))
    np.testing.assert_allclose(fitted, fit_content_map(features[:20], rows[:20], lam=lam))
    with pytest.raises(ValueError, match="columns"):
        content_rows(features[:, :4], fitted)


def test_new_video_rows_are_the_content_rows_of_their_features() -> None:
    video = CatalogueVideo("u", "Title", ("a",), None, None, None, "", "", 0, 0)
    content_map = np.random.default_rng(0).normal(size=(32, 4))
    rows = new_video_rows([video, video], content_map)
    assert rows.shape == (2, 4)
    np.testing.assert_allclose(rows[0], peertube_features([video], 32)[0] @ content_map)
