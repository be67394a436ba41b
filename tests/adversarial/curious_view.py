"""Party processes that write down what they see, for the curious-member test.

:func:`curious_party_main` is :func:`committees.party.party_main` with three recorders:

* every tensor this party receives from the dealer during CrypTen's TTP set-up (its own
  seed or key: a secret of this member, known to it by design);
* every ``(N, D)`` result of ``all_reduce`` (public openings such as Beaver's ``x - r``);
* in the dealer only, the seed of torch's default generator (``torch.initial_seed()``),
  from which the test hands the attacker some high bits to shorten its search.

After each round a member writes ``member-<rank>.npz`` (``dealer_words``, ``opening_<i>``) and
the dealer writes ``dealer-seed.txt`` when it starts serving, in the directory named by the
``MPCREC_TEST_VIEW_DIR`` environment variable (inherited by the spawned processes).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from committees.party import CommitteeParty, party_main
from committees.transport.communicator import TlsCommunicator
from committees.transport.ttp_setup import TtpSetupCalls
from mpcrec.crypten_compat import load_crypten

VIEW_DIR_ENV = "MPCREC_TEST_VIEW_DIR"

_from_dealer: list[torch.Tensor] = []
_openings: list[torch.Tensor] = []


def _record(out: Path) -> None:
    original_irecv = TtpSetupCalls.irecv
    original_all_reduce = TlsCommunicator.all_reduce
    original_run = CommitteeParty.run
    original_dealer = CommitteeParty.serve_dealer

    def irecv(self: Any, tensor: torch.Tensor, src: int, group: Any = None) -> Any:
        _from_dealer.append(tensor)  # filled in place when the receive is waited on
        return original_irecv(self, tensor, src, group)

    def all_reduce(self: Any, input: Any, *args: Any, **kwargs: Any) -> Any:
        result = original_all_reduce(self, input, *args, **kwargs)
        if isinstance(result, torch.Tensor) and result.dim() == 2:
            _openings.append(result.clone())
        return result

    def run(self: CommitteeParty, *args: Any, **kwargs: Any) -> Any:
        outcome = original_run(self, *args, **kwargs)
        assert self.session is not None
        np.savez(
            out / f"member-{self.session.rank}.npz",
            dealer_words=torch.cat([t.reshape(-1) for t in _from_dealer]).numpy(),
            **{f"opening_{i}": t.numpy() for i, t in enumerate(_openings)},
        )
        return outcome

    def serve_dealer(self: CommitteeParty, session: Any) -> None:
        (out / "dealer-seed.txt").write_text(str(torch.initial_seed()))
        original_dealer(self, session)

    TtpSetupCalls.irecv = irecv  # type: ignore[method-assign]
    TlsCommunicator.all_reduce = all_reduce  # type: ignore[method-assign]
    CommitteeParty.run = run  # type: ignore[method-assign]
    CommitteeParty.serve_dealer = serve_dealer  # type: ignore[method-assign]


def curious_party_main(conn: Any) -> None:
    """:func:`committees.party.party_main`, recording this party's view."""
    load_crypten()
    _record(Path(os.environ[VIEW_DIR_ENV]))
    party_main(conn)
