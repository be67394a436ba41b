"""A hostile launcher lies about the catalogue and about the base model the catalogue's rows
index (tests/adversarial/catalogue_attacks.py): real node processes refuse every lie
(``catalogue-unverified``; a padded base ``model-unsigned``), and the auditor names what
reached the log or a served copy. One federation: an honest control round (every node
verifies version 1), then one lie per round; the nodes' copies end verified and complete
(they took the real version 2 when it was served): the refusals were the lies'. That an
honest base after version 0 passes every node's committee check in real processes is
``test_hostile_launcher.py::test_the_harness_without_an_attack_is_an_honest_launcher``
(version 2 is published on version 1 with no refusal)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.adversarial.catalogue_attacks import MODEL_STAGES, STAGES
from tests.adversarial.harness import HostileFederation, findings_in

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("adversarial")]

#: What each node's refusal says (mpcrec/node/catalogue_sync.py), per lie.
DETAILS = {
    "repoint-row": "catalogue version 2",
    "rehashed-chain": "the rows served are not the ones signed",
    "announce-hash": "is not the version this node verified",
    "announce-rows": "is not the version this node verified",
}
#: What refuses each padded base (mpcrec/node/model_provenance.py; with that check off, the
#: row count of mpcrec/node/grown_round.py still refuses the base padded beyond version 2).
MODEL_RULES = {
    "pad-rows": {"model-unsigned", "catalogue-unverified"},
    "forge-rows": {"model-unsigned"},
}


def _verify_copy(fed: HostileFederation, directory: str) -> subprocess.CompletedProcess[str]:
    """``mpcrec catalogue verify DIR --log audit.jsonl --keys keys.json --format json``."""
    log, keys = str(fed.root / "audit.jsonl"), str(fed.root / "keys.json")
    command = [sys.executable, "-m", "mpcrec.cli.app", "catalogue", "verify", directory]
    return subprocess.run(
        [*command, "--log", log, "--keys", keys, "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        env=fed.env(),
    )


@pytest.mark.timeout(300)
def test_catalogue_lies_are_refused_by_every_node_and_named_by_the_auditor(
    fed4: HostileFederation,
) -> None:
    fed4.setup()
    fed4.start_hostile("catalogue-lies", victim="tube-0")
    fed4.start_nodes()
    control = fed4.wait_control_round()

    def lied() -> bool:
        last = [r for r, stage in fed4.learned().get("catalogue_stages", []) if stage == STAGES[-1]]
        return any(r.round_id in last and r.phase.terminal for r in fed4.rounds())

    fed4.wait_until(lied, 200, "a round with each lie to end")
    learned = fed4.learned()
    assert learned["errors"] == [], learned
    stages = {stage: r for r, stage in learned["catalogue_stages"] if stage}
    assert sorted(stages) == sorted(STAGES)
    assert {s["stage"] for s in learned["served"]} == {"repoint-row", "rehashed-chain"}
    padded = {s["stage"]: s["rows"] for s in learned["padded"]}
    assert padded == {"pad-rows": 15, "forge-rows": 14}, learned["padded"]

    # the control round named version 1, which every node verified: nobody refused it
    assert fed4.refused({"catalogue-unverified"}, rounds={control}) == []
    phases = {r.round_id: r.phase.value for r in fed4.rounds()}
    for stage, round_id in stages.items():
        rules = MODEL_RULES.get(stage, {"catalogue-unverified"})
        refusals = fed4.refused(rules, rounds={round_id})
        assert {x["node"] for x in refusals} == set(fed4.nodes), (stage, fed4.all_refusals())
        if stage not in MODEL_STAGES:
            assert all(DETAILS[stage] in x["detail"] for x in refusals), (stage, refusals)
        assert phases[round_id] == "aborted", (stage, phases)
    # the auditor: the row count the launcher signed in round_open is beyond the version
    report = fed4.audit()
    rounds_of = fed4.entry_rounds()
    named = {rounds_of.get(f["entry"]) for f in findings_in(report, {"catalogue"})}
    assert stages["announce-rows"] in named and not report["ok"], report
    assert report["exit_code"] == 1

    # ... and a copy the launcher served is not the one it signed; the nodes' copies are
    pinned = (fed4.root / "nodes" / "tube-1" / "launcher.pub").read_bytes()
    (fed4.root / "keys.json").write_text(json.dumps({"launcher": pinned.hex(), "instances": {}}))
    repointed = _verify_copy(fed4, str(fed4.root / "served" / "repoint-row"))
    assert repointed.returncode == 2, repointed  # the copy's own chain does not hash
    assert "catalogue version 2: its rows do not hash" in repointed.stderr, repointed
    rehashed = _verify_copy(fed4, str(fed4.root / "served" / "rehashed-chain"))
    assert rehashed.returncode == 1, rehashed
    assert _copy_findings(rehashed) == ["version 2 of the copy is not the one the launcher signed"]
    for name in fed4.nodes:
        held = _verify_copy(fed4, str(fed4.root / "nodes" / name / "catalogue"))
        assert json.loads(held.stdout)["versions"] == 2 and _copy_findings(held) == [], held


def _copy_findings(done: subprocess.CompletedProcess[str]) -> list[str]:
    """The findings of ``catalogue verify`` on the copy itself (not those of the log's own
    entries: the signed row-count lie, and instance keys this test's key file leaves out)."""
    found = json.loads(done.stdout)["findings"]
    return [f["message"] for f in found if "copy" in f["message"]]
