"""Party processes that write down their inputs too, for the coalition test: the curious
member's recorders (:mod:`tests.adversarial.curious_view`: what the dealer sent, every
opening) and, before each round, the member's own input shares (``inputs-<rank>.npz``,
``share_<i>`` for contribution ``i``) in the ``MPCREC_TEST_VIEW_DIR`` directory."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from committees.party import CommitteeParty, party_main
from mpcrec.crypten_compat import load_crypten
from tests.adversarial import curious_view
from tests.adversarial.curious_view import VIEW_DIR_ENV


def _record_inputs(out: Path) -> None:
    original_run = CommitteeParty.run

    def run(self: CommitteeParty, spec: Any, inputs: Any) -> Any:
        assert self.session is not None
        shares: dict[str, Any] = {
            f"share_{i}": np.asarray(s, dtype=np.int64) for i, s in enumerate(inputs)
        }
        np.savez(out / f"inputs-{self.session.rank}.npz", **shares)
        return original_run(self, spec, inputs)

    CommitteeParty.run = run  # type: ignore[method-assign]


def coalition_party_main(conn: Any) -> None:
    """:func:`committees.party.party_main`, recording this party's whole view."""
    load_crypten()
    out = Path(os.environ[VIEW_DIR_ENV])
    curious_view._record(out)
    _record_inputs(out)
    party_main(conn)
