"""Which accountant a log's ε is recomputed with (for ``budget`` and ``user_budget``).

The launcher names it in every config entry (``accountant``): ``"gdp"`` when its rounds have
sample rate 1 (the exact curve, :mod:`mpcrec.privacy.gdp`), ``"rdp"`` otherwise. A log
written before the field existed names none: its launcher accounted by RDP, so the auditor
does too and recomputes the very figure that launcher stopped at (RDP is an upper bound of
the exact curve, so such a log never verifies worse for it).

The auditor takes the accountant named by the config in force for the LAST revealed round
(the launcher accounts the whole sequence with the accountant of the moment: a launcher that
resumed an older log names ``gdp`` from then on, and ``gdp`` is exact for all of it as long
as every round had sample rate 1). It never trusts the name: ``gdp`` over a log in which a
revealed round signed a sample rate below 1 is a finding and ε is recomputed by RDP;
an unknown name is a finding too.
"""

from __future__ import annotations

from collections.abc import Sequence

from mpcrec.audit.history import Finding, RoundRecord
from mpcrec.privacy.accountant import ACCOUNTANTS, GDP, RDP
from mpcrec.privacy.budget import Mechanism


def logged_accountant(
    rule: str, revealed: Sequence[RoundRecord], mechanisms: Sequence[Mechanism]
) -> tuple[str, list[Finding]]:
    """The accountant for ``mechanisms`` (one per record of ``revealed``) and the findings
    of ``rule`` when the log names one that does not apply (module docstring)."""
    if not revealed:
        return RDP, []
    last = revealed[-1]
    named = last.setting("accountant", RDP)
    at = last.config.index if last.config is not None else None
    if named not in ACCOUNTANTS:
        why = f"the config names an unknown accountant {named!r} (known: {', '.join(ACCOUNTANTS)})"
        return RDP, [Finding(rule, at, why)]
    if named == GDP:
        for record, (_, rate) in zip(revealed, mechanisms, strict=True):
            if rate != 1.0:
                why = (
                    f"the config names the exact Gaussian accountant (gdp), but round "
                    f"{record.round_id} signed sample rate {rate:g}: gdp holds at sample "
                    "rate 1 only (epsilon recomputed by RDP)"
                )
                return RDP, [Finding(rule, at, why)]
    return str(named), []
