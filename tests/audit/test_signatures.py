"""Batch Ed25519 verification: the forked workers agree with the serial check."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mpcrec.audit.signatures import start_verification, verify_all, verify_parallel


@pytest.mark.timeout(120)
def test_parallel_verification_matches_serial() -> None:
    keys = [Ed25519PrivateKey.from_private_bytes(bytes([i]) * 32) for i in range(1, 6)]
    raws = [k.public_key().public_bytes_raw() for k in keys]
    items = []
    for n in range(4500):
        message = n.to_bytes(4, "big") * 8
        signer = n % 5
        items.append((raws[signer], keys[signer].sign(message), message))
    bad = {7, 2048, 4499}
    for n in bad:
        _, sig, message = items[n]
        items[n] = (raws[(n + 1) % 5], sig, message)  # someone else's key
    expected = [n not in bad for n in range(len(items))]
    assert verify_all(items) == expected
    assert verify_parallel(items, workers=2) == expected
    pending = start_verification(items, workers=2)
    assert pending() == expected


def test_malformed_keys_and_signatures_fail_cleanly() -> None:
    key = Ed25519PrivateKey.from_private_bytes(b"\x01" * 32)
    raw = key.public_key().public_bytes_raw()
    assert verify_all([(b"short", b"sig", b"m"), (raw, b"not a signature", b"m")]) == [
        False,
        False,
    ]


def test_libsodium_agrees_with_cryptography() -> None:
    from cryptography.exceptions import InvalidSignature

    key = Ed25519PrivateKey.from_private_bytes(b"\x02" * 32)
    public = key.public_key()
    raw = public.public_bytes_raw()
    items = []
    for n in range(200):
        message = bytes([n]) * (n % 50)
        sig = key.sign(message)
        if n % 3 == 1:
            sig = sig[:10] + bytes([sig[10] ^ 4]) + sig[11:]
        if n % 7 == 2:
            message += b"!"
        items.append((raw, sig, message))

    def reference(sig: bytes, message: bytes) -> bool:
        try:
            public.verify(sig, message)
        except InvalidSignature:
            return False
        return True

    assert verify_all(items) == [reference(s, m) for _, s, m in items]
    assert sum(verify_all(items)) == sum(1 for n in range(200) if n % 3 != 1 and n % 7 != 2)


@pytest.mark.timeout(180)
def test_parallel_verification_of_log_entries_builds_messages_in_workers() -> None:
    from mpcrec.audit.entries import LAUNCHER
    from mpcrec.audit.signatures import verify_signed
    from mpcrec.audit.simulate import simulate_federation

    sim = simulate_federation(rounds=300, instances=8, cooldown=1)
    keys = {i: k.public_key().public_bytes_raw() for i, k in sim.instance_keys.items()}
    keys[LAUNCHER] = sim.launcher_key.public_key().public_bytes_raw()
    pairs = [(keys[e.author], e) for e in sim.entries]
    assert len(pairs) > 4000
    forged = 3001
    pairs[forged] = (keys["inst-00"] if pairs[forged][1].author != "inst-00" else keys[LAUNCHER],
                     pairs[forged][1])  # fmt: skip
    results = start_verification(pairs, workers=2, check=verify_signed)()
    assert [i for i, ok in enumerate(results) if not ok] == [forged]
