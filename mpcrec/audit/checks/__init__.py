"""The auditor's checks: pure functions over entries (or their replayed history).

Each returns a list of :class:`~mpcrec.audit.history.Finding`, empty when its rule holds;
every finding names the entry (log index) and the rule it breaks. No I/O anywhere: the
verifier (:mod:`mpcrec.audit.verify`) parses, runs them all and reports.

Rules: ``sequence`` (indices), ``signature``, ``key`` (pinned keys), ``tree`` and ``fork``
(Merkle heads), ``order`` (round protocol), ``participants`` (nobody registered left
out), ``reveal`` and ``seed`` (commit-reveal and beacon), ``beacon`` (a verified drand-format
beacon bound to each round), ``post_draw_abort`` (aborts after a draw the log does not
explain), ``committee``, ``cooldown``, ``dealer``, ``provider`` (no TFP), ``contribution``,
``member_signatures``, ``min_contributors``, ``model_hash``, ``version``, ``budget`` (every
revealed round, published or not), ``params`` (every contribution and result signs the round
parameters of the config in force), ``weights`` (members used the contributors' signed
weights), ``heads`` (nodes' cosigned heads match the log, from enough distinct nodes),
``head_time`` (head times grow; the latest is recent enough), ``user_budget`` (user-level
ε of every revealed round of a ``privacy_unit: user`` run, recomputed from the signed ``z``
and ``q``, each round's ``z`` the parameters' one for it (a ``dpals`` count release's
``count_noise_multiplier``), within the declared budget, the mechanism unchanged mid-run;
every config entry's count release and statistics multipliers the exact split of its
declared budget, revealed rounds or not);
``budget`` and
``user_budget`` recompute ε with the accountant the config names (``gdp``: exact, every round
at sample rate 1; ``rdp``, and for logs that name none) and name a ``gdp`` claimed over a
subsampled round (:mod:`~mpcrec.audit.checks.budget_accountant`).
``binding`` (registered keys bound to certificates of the federation CA; needs its
certificate). ``catalogue`` (every catalogue version extends the one before; every round's
model rows trace to a signed version).
"""

from __future__ import annotations

from mpcrec.audit.checks.bindings import check_bindings
from mpcrec.audit.checks.catalogue import check_catalogue, check_copy
from mpcrec.audit.checks.draws import check_committees, check_participants, check_seeds
from mpcrec.audit.checks.fairness import check_beacons, check_post_draw_aborts, draw_bias
from mpcrec.audit.checks.heads import check_head_times, check_witnesses
from mpcrec.audit.checks.integrity import (
    BatchVerifier,
    check_pinned_keys,
    check_sequence,
    check_signatures,
    check_tree,
    serial_verifier,
    signature_batch,
    signature_findings,
)
from mpcrec.audit.checks.params import check_params, check_weights
from mpcrec.audit.checks.rounds import check_budget, check_results, check_versions
from mpcrec.audit.checks.user_budget import check_user_budget

__all__ = [
    "BatchVerifier",
    "check_beacons",
    "check_bindings",
    "check_budget",
    "check_catalogue",
    "check_committees",
    "check_copy",
    "check_head_times",
    "check_params",
    "check_participants",
    "check_pinned_keys",
    "check_post_draw_aborts",
    "check_results",
    "check_seeds",
    "check_sequence",
    "check_signatures",
    "check_tree",
    "check_user_budget",
    "check_versions",
    "check_weights",
    "check_witnesses",
    "draw_bias",
    "serial_verifier",
    "signature_batch",
    "signature_findings",
]
