"""New catalogue rows start at their content embedding: an :class:`InitialRows` rule.

When the catalogue grows, every party pads the base model with the new rows' initial values
(:func:`mpcrec.model.catalogue_rows.grow_rows`) and must get the *same bits*: the launcher
checks uploads against the grown shape, every node trains from it, and the published model
is the grown base plus the aggregate. :class:`ContentRows` gives a new video the row
``f W`` (:mod:`mpcrec.model.content`): ``f`` its hashed bag of public metadata features
(tags, title words, category, language, licence, channel, account, year), and ``W`` the
ridge map from features to rows refitted on the base model's live rows (``min ||F_live W -
V_live||^2 + lam ||W||^2``). The published model ``V`` and the catalogue's metadata are
public, so anyone recomputes ``W``: the rule costs no privacy and needs no secure payload.

**Bit for bit.** A BLAS product or LAPACK solve is not reproducible across processes:
OpenBLAS splits reductions by thread count and picks kernels by CPU, so a launcher on 8
threads and a node on 1 could disagree in the last bit. This rule uses no BLAS:

- ``F`` is sparse (a few tokens per video) and exact: token counts are small integers, so
  their squared norm is exact in any order and each value ``c / sqrt(n)`` is one IEEE
  operation (the same values as :func:`~mpcrec.model.content.featurise`);
- products ``F X`` and ``F^T Y`` are scatter-adds (:func:`numpy.add.at`) in the fixed order
  of the non-zeros (row-major, columns ascending): elementwise IEEE operations in a fixed
  sequence;
- inner products are :func:`math.fsum` (correctly rounded: independent of the order and of
  the machine);
- the ridge system ``(F^T F + lam I) W = F^T V`` is solved by :data:`CG_STEPS` steps of
  conjugate gradients from ``W = 0``, one per column (a fixed number of steps, no
  tolerance test whose outcome could depend on a last bit).

**Calibrated** (``calibrate=True``, the runtime's rule: :class:`CatalogueContentRows`).
Ridge regression shrinks its predictions toward the mean, the more so the less the features
explain the rows: after a few DP rounds the live rows are still mostly their random start,
and ``f W`` came out at norm ~0.05 against ~0.6 for a live row, so a new video never
reached a top 10 on its score (docs/benchmarks/demo.md). The calibrated rule multiplies
the new rows by one scalar, :func:`calibration_scale`: the live rows' root-mean-square norm
over the new rows', so the new rows have the live rows' typical norm, no more (a first
version matched the live rows' own fit instead, and gave the 1998 videos twice a live
row's norm: they filled 7.5 of every 10 slots). One scalar for all new rows: their order
for any user is ``f W``'s, and so is a ranking among the new videos only (the cold-start
benchmark's ``new`` column); only how they compare with the old videos changes. Its sums
are :func:`math.fsum` and its product one IEEE operation per element: bit for bit too.

``tests/model/test_content_initial.py`` checks the rows agree to the bit across processes
with different thread counts, and are within 1e-6 of the closed-form ridge fit;
``tests/model/test_content_calibration.py`` the same of the calibrated rule.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from mpcrec.data.catalogue import VideoRecord
from mpcrec.model.catalogue_rows import Matrix
from mpcrec.model.content import N_FEATURES, ContentFields, feature_column, tokens
from mpcrec.model.content_sources import peertube_fields

CG_STEPS = 64
LAM = 10.0  # the ridge step's penalty in the cold-start benchmark (ContentConfig.lam)
RUNTIME_CALIBRATED = True  # the launcher's and the nodes' rule (CatalogueContentRows)


@dataclass(frozen=True)
class SparseFeatures:
    """Feature rows as sorted non-zeros: row ``rows[k]``, column ``cols[k]``, ``values[k]``."""

    n_rows: int
    n_features: int
    rows: npt.NDArray[np.int64]
    cols: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]

    def take(self, keep: npt.NDArray[np.bool_]) -> SparseFeatures:
        """The rows where ``keep`` is true, renumbered ``0 .. keep.sum() - 1``."""
        renumber = np.cumsum(keep) - 1
        mask = keep[self.rows]
        return SparseFeatures(
            int(keep.sum()),
            self.n_features,
            renumber[self.rows[mask]],
            self.cols[mask],
            self.values[mask],
        )

    def dense(self) -> Matrix:
        """The ``(n_rows, n_features)`` matrix (for tests and small catalogues)."""
        out = np.zeros((self.n_rows, self.n_features), np.float64)
        out[self.rows, self.cols] = self.values
        return out


def sparse_features(
    videos: Sequence[ContentFields], n_features: int = N_FEATURES
) -> SparseFeatures:
    """The rows of :func:`~mpcrec.model.content.featurise`, as exact sparse non-zeros."""
    rows: list[int] = []
    cols: list[int] = []
    values: list[float] = []
    for k, video in enumerate(videos):
        counts: dict[int, int] = {}
        for token in tokens(video):
            column = feature_column(token, n_features)
            counts[column] = counts.get(column, 0) + 1
        norm = math.sqrt(sum(c * c for c in counts.values()))  # an exact integer inside
        for column in sorted(counts):
            rows.append(k)
            cols.append(column)
            values.append(counts[column] / norm)
    return SparseFeatures(
        len(videos),
        n_features,
        np.asarray(rows, np.int64),
        np.asarray(cols, np.int64),
        np.asarray(values, np.float64),
    )


def times(features: SparseFeatures, right: Matrix) -> Matrix:
    """``F @ right`` by scatter-adds in the non-zeros' order."""
    out = np.zeros((features.n_rows, right.shape[1]), np.float64)
    np.add.at(out, features.rows, features.values[:, None] * right[features.cols])
    return out


def transpose_times(features: SparseFeatures, right: Matrix) -> Matrix:
    """``F.T @ right`` by scatter-adds in the non-zeros' order."""
    out = np.zeros((features.n_features, right.shape[1]), np.float64)
    np.add.at(out, features.cols, features.values[:, None] * right[features.rows])
    return out


def _column_dots(a: Matrix, b: Matrix) -> npt.NDArray[np.float64]:
    """``sum_i a[i, j] * b[i, j]`` per column ``j``, correctly rounded (:func:`math.fsum`)."""
    products = a * b
    return np.array([math.fsum(products[:, j]) for j in range(a.shape[1])], np.float64)


def ridge_map(features: SparseFeatures, targets: Matrix, *, lam: float, steps: int) -> Matrix:
    """``W`` of ``(F^T F + lam I) W = F^T targets``: ``steps`` of conjugate gradients from 0.

    Every column has its own step sizes; a column whose residual is exactly zero stops.
    """
    if lam <= 0:
        raise ValueError(f"lam must be positive, not {lam}")

    def system(w: Matrix) -> Matrix:
        return transpose_times(features, times(features, w)) + lam * w

    solution = np.zeros((features.n_features, targets.shape[1]), np.float64)
    residual = transpose_times(features, targets)
    direction = residual.copy()
    rr = _column_dots(residual, residual)
    for _ in range(steps):
        moved = system(direction)
        curvature = _column_dots(direction, moved)
        alpha = np.divide(rr, curvature, out=np.zeros_like(rr), where=curvature > 0)
        solution = solution + direction * alpha
        residual = residual - moved * alpha
        new_rr = _column_dots(residual, residual)
        beta = np.divide(new_rr, rr, out=np.zeros_like(rr), where=rr > 0)
        direction = residual + direction * beta
        rr = new_rr
    return solution


def calibration_scale(live: Matrix, rows: Matrix) -> float:
    """The one factor that gives ``rows`` the root-mean-square norm of ``live``:
    ``sqrt((sum ||live_i||^2 / n_live) / (sum ||rows_j||^2 / n_rows))``, sums correctly
    rounded (1.0 if either is empty or ``rows`` are all zero).

    Parameters
    ----------
    live:
        The live rows the map was fitted to, ``(n_live, dim)``.
    rows:
        The new rows ``F_new W``, ``(n_rows, dim)``.
    """
    if live.shape[1:] != rows.shape[1:]:
        raise ValueError(f"live rows {live.shape} and new rows {rows.shape} differ in width")
    wanted = math.fsum(np.ravel(live * live))
    have = math.fsum(np.ravel(rows * rows))
    if not live.shape[0] or not rows.shape[0] or have <= 0 or wanted <= 0:
        return 1.0
    return math.sqrt((wanted / live.shape[0]) / (have / rows.shape[0]))


@dataclass(frozen=True)
class ContentRows:
    """The :class:`~mpcrec.model.catalogue_rows.InitialRows` rule: new row = ``f W``.

    Parameters
    ----------
    features:
        Feature rows of the whole catalogue as far as the model grows (row ``k`` = video
        ``k``), from public metadata only (:func:`catalogue_features`).
    lam:
        The ridge penalty.
    steps:
        Conjugate-gradient steps of the fit.
    calibrate:
        Multiply the new rows by :func:`calibration_scale` of the live rows and their fit
        (module docstring; the runtime's rule).
    """

    features: SparseFeatures
    lam: float = LAM
    steps: int = CG_STEPS
    calibrate: bool = False

    def __call__(self, base: Matrix, count: int, retired: Sequence[bool]) -> Matrix:
        have = base.shape[0]
        if have + count > self.features.n_rows:
            raise ValueError(
                f"features for {self.features.n_rows} rows, the model grows to {have + count}"
            )
        live = np.ones(have, np.bool_)
        flags = np.asarray(retired[:have], np.bool_)
        live[: len(flags)] &= ~flags
        base = np.asarray(base, np.float64)
        if not live.any():
            return np.zeros((count, base.shape[1]), np.float64)
        live_features = self.features.take(_padded(live, self.features.n_rows))
        content_map = ridge_map(live_features, base[live], lam=self.lam, steps=self.steps)
        new = np.zeros(self.features.n_rows, np.bool_)
        new[have : have + count] = True
        rows = times(self.features.take(new), content_map)
        return rows * calibration_scale(base[live], rows) if self.calibrate else rows


def _padded(mask: npt.NDArray[np.bool_], length: int) -> npt.NDArray[np.bool_]:
    out = np.zeros(length, np.bool_)
    out[: len(mask)] = mask
    return out


def catalogue_features(
    records: Sequence[VideoRecord], n_features: int = N_FEATURES
) -> SparseFeatures:
    """Feature rows of catalogue rows (a URL-only row has its bias feature alone)."""
    return sparse_features([peertube_fields(r) for r in records], n_features)


def content_rows_rule(
    records: Sequence[VideoRecord], *, lam: float = LAM, calibrate: bool = False
) -> ContentRows:
    """The content rule for a catalogue's rows (row ``k`` = ``records[k]``)."""
    return ContentRows(catalogue_features(records), lam=lam, calibrate=calibrate)


class RecordSource(Protocol):
    """A catalogue copy (the launcher's, a node's verified one)."""

    def records(self) -> Sequence[VideoRecord]:
        """Its rows' public metadata, in row order."""
        ...


class CatalogueContentRows:
    """:class:`ContentRows` over a catalogue that grows: ``source()`` is the catalogue (or
    ``None``: no rows); features are recomputed when it grew, and the last answer is reused
    for the same ``(base, count, retired)`` (the launcher and a member ask more than once).
    Calibrated by default (:data:`RUNTIME_CALIBRATED`): the launcher and every node must
    use the same rule, and they all build it with the defaults.
    """

    def __init__(
        self,
        source: Callable[[], RecordSource | None],
        *,
        lam: float = LAM,
        calibrate: bool = RUNTIME_CALIBRATED,
    ):
        self.source = source
        self.lam = lam
        self.calibrate = calibrate
        self._rule: ContentRows | None = None
        self._last: tuple[bytes, Matrix] | None = None

    def __call__(self, base: Matrix, count: int, retired: Sequence[bool]) -> Matrix:
        key = hashlib.sha256(np.ascontiguousarray(base, np.float64).tobytes())
        key.update(f"{count}:".encode() + np.asarray(retired, np.bool_).tobytes())
        if self._last is not None and self._last[0] == key.digest():
            return self._last[1].copy()
        if self._rule is None or self._rule.features.n_rows < base.shape[0] + count:
            catalogue = self.source()
            records = list(catalogue.records()) if catalogue is not None else []
            self._rule = content_rows_rule(records, lam=self.lam, calibrate=self.calibrate)
        rows = self._rule(base, count, retired)
        self._last = (key.digest(), rows)
        return rows.copy()
