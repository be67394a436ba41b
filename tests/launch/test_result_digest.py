"""The launcher logs a member's result as the member signed it, its contributions by digest,
after the maps (``result_contributions``); a result signed in the form before the digest
(an older member, the maps in the signed result) is refused, as an older launcher refuses a
newer member's: versions do not mix (docs/audit.md)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from launch.audit_trail import AuditTrail
from launch.round import Round, RoundPolicy
from launch.store import Instance
from mpcrec.audit import entries
from mpcrec.audit.entries import LAUNCHER, Kind, public_key_bytes
from mpcrec.audit.result_contributions import contributions_digest
from mpcrec.errors import ProtocolError
from mpcrec.federation.result import MemberResult, round_result
from mpcrec.federation.round_params import RoundParams
from tests.federation.test_round_params import PARAMS

POLICY = RoundPolicy(committee_size=2, min_contributors=2)
DIGESTS = {"c": b"\x0c" * 32, "d": b"\x0d" * 32}
MODEL = b"\x01" * 32


def _computing() -> Round:
    rnd = Round.open(1, 0, ["a", "b", "c", "d"], now=0.0, policy=POLICY)
    rnd = rnd.close_commits(["a", "b", "c", "d"], now=0.0, policy=POLICY)
    rnd = rnd.draw(b"s" * 32, ["a", "b"], "", policy=POLICY)
    rnd = rnd.start_collecting(now=0.0, policy=POLICY)
    return rnd.start_computing({"c": 1.0, "d": 2.0}, now=0.0, policy=POLICY)


def _signed(key: Ed25519PrivateKey, params: RoundParams, *, full: bool) -> MemberResult:
    """Member ``a``'s result accepting ``c`` only, signed in the compact form or the full."""
    result = round_result(
        round_id=1,
        new_version=1,
        model_hash=MODEL,
        digests=DIGESTS,
        accepted=("c",),
        params=params,
        weights={"c": 1.0, "d": 0.0},
    )
    entry = entries.result_signature(member="a", result=result, full=full).sign(key)
    return MemberResult(1, "a", True, "", MODEL, ("c",), entry.signature, weights=(1.0, 0.0))


def test_the_trail_logs_the_maps_then_the_compact_result_and_refuses_the_full_form() -> None:
    key = Ed25519PrivateKey.generate()
    member = Instance("a", public_key_bytes(key), b"\x00" * 32, "127.0.0.1:1", 0.0)
    trail, rnd = AuditTrail(None), _computing()

    maps, signed = trail.result(member, rnd, _signed(key, PARAMS, full=False), DIGESTS, PARAMS)

    assert (maps.kind, maps.author, signed.kind) == (
        Kind.RESULT_CONTRIBUTIONS,
        LAUNCHER,
        Kind.RESULT_SIGNATURE,
    )
    assert maps.payload == {
        "accepted": {"c": "0c" * 32},
        "rejected": {"d": "0d" * 32},
        "weights": {"c": 1.0, "d": 0.0},
    }
    result = signed.payload["result"]
    assert result["contributions"] == contributions_digest(maps.payload).hex()
    assert not {"accepted", "rejected", "weights"} & set(result)
    with pytest.raises(ProtocolError, match="bad signature on its round result"):
        trail.result(member, rnd, _signed(key, PARAMS, full=True), DIGESTS, PARAMS)


def test_the_maps_are_logged_once_a_round_once_committed() -> None:
    """Both entries for the first result of a round; the member's entry alone for the next
    with the same maps, once the first one's transaction committed; both again for other
    maps or another round, or when the transaction did not commit (no ``committed``)."""
    key = Ed25519PrivateKey.generate()
    member = Instance("a", public_key_bytes(key), b"\x00" * 32, "127.0.0.1:1", 0.0)
    trail, rnd = AuditTrail(None), _computing()
    signed = trail.result(member, rnd, _signed(key, PARAMS, full=False), DIGESTS, PARAMS)
    maps, entry = signed

    assert trail.unlogged(signed) == signed
    assert trail.unlogged(signed) == signed  # the first one's transaction did not commit
    trail.committed(signed)
    assert trail.unlogged(signed) == (entry,)
    other = replace(maps, payload={**maps.payload, "weights": {"c": 2.0, "d": 0.0}})
    assert trail.unlogged((other, entry)) == (other, entry)
    later = replace(maps, round=2)
    assert trail.unlogged((later, entry)) == (later, entry)
