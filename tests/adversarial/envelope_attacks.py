"""A launcher that relays envelopes its own header check would turn away, and that holds
a round's results to have restarted members compute it again (``pass-envelopes``).

The honest launcher reads each sealed envelope's public header at upload and refuses one
that names another contributor or round than its upload
(:func:`launch.admission.check_sealed_headers`): a contributor claiming another's slot, or
replaying an envelope of an earlier round, never reaches a member. This attack runs that
check and, when it refuses, records why (``learned["let_through"]``: round, contributor,
why) and relays the upload anyway, so that what stops such an envelope is the members' own
check.

Once the file :data:`HOLD_TRIGGER` exists beside ``federation.yaml``, it keeps the first
round whose result then arrives computing: every member's first ok result of that round
is taken and recorded (``learned["held"]``: round, member, model hash) but not stored, so
the round waits for results and a restarted member is handed its envelopes again (the
replay a member's persisted registry refuses). A later ok result of that round from a
member already held is stored and recorded (``learned["second"]``): the second result
over the same inputs the replay would give the launcher. Everything else is the real
launcher.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import launch.admission
import launch.launcher
from mpcrec.federation.refusals import InvalidMessage
from tests.adversarial.hooks import Attack

_REAL_HEADER_CHECK = launch.admission.check_sealed_headers
_REAL_SUBMIT_RESULT = launch.launcher.Launcher.submit_result
#: The file (beside ``federation.yaml``) that starts the hold of one round's results.
HOLD_TRIGGER = "hold-results"


class PassEnvelopes(Attack):
    """The real launcher without its refusal of envelopes claiming another slot or round."""

    name = "pass-envelopes"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.trigger = Path()
        self.held_round: int | None = None
        self.held: set[str] = set()
        self.lock = threading.Lock()  # results arrive on several gRPC threads

    def setup(self, config: Path) -> None:
        super().setup(config)
        self.trigger = config.parent / HOLD_TRIGGER
        launch.admission.check_sealed_headers = self.check_sealed_headers
        attack = self

        def submit_result(launcher: Any, result: Any) -> None:
            if not attack.hold(result):
                _REAL_SUBMIT_RESULT(launcher, result)

        launch.launcher.Launcher.submit_result = submit_result  # type: ignore[method-assign,assignment]

    def hold(self, result: Any) -> bool:
        """Whether to take ``result`` without storing it (see the module docstring)."""
        with self.lock:
            return self._hold(result)

    def _hold(self, result: Any) -> bool:
        if not result.ok:
            return False
        if self.held_round is None and self.trigger.exists():
            self.held_round = result.round_id
        if result.round_id != self.held_round:
            return False
        item = {"round": result.round_id, "member": result.member, "hash": result.model_hash.hex()}
        if result.member in self.held:
            self.learned.add("second", item)
            return False
        self.held.add(result.member)
        self.learned.add("held", item)
        return True

    def check_sealed_headers(self, upload: Any, bound: Any = None) -> None:
        """The real check; what it refuses is recorded and let through."""
        try:
            _REAL_HEADER_CHECK(upload, bound)
        except InvalidMessage as err:
            why = {"round": upload.round_id, "contributor": upload.contributor, "why": str(err)}
            self.learned.add("let_through", why)

    def upload_attempt(self, launcher: Any, upload: Any) -> None:
        self.learned.add("uploads", [upload.round_id, upload.contributor])


def envelope_attacks() -> dict[str, type[Attack]]:
    """The attacks of this module by name (registered in :data:`attacks.ATTACKS`)."""
    return {PassEnvelopes.name: PassEnvelopes}
