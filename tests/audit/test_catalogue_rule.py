"""Rule ``catalogue``: versions chain and append; rounds name a signed version's rows."""

from __future__ import annotations

import dataclasses

import pytest

from mpcrec.audit import entries as E
from mpcrec.audit.catalogue_entry import catalogue_version
from mpcrec.audit.checks import check_catalogue
from mpcrec.audit.history import replay
from mpcrec.data.catalogue import CatalogueHeader, VideoRecord, make_diff


def _versions() -> list[CatalogueHeader]:
    first = make_diff(
        version=1, previous=bytes(32), first_row=0, retired_before=0,
        records=[VideoRecord(f"https://a/v/{k}") for k in range(3)], new_retired=[],
    ).header  # fmt: skip
    second = make_diff(
        version=2, previous=first.hash, first_row=3, retired_before=0,
        records=[VideoRecord("https://a/v/3")], new_retired=[1],
    ).header  # fmt: skip
    return [first, second]


def _log(headers: list[CatalogueHeader], rounds: list[tuple[int, int] | None]) -> list[E.LogEntry]:
    out = [catalogue_version(from_round=0, header=headers[0])]
    for r, named in enumerate(rounds):
        if r == 1:
            out += [catalogue_version(from_round=1, header=h) for h in headers[1:]]
        extra = {} if named is None else {"catalogue_version": named[0], "rows": named[1]}
        opened = E.round_open(round_id=r, model_version=r, participants=[])
        out.append(dataclasses.replace(opened, payload={**opened.payload, **extra}))
        out.append(E.abort(round_id=r, reason="test"))
    if len(rounds) < 2:
        out += [catalogue_version(from_round=len(rounds), header=h) for h in headers[1:]]
    return [e.at(i) for i, e in enumerate(out)]


def _findings(log: list[E.LogEntry]) -> list[str]:
    history, order = replay(log)
    assert [f for f in order if f.rule == "format"] == []
    return [f"{f.index}: {f.message}" for f in check_catalogue(history)]


def test_an_honest_chain_and_its_rounds_hold() -> None:
    assert _findings(_log(_versions(), [(1, 3), (2, 4), (2, 4)])) == []
    assert _findings(_log(_versions(), [(1, 2), (2, 3)])) == []  # a model behind its catalogue


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        ("reorder", "follows version"),
        ("fork", "the chain forks"),
        ("shrink", "do not append"),
        ("rehash", "chain link"),
        ("unretire", "retired count"),
    ],
)
def test_a_version_that_does_not_extend_is_named(tamper: str, expected: str) -> None:
    first, second = _versions()
    if tamper == "reorder":
        headers = [second, first]
    elif tamper == "fork":
        headers = [first, dataclasses.replace(second, previous=bytes(32))]
    elif tamper == "shrink":
        headers = [first, dataclasses.replace(second, first_row=2)]
    elif tamper == "rehash":
        headers = [first, dataclasses.replace(second, rows=9)]
    else:
        headers = [first, dataclasses.replace(second, retired=0)]
    found = _findings(_log(headers, []))
    assert any(expected in f for f in found), found


@pytest.mark.parametrize(
    ("rounds", "expected"),
    [
        ([(1, 3), (2, 5)], "catalogue version 2 only 4"),
        ([(2, 4)], "was not signed before the round opened"),
        ([(1, 3), (2, 4), (1, 3)], "goes back"),
        ([(1, 3), None], "names no catalogue version"),
        ([(1, 3), (7, 4)], "was not signed"),
    ],
)
def test_model_rows_that_trace_to_no_signed_version_are_named(
    rounds: list[tuple[int, int] | None], expected: str
) -> None:
    found = _findings(_log(_versions(), rounds))
    assert any(expected in f for f in found), found
