"""MovieLens 100k (Harper & Konstan 2015), as shipped inside the ``recbole==1.2.1`` wheel.

GroupLens' terms forbid redistributing the data, so mpcrec never commits it: the first use
runs ``pip download --no-deps recbole==1.2.1`` into a temporary directory, takes the three
atomic files out of the wheel, checks their SHA-256 against the digests below and moves
them into the cache (``<cache>/ml-100k/``), each atomically. Later uses read the cache
and work offline. A cached file whose digest no longer matches is reported, never used.

Every rating counts as one positive implicit interaction (weight 1.0); the item file gives
titles, release years (the "publication time" of :class:`ItemMeta`) and genres (its
tags), the user file gives zip codes (the attribute used for non-IID partitioning).

F. Maxwell Harper and Joseph A. Konstan. 2015. The MovieLens Datasets: History and
Context. ACM Transactions on Interactive Intelligent Systems 5, 4, Article 19.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

from mpcrec.data.cache import ENV_VAR, cache_root, ensure_dir, sha256_hex
from mpcrec.data.interactions import Interactions, ItemMeta
from mpcrec.errors import DataError
from mpcrec.files import write_atomic

WHEEL = "recbole==1.2.1"
WHEEL_DIR = "recbole/dataset_example/ml-100k"
FILES: dict[str, str] = {
    "ml-100k.inter": "4edb74e2a81178c2ba9ff381495f754f996c4aea351b1272ca36b43da0935eff",
    "ml-100k.item": "51d7cdf777ce5c0f5b32c1d947a4a81fe07d75e78abbe761e0cd4d0756064532",
    "ml-100k.user": "4f670007d9cfbeb9807e757209af1555b9bcc186bde25e767f67cb67c6dd5972",
}
UNKNOWN_YEAR = 1900.0  # publication "year" of the few items without a release year


def dataset_dir() -> Path:
    """Directory of the cached ML-100k files (may not exist yet)."""
    return cache_root() / "ml-100k"


def fetch_movielens_100k(*, timeout: float = 120.0) -> Path:
    """Make sure the three ML-100k files are cached and intact; return their directory.

    Raises
    ------
    DataError
        If the cache is unwritable, a cached file is corrupted, the download fails, or the
        wheel's files do not have the expected digests.
    """
    target = dataset_dir()
    missing = [name for name in FILES if not (target / name).is_file()]
    for name in FILES:
        if name not in missing:
            _verify(target / name, FILES[name], cached=True)
    if not missing:
        return target
    ensure_dir(target)
    with tempfile.TemporaryDirectory(prefix="mpcrec-wheel-") as tmp:
        wheel = _download_wheel(Path(tmp), timeout=timeout)
        contents = _read_from_wheel(wheel)
    for name in missing:
        write_atomic(
            target / name,
            contents[name],
            hint=f"set {ENV_VAR} to a writable directory with free space",
        )
    return target


def load_movielens_100k(*, timeout: float = 120.0) -> Interactions:
    """Fetch (if needed) and parse ML-100k: 943 users, 1,682 items, 100,000 interactions."""
    folder = fetch_movielens_100k(timeout=timeout)
    item_meta = _parse_items(folder / "ml-100k.item")
    zips = _parse_users(folder / "ml-100k.user")
    users: list[str] = []
    items: list[str] = []
    times: list[float] = []
    path = folder / "ml-100k.inter"
    for lineno, fields in _rows(path, 4):
        users.append(fields[0])
        items.append(fields[1])
        times.append(_number(path, lineno, fields[3], "timestamp"))
    unknown = set(items) - item_meta.keys()
    if unknown:
        raise DataError(f"{path}: items {sorted(unknown)[:5]} missing from ml-100k.item")
    return Interactions.from_columns(
        users,
        items,
        times,
        catalogue=list(item_meta),
        user_attribute={u: zips.get(u, "") for u in set(users)},
        item_meta=item_meta,
    )


def _verify(path: Path, digest: str, *, cached: bool) -> None:
    actual = sha256_hex(path.read_bytes())
    if actual != digest:
        where = "cached file" if cached else "file"
        raise DataError(
            f"{where} {path} is corrupted (sha256 {actual[:16]}..., expected {digest[:16]}...)",
            hint=f"delete {path.parent} and run again to fetch it afresh",
        )


def _download_wheel(folder: Path, *, timeout: float) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", WHEEL]
    try:
        done = subprocess.run(
            [*cmd, "-d", str(folder)], capture_output=True, text=True, timeout=timeout
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        raise DataError(
            f"could not run pip to download {WHEEL}: {err}",
            hint="check the network, or copy a cache made elsewhere into MPCREC_CACHE",
        ) from err
    wheels = sorted(folder.glob("recbole-*.whl"))
    if done.returncode != 0 or not wheels:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise DataError(
            f"pip download {WHEEL} failed: {last}",
            hint="check the network, or copy a cache made elsewhere into MPCREC_CACHE",
        )
    return wheels[0]


def _read_from_wheel(wheel: Path) -> dict[str, bytes]:
    contents: dict[str, bytes] = {}
    try:
        with zipfile.ZipFile(wheel) as archive:
            for name, digest in FILES.items():
                data = archive.read(f"{WHEEL_DIR}/{name}")
                if sha256_hex(data) != digest:
                    raise DataError(
                        f"{name} inside {wheel.name} has an unexpected SHA-256",
                        hint="the package index served a different file; report it",
                    )
                contents[name] = data
    except (zipfile.BadZipFile, KeyError) as err:
        raise DataError(f"{wheel.name} is not the expected recbole wheel: {err}") from err
    return contents


def _rows(path: Path, n_fields: int) -> Iterator[tuple[int, list[str]]]:
    """Tab-separated data rows after the header, as (1-based line number, fields), read one
    line at a time (a node's resident memory keeps the peak of its start-up)."""
    with path.open(encoding="latin-1", newline="") as lines:
        next(lines, None)
        for lineno, line in enumerate(lines, start=2):
            if not line.strip():
                continue
            fields = line.rstrip("\r\n").split("\t")
            if len(fields) < n_fields:
                raise DataError(f"{path}:{lineno}: expected {n_fields} fields, got {len(fields)}")
            yield lineno, fields


def _number(path: Path, lineno: int, value: str, what: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise DataError(f"{path}:{lineno}: {what} {value!r} is not a number") from None


def _parse_items(path: Path) -> dict[str, ItemMeta]:
    meta: dict[str, ItemMeta] = {}
    for _lineno, fields in _rows(path, 4):
        year = fields[2].strip()
        meta[fields[0]] = ItemMeta(
            title=fields[1],
            tags=tuple(fields[3].split()),
            published=float(year) if year.isdecimal() else UNKNOWN_YEAR,
        )
    return meta


def _parse_users(path: Path) -> dict[str, str]:
    return {fields[0]: fields[4].strip() for _lineno, fields in _rows(path, 5)}
