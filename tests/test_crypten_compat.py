"""CrypTen works on torch 2.13 through mpcrec.crypten_compat, in real multi-process runs."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from mpcrec.crypten_compat import load_crypten
from tests.net import free_port

WORLD = 3
X = [1.5, -2.25, 3.0, 1000.0, -0.125]
Y = [2.0, 4.5, -1.5, 0.001, 8.0]


def _party(rank: int, rendezvous: str, out: Any) -> None:
    """One CrypTen party: x comes from rank 0, y from rank 1; sum and product revealed."""
    os.environ.update(
        RENDEZVOUS=rendezvous,
        WORLD_SIZE=str(WORLD),
        RANK=str(rank),
        DISTRIBUTED_BACKEND="gloo",
    )
    try:
        crypten = load_crypten()
        torch.set_num_threads(1)
        crypten.cfg.mpc.protocol = "replicated"  # 3 parties, no dealer needed
        crypten.init()
        x = crypten.cryptensor(torch.tensor(X), src=0)
        y = crypten.cryptensor(torch.tensor(Y), src=1)
        total = (x + y).get_plain_text().tolist()
        product = (x * y).get_plain_text().tolist()
        out.put((rank, total, product, None))
        crypten.uninit()
    except Exception as err:  # report to the parent instead of dying silently
        out.put((rank, None, None, repr(err)))


def _quantize(values: list[float]) -> torch.Tensor:
    """CrypTen's encoder: float32 times 2^16, truncated toward zero (``.long()``)."""
    return (torch.tensor(values) * 2**16).long().to(torch.float64) / 2**16


# Run in a fresh interpreter: imports crypten through the shim, then reports what sits under
# the registration module's name. With argv[1] == "provided", a finder on sys.meta_path first
# makes the import system find a real module of that name (the file argv[2]), as a torch
# that still ships it would.
_PROBE = """
import importlib.abc, importlib.util, json, sys
NAME = "torch.onnx._internal.registration"

class TorchStillShipsIt(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):
        if fullname != NAME:
            return None
        return importlib.util.spec_from_file_location(fullname, sys.argv[2])

if sys.argv[1] == "provided":
    sys.meta_path.insert(0, TorchStillShipsIt())
from mpcrec.crypten_compat import load_crypten
crypten = load_crypten()
module = sys.modules[NAME]
print(json.dumps({
    "cryptensor": hasattr(crypten, "cryptensor"),
    "same_module_again": load_crypten() is crypten,
    "file": getattr(module, "__file__", None),
    "registry": repr(getattr(module, "registry", "missing")),
    "doc": module.__doc__,
}))
"""


def _probe(case: str, registration_file: Path) -> dict[str, Any]:
    """What the shim leaves under the registration module's name, in a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, case, str(registration_file)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


@pytest.mark.timeout(240)
def test_import_installs_standin_only_when_needed(tmp_path: Path) -> None:
    # Prepare: a real registration module, for the torch that still has it
    own = tmp_path / "registration.py"
    own.write_text('"""torch\'s own registration module."""\nregistry = "torch\'s registry"\n')

    # Execute: this torch (2.13 lacks the module), then a torch that provides it
    lacking = _probe("lacking", own)
    provided = _probe("provided", own)

    # Assert: the stand-in only where torch lacks the module; CrypTen imports either way
    assert lacking["cryptensor"] and lacking["same_module_again"]
    assert lacking["doc"].startswith("mpcrec stand-in") and lacking["registry"] == "None"
    assert lacking["file"] is None
    assert provided["cryptensor"] and provided["same_module_again"]
    assert provided["file"] == str(own)
    assert provided["registry"] == repr("torch's registry")
    assert provided["doc"] == "torch's own registration module."


@pytest.mark.timeout(120)
def test_three_processes_sum_and_product_match_plaintext() -> None:
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    rendezvous = f"tcp://127.0.0.1:{free_port()}"
    procs = [ctx.Process(target=_party, args=(r, rendezvous, out)) for r in range(WORLD)]
    for proc in procs:
        proc.start()
    try:
        results = [out.get(timeout=90) for _ in range(WORLD)]
    finally:
        for proc in procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()
    errors = [err for *_, err in results if err]
    assert not errors, errors
    # the plaintext twin works on the fixed-point encodings CrypTen actually shares
    qx, qy = _quantize(X), _quantize(Y)
    want_sum = qx + qy
    want_product = qx * qy
    for _rank, total, product, _ in results:
        # fixed point with 16 fractional bits: sums exact to 2^-16, products to a few ulps
        assert torch.allclose(torch.tensor(total, dtype=torch.float64), want_sum, atol=2e-5)
        assert torch.allclose(torch.tensor(product, dtype=torch.float64), want_product, atol=1e-4)
