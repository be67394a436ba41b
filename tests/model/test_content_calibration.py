"""The calibrated content rule (mpcrec.model.content_initial, ``calibrate=True``, the
runtime's): new rows are ``f W`` times one scalar that gives them the live rows'
root-mean-square norm, the same bits in every process."""

from __future__ import annotations

import hashlib
import math

import numpy as np

from mpcrec.data.catalogue import VideoRecord
from mpcrec.model.catalogue_rows import grow_rows
from mpcrec.model.content import fit_content_map
from mpcrec.model.content_initial import (
    CatalogueContentRows,
    calibration_scale,
    catalogue_features,
    content_rows_rule,
)
from tests.determinism import digests_across_blas_threads
from tests.model.test_content_initial import records, scenario

KNOWN_DIGEST = "f443b7c37dd1f0a5ab655b409192832ec7156eedee687180d23ac8698a5c5cac"


def noisy_scenario(n_base: int = 120, dim: int = 8) -> tuple[np.ndarray, list[bool]]:
    """Rows that are mostly a random start (what a few DP rounds leave), a little genre."""
    base, retired = scenario(n_base, dim)
    rng = np.random.default_rng(7)
    return 0.05 * base + rng.normal(scale=0.6 / math.sqrt(dim), size=base.shape), retired


def calibrated_digest() -> str:
    """SHA-256 of the calibrated rule's 9 new rows on 600 rows of dimension 32."""
    base, retired = noisy_scenario(n_base=600, dim=32)
    grown = grow_rows(
        base, 609, retired=retired, initial=content_rows_rule(records(609), calibrate=True)
    )
    return hashlib.sha256(np.ascontiguousarray(grown).tobytes()).hexdigest()


def test_the_scale_is_the_ratio_of_root_mean_square_norms() -> None:
    live = np.array([[3.0, 4.0], [0.0, 5.0]])  # mean squared norm 25
    assert calibration_scale(live, np.array([[1.0, 0.0]])) == 5.0
    assert calibration_scale(live, np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0, 0]])) == 10.0
    assert calibration_scale(live, np.zeros((3, 2))) == 1.0
    assert calibration_scale(live, np.zeros((0, 2))) == 1.0


def test_calibrated_rows_are_the_ridge_rows_scaled_to_the_live_norm() -> None:
    base, retired = noisy_scenario()
    live = ~np.asarray(retired)
    videos = records(base.shape[0] + 40)
    plain = content_rows_rule(videos)(base, 40, retired)
    calibrated = content_rows_rule(videos, calibrate=True)(base, 40, retired)
    # the closed form: W on the live rows, the new rows scaled to the live RMS norm
    dense = catalogue_features(videos).dense()
    closed = fit_content_map(dense[: base.shape[0]][live], base[live], lam=10.0)
    expected = dense[base.shape[0] :] @ closed
    scale = math.sqrt(np.mean(np.sum(base[live] ** 2, 1)) / np.mean(np.sum(expected**2, 1)))
    assert np.abs(calibrated - scale * expected).max() < 1e-6 * scale
    # one scalar: the same order of the new rows for every user
    ratio = calibrated / plain
    assert np.allclose(ratio, ratio.flat[0], rtol=0, atol=1e-12)
    # ridge shrinks on rows content explains little: the plain rows are far shorter than the
    # live ones; the calibrated ones have their root-mean-square norm
    live_norm = np.sqrt(np.mean(np.sum(base[live] ** 2, axis=1)))
    plain_norm = np.sqrt(np.mean(np.sum(plain**2, axis=1)))
    new_norm = np.sqrt(np.mean(np.sum(calibrated**2, axis=1)))
    assert plain_norm < 0.3 * live_norm
    assert abs(new_norm - live_norm) < 1e-9 * live_norm


def test_the_runtime_rule_is_calibrated() -> None:
    """The launcher and every node build :class:`CatalogueContentRows` with the defaults."""
    base, retired = noisy_scenario()
    videos = records(base.shape[0] + 5)

    class Copy:
        def records(self) -> list[VideoRecord]:
            return videos

    runtime = CatalogueContentRows(lambda: Copy())(base, 5, retired)
    expected = content_rows_rule(videos, calibrate=True)(base, 5, retired)
    assert runtime.tobytes() == expected.tobytes()


def test_every_process_computes_the_same_calibrated_bits() -> None:
    """As the plain rule's test (test_content_initial): 1 and 2 BLAS threads, one digest,
    and the digest computed here (the scale is fsum sums and one IEEE sqrt)."""
    here = calibrated_digest()
    seen = digests_across_blas_threads("tests.model.test_content_calibration", "calibrated_digest")
    assert seen == {here}
    assert here == KNOWN_DIGEST
