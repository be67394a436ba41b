"""The catalogue: append-only rows, hash-chained versions, the merge and the node's index."""

from __future__ import annotations

import dataclasses

import pytest

from mpcrec.data.catalogue import (
    CatalogueDiff,
    ChainTip,
    VideoRecord,
    check_extends,
    decode_diff,
    encode_diff,
    make_diff,
)
from mpcrec.data.catalogue_index import CatalogueIndex
from mpcrec.data.catalogue_merge import CatalogueBook, InstanceExport
from mpcrec.data.catalogue_store import CatalogueDir
from mpcrec.errors import DataError


def video(host: str, n: int, **kw: object) -> VideoRecord:
    return VideoRecord(
        url=f"https://{host}/videos/watch/{n:04d}", uuid=f"{n:036d}", name=f"v{n}", **kw
    )  # type: ignore[arg-type]


def two_versions() -> tuple[CatalogueBook, CatalogueDiff, CatalogueDiff]:
    book = CatalogueBook()
    a = InstanceExport(
        "a", (video("a", 1, tags=("x",)), video("a", 2)), ("https://z/videos/watch/9",)
    )
    b = InstanceExport("b", (video("b", 3),))
    first = book.merge([b, a])
    assert first is not None
    book.apply(first)
    # a deletes video 2 and publishes video 4; b sends nothing
    second = book.merge([InstanceExport("a", (video("a", 1), video("a", 4)))])
    assert second is not None
    book.apply(second)
    return book, first, second


def test_merge_appends_in_a_recomputable_order_and_retires_deleted_videos() -> None:
    book, first, second = two_versions()
    urls = [r.url for r in book.records]
    assert urls[:4] == [
        "https://a/videos/watch/0001",
        "https://a/videos/watch/0002",
        "https://b/videos/watch/0003",
        "https://z/videos/watch/9",
    ]
    assert book.records[3].instance == "" and book.records[0].instance == "a"
    assert urls[4] == "https://a/videos/watch/0004"
    assert second.header.new_retired == (1,)
    assert list(book.retired) == [0, 1, 0, 0, 0]
    # the same exports give the same version, hash included
    again = CatalogueBook().merge(
        [
            InstanceExport(
                "a", (video("a", 2), video("a", 1, tags=("x",))), ("https://z/videos/watch/9",)
            ),
            InstanceExport("b", (video("b", 3),)),
        ]
    )
    assert again is not None and again.header.hash == first.header.hash
    assert book.merge([InstanceExport("b", (video("b", 3),))]) is None  # nothing new


def test_silence_retires_nothing_and_a_retired_row_stays_retired() -> None:
    book, _, _ = two_versions()
    assert book.merge([]) is None
    back = book.merge([InstanceExport("a", (video("a", 1), video("a", 2), video("a", 4)))])
    assert back is None  # video 2 is public again: its row exists, retired; nothing changes


def test_each_version_chains_from_the_previous_hash() -> None:
    _, first, second = two_versions()
    assert second.header.previous == first.header.hash
    tip = check_extends(ChainTip(), first)
    tip = check_extends(tip, second)
    assert (tip.version, tip.rows, tip.retired) == (2, 5, 1)
    assert decode_diff(encode_diff(second)) == second


@pytest.mark.parametrize(
    "tamper",
    [
        "reorder rows",
        "re-point a row",
        "drop a row",
        "skip a version",
        "retire a future row",
        "fork the chain",
    ],
)
def test_a_version_that_does_not_extend_is_refused(tamper: str) -> None:
    _, first, second = two_versions()
    tip = check_extends(ChainTip(), first)
    h = first.header
    if tamper == "reorder rows":
        bad = dataclasses.replace(first, lines=first.lines[::-1])
        tip, target = ChainTip(), bad
    elif tamper == "re-point a row":
        other = first.lines[0].replace(b"0001", b"0666")
        tip, target = ChainTip(), dataclasses.replace(first, lines=(other, *first.lines[1:]))
    elif tamper == "drop a row":
        tip, target = ChainTip(), dataclasses.replace(first, lines=first.lines[:-1])
    elif tamper == "skip a version":
        target = dataclasses.replace(second, header=dataclasses.replace(second.header, version=3))
    elif tamper == "retire a future row":
        target = make_diff(
            version=2,
            previous=h.hash,
            first_row=h.rows,
            retired_before=0,
            records=[],
            new_retired=[h.rows + 3],
        )
    else:  # a version 2 built on another version 1
        target = make_diff(
            version=2,
            previous=bytes(32),
            first_row=h.rows,
            retired_before=0,
            records=[video("c", 7)],
            new_retired=[],
        )
    with pytest.raises(DataError):
        check_extends(tip, target)


def test_a_tampered_row_with_recomputed_hashes_breaks_the_chain_at_the_next_version() -> None:
    _, first, second = two_versions()
    other = [video("a", 666), *list(first.records())[1:]]
    forged = make_diff(
        version=1, previous=bytes(32), first_row=0, retired_before=0, records=other, new_retired=[]
    )
    assert forged.header.hash != first.header.hash  # a node holding version 1 tells them apart
    with pytest.raises(DataError, match="previous hash"):
        check_extends(check_extends(ChainTip(), forged), second)


def test_store_and_index(tmp_path) -> None:  # type: ignore[no-untyped-def]
    _, first, second = two_versions()
    store = CatalogueDir(tmp_path / "catalogue")
    tip = store.append(first, ChainTip())
    tip = store.append(second, tip)
    assert store.latest() == 2 and store.tip() == tip
    with pytest.raises(DataError):
        store.append(second, tip)
    index = CatalogueIndex.replay(store.diffs())
    assert len(index) == 5 and index.tip == tip
    assert index.row("https://a/videos/watch/0004") == 4
    assert index.row("https://nowhere/x") is None
    assert index.url(2) == "https://b/videos/watch/0003" and index.uuid(3) == ""
    assert index.uuid(0) == f"{1:036d}"
    assert index.retired.tolist() == [False, True, False, False, False]
    loaded = CatalogueIndex.load(tmp_path / "catalogue")  # streamed from the files
    assert loaded.tip == tip and loaded.urls() == index.urls()
    assert loaded.retired.tolist() == index.retired.tolist() and loaded.row(index.url(3)) == 3
    partial = CatalogueIndex.replay(store.diffs())
    with pytest.raises(DataError):
        partial.apply(first)  # applied twice
    assert partial.urls() == index.urls() and partial.uuid(4) == index.uuid(4)  # rolled back
