"""The load generator's instances follow the newest model as a serving node does
(mpcrec.bench.federation_load, ``follow_models``): each model fetched once, when an
announcement first names it, not in ``collecting``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mpcrec.bench.federation_load import Crowd, Instance
from mpcrec.federation.announcement import Phase, RoundAnnouncement
from mpcrec.federation.published_model import PublishedModel
from mpcrec.proto import convert, convert_rounds


class _Stub:
    """A launcher that sends ``announcements`` on one watch and serves any model."""

    def __init__(self, announcements: list[RoundAnnouncement]) -> None:
        self.announcements = announcements
        self.fetched: list[int] = []

    async def WatchRounds(self, _request: Any) -> AsyncIterator[Any]:
        for ann in self.announcements:
            yield convert_rounds.announcement_to_pb(ann)

    async def GetModel(self, request: Any) -> AsyncIterator[Any]:
        self.fetched.append(request.version)
        model = PublishedModel.from_array(request.version, np.zeros((4, 2)))
        for chunk in convert.model_chunks(model, shared_result=request.shared_result):
            yield chunk


def _rounds() -> list[RoundAnnouncement]:
    others = ("bench-other-0", "bench-other-1", "bench-other-2")  # this instance only watches
    return [
        RoundAnnouncement(1, 0, Phase.OPEN, participants=others),
        RoundAnnouncement(1, 0, Phase.REVEALING, participants=others),
        RoundAnnouncement(1, 0, Phase.PUBLISHED, participants=others, published_version=1),
        RoundAnnouncement(2, 1, Phase.OPEN, participants=others),
        RoundAnnouncement(2, 1, Phase.PUBLISHED, participants=others, published_version=2),
    ]


@pytest.mark.parametrize(("follow", "fetched"), [(True, [0, 1]), (False, [])])
def test_each_model_is_fetched_once_when_first_announced(
    tmp_path: Path, follow: bool, fetched: list[int]
) -> None:
    crowd = Crowd({"pki": str(tmp_path), "rounds": 2, "follow_models": follow})
    instance = Instance("bench-0000", crowd)
    instance.stub = stub = _Stub(_rounds())

    async def watched() -> tuple[bool, list[PublishedModel]]:
        finished = await instance._watch()  # the fetches run beside, in tasks
        return finished, list(await asyncio.gather(*instance.models.values()))

    finished, kept = asyncio.run(watched())

    assert finished  # the plan's last model was announced
    assert stub.fetched == fetched  # v0 at round 1's open, v1 at its end; v2 not (the end)
    assert crowd.errors == []
    assert [m.version for m in kept] == fetched  # kept: the newest two
