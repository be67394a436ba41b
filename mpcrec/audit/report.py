"""The human view of a verification :class:`~mpcrec.audit.verify.Report` (rich)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from mpcrec.audit.verify import Report

#: What each rule means, for the summary table.
RULES: dict[str, str] = {
    "format": "every line is a well-formed entry or tree head",
    "sequence": "entries are numbered 0, 1, 2, ... with none missing or moved",
    "signature": "every entry is signed by its author's key",
    "key": "registered keys are the ones the auditor pinned",
    "tree": "every signed tree head matches the entries it covers",
    "fork": "no two signed tree heads describe different histories",
    "heads": "nodes' cosigned heads match the log, from --require-heads distinct nodes",
    "head_time": "head times grow with their size; the latest is within --max-head-age",
    "order": "each round follows open, reveal, draw, contribute, sign, publish or abort",
    "registry": "each instance registers once",
    "participants": "every instance registered before a round opens is its participant",
    "author": "launcher-only events are by the launcher",
    "reveal": "reveals open signed commitments; no withheld reveal is ignored",
    "seed": "the committee's seed combines the round's reveals (and its beacon)",
    "beacon": "each round is bound to a later beacon round whose BLS signature verifies",
    "post_draw_abort": "no round aborts after its draw for a reason the log does not show",
    "committee": "each committee is the sortition over the round's eligible revealers",
    "cooldown": "nobody serves twice within a cooldown window",
    "dealer": "the dealer is the sortition's and not a member",
    "provider": "no TFP; replicated means three members",
    "contribution": "every logged contribution is accepted or rejected with its digest"
    " (in the maps logged under the digest the members signed)",
    "member_signatures": "every member signed the same result",
    "min_contributors": "every published round had enough accepted contributions",
    "model_hash": "the published model is the one the members signed",
    "version": "model versions move by one per publish, from the latest",
    "budget": "cumulative epsilon of the revealed rounds stays within the declared budget",
    "user_budget": "user-level epsilon of the revealed rounds stays within the declared budget"
    " (a dpals count release: its two multipliers the budget's exact split)",
    "params": "every contribution and result signs the round parameters of the config",
    "weights": "members used the raw weights the contributors signed",
    "binding": "every registered key is bound to a certificate of the federation CA",
    "catalogue": "catalogue versions extend each other; model rows trace to a signed one",
}


def print_report(report: Report, *, source: str, console: Console | None = None) -> None:
    """Print the verdict, what the log holds, each rule's status and every finding."""
    console = console or Console()
    stats = report.stats
    verdict = "[bold green]VERIFIED[/]" if report.ok else "[bold red]FAILED[/]"
    console.print(f"{verdict}  {source}")
    console.print(
        f"{stats.get('entries', 0)} entries, {stats.get('tree_heads', 0)} signed heads, "
        f"{stats.get('instances', 0)} instances, {stats.get('rounds', 0)} rounds "
        f"({stats.get('published', 0)} published, {stats.get('aborted', 0)} aborted); "
        f"{stats.get('seconds', '?')} s",
        highlight=False,
    )
    console.print(f"privacy: {stats.get('privacy', '?')}", highlight=False)
    console.print(f"draws: {stats.get('draws', {}).get('bias', '?')}", highlight=False)
    broken: dict[str, int] = {}
    for finding in report.findings:
        broken[finding.rule] = broken.get(finding.rule, 0) + 1
    table = Table(title="rules")
    table.add_column("rule")
    table.add_column("meaning")
    table.add_column("status")
    for rule, meaning in RULES.items():
        status = f"[red]{broken[rule]} broken[/]" if rule in broken else "[green]holds[/]"
        if rule == "budget" and rule not in broken and stats.get("epsilon_budget") is None:
            status = "[yellow]no budget declared[/]"
        if rule == "binding" and not stats.get("binding_checked"):
            status = "[yellow]not checked (no --ca)[/]"
        if rule == "beacon" and rule not in broken and not stats.get("draws", {}).get("beacon"):
            status = "[yellow]no beacon declared: commit-reveal only[/]"
        table.add_row(rule, meaning, status)
    console.print(table)
    for finding in report.findings[:200]:
        where = f"entry {finding.index}" if finding.index is not None else "log"
        console.print(f"[red]{finding.rule}[/] {where}: {finding.message}", highlight=False)
    if len(report.findings) > 200:
        console.print(f"... and {len(report.findings) - 200} more (use --format json)")
