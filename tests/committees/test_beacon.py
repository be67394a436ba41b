"""The beacon: drand's published rounds verify, anything else does not; the local chain
serves drand's HTTP API; the committee seed moves with the beacon."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import urllib.request

import pytest

from committees.seed import combine_reveals, committee_seed
from mpcrec.crypto.beacon import (
    CHAINED,
    UNCHAINED,
    Beacon,
    BeaconError,
    ChainInfo,
    LocalSigner,
    beacon_error,
    verify_beacon,
)
from mpcrec.errors import ConfigError
from mpcrec.federation.beacon_http import BeaconConfig, HttpBeacon, LocalBeacon
from tests.net import free_port

# drand's League of Entropy mainnet (chained, 30 s) and its round 72785 as published at
# /public/72785; the unchained testnet chain 7672797f... and its round 223344 (vectors as
# used by noislabs/drand-verify's tests).
MAINNET = ChainInfo(
    public_key=bytes.fromhex(
        "868f005eb8e6e4ca0a47c8a77ceaa5309a47978a7c71bc5cce96366b5d7a569937c529eeda66c72937"
        "84a9402801af31"
    ),
    period=30,
    genesis_time=1595431050,
    chain_hash=bytes.fromhex("8990e7a9aaed2ffed73dbd7092123d6f289930540d7651336225dc172e51b2ce"),
    scheme=CHAINED,
)
MAINNET_72785 = Beacon(
    72785,
    bytes.fromhex(
        "82f5d3d2de4db19d40a6980e8aa37842a0e55d1df06bd68bddc8d60002e8e959eb9cfa368b3c1b77d18f02"
        "a54fe047b80f0989315f83b12a74fd8679c4f12aae86eaf6ab5690b34f1fddd50ee3cc6f6cdf59e95526d5"
        "a5d82aaa84fa6f181e42"
    ),
    bytes.fromhex(
        "a609e19a03c2fcc559e8dae14900aaefe517cb55c840f6e69bc8e4f66c8d18e8a609685d9917efbfb0c37f"
        "058c2de88f13d297c7e19e0ab24813079efe57a182554ff054c7638153f9b26a60e7111f71a0ff63d957"
        "1704905d3ca6df0b031747"
    ),
)
UNCHAINED_TESTNET = ChainInfo(
    public_key=bytes.fromhex(
        "8200fc249deb0148eb918d6e213980c5d01acd7fc251900d9260136da3b54836ce125172399ddc69c4e3"
        "e11429b62c11"
    ),
    period=3,
    genesis_time=0,  # period and genesis do not enter the signature check
    chain_hash=bytes.fromhex("7672797f548f3f4748ac4bf3352fc6c6b6468c9ad40ad456a397545c6e2df5bf"),
    scheme=UNCHAINED,
)
UNCHAINED_223344 = Beacon(
    223344,
    bytes.fromhex(
        "94f6b85df7cce7237e8e7df66d794ddad092de5d8bb6a791b97e905aa89852e506ac36a792eba7021e22ee"
        "bf34891f8914bf9a8dd9233ea0a4c5ca00ef8404999f899073dd2eade61fe54077fee8168f83dcb61a75"
        "8b6883b38904054e64a433"
    ),
)


def test_published_drand_rounds_verify() -> None:
    verify_beacon(MAINNET, MAINNET_72785, round_number=72785)
    verify_beacon(UNCHAINED_TESTNET, UNCHAINED_223344, round_number=223344)
    # drand publishes randomness = SHA-256(signature); round 72785's, as published
    assert MAINNET_72785.randomness == hashlib.sha256(MAINNET_72785.signature).digest()


@pytest.mark.parametrize(
    ("chain", "beacon", "why"),
    [
        (UNCHAINED_TESTNET, dataclasses.replace(UNCHAINED_223344, round=223343), "verify"),
        (
            UNCHAINED_TESTNET,
            dataclasses.replace(UNCHAINED_223344, signature=MAINNET_72785.signature),
            "verify",
        ),
        (
            MAINNET,
            dataclasses.replace(MAINNET_72785, previous_signature=UNCHAINED_223344.signature),
            "verify",
        ),
        (
            dataclasses.replace(UNCHAINED_TESTNET, public_key=MAINNET.public_key),
            UNCHAINED_223344,
            "verify",
        ),
        (UNCHAINED_TESTNET, dataclasses.replace(UNCHAINED_223344, signature=bytes(96)), "point"),
        (UNCHAINED_TESTNET, dataclasses.replace(UNCHAINED_223344, signature=bytes(10)), "96"),
    ],
    ids=["wrong-round", "wrong-signature", "wrong-previous", "wrong-key", "not-a-point", "short"],
)
def test_anything_but_the_published_round_is_refused(
    chain: ChainInfo, beacon: Beacon, why: str
) -> None:
    assert why in beacon_error(chain, beacon)
    with pytest.raises(BeaconError):
        verify_beacon(chain, beacon)


def test_a_beacon_of_another_round_than_asked_is_refused() -> None:
    assert "expected round 5" in beacon_error(UNCHAINED_TESTNET, UNCHAINED_223344, round_number=5)


def test_the_local_chain_signs_as_drand_and_is_verified_the_same_way() -> None:
    signer, other = LocalSigner(bytes(range(32))), LocalSigner(bytes(32))
    chain = signer.chain(genesis_time=1000, period=2)
    beacon = signer.sign(chain, 7)
    assert beacon_error(chain, beacon, round_number=7) == ""
    assert "does not verify" in beacon_error(other.chain(genesis_time=1000, period=2), beacon)
    assert Beacon.from_json(json.loads(json.dumps(beacon.to_json()))) == beacon
    assert ChainInfo.from_json(chain.to_json()) == chain
    assert (chain.time_of(7), chain.first_round_after(1012.0), chain.first_round_after(1011.9)) == (
        1012,
        8,
        7,
    )


def test_a_published_randomness_that_is_not_the_signature_hash_is_refused() -> None:
    forged = {**UNCHAINED_223344.to_json(), "randomness": "00" * 32}
    with pytest.raises(BeaconError, match="randomness"):
        Beacon.from_json(forged)


def test_the_committee_seed_moves_with_the_beacon() -> None:
    reveals = combine_reveals(4, {"a": bytes(32), "b": b"\x01" * 32})
    signer = LocalSigner(bytes(range(32)))
    chain = signer.chain(genesis_time=0, period=1)
    one, two = signer.sign(chain, 10), signer.sign(chain, 11)
    assert committee_seed(4, reveals, one.randomness) != committee_seed(4, reveals, two.randomness)
    assert committee_seed(4, reveals, one.randomness) == committee_seed(4, reveals, one.randomness)
    assert committee_seed(4, reveals, one.randomness) != reveals


def test_the_local_beacon_serves_drands_http_api_and_the_client_verifies_it() -> None:
    now = [1000.0]
    local = LocalBeacon(
        LocalSigner(bytes(range(32))), genesis_time=990, period=1, clock=lambda: now[0]
    )
    port = free_port()
    server = local.serve("127.0.0.1", port)
    try:
        client = HttpBeacon(f"http://127.0.0.1:{port}", local.chain)
        client.check_info()
        got = client.fetch(5)
        assert got is not None and beacon_error(local.chain, got, round_number=5) == ""
        assert client.fetch(12) is None  # due at 1001: not yet
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/public/latest", timeout=5) as r:
            assert json.loads(r.read())["round"] == 11
        impostor = HttpBeacon(
            f"http://127.0.0.1:{port}", LocalSigner(bytes(32)).chain(genesis_time=990, period=1)
        )
        with pytest.raises(ConfigError, match="another chain"):
            impostor.check_info()
        assert impostor.fetch(5) is None  # signed by a key other than the pinned one
    finally:
        server.shutdown()
        server.server_close()


def test_a_federation_without_a_beacon_must_opt_out_by_name() -> None:
    with pytest.raises(ConfigError, match="no randomness beacon"):
        BeaconConfig()
    assert BeaconConfig(unsafe_commit_reveal_only=True).source() is None
