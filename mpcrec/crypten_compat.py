"""The one place mpcrec imports CrypTen.

``crypten==0.4.1`` (its last release) fails to import on torch 2.13: its ONNX converter
does ``from torch.onnx._internal.registration import registry``, a module torch has since
moved. mpcrec never uses CrypTen's ONNX importer, so before the first ``import crypten``
we register an inert stand-in module under that name; everything else in CrypTen works
unchanged. Every other module gets CrypTen through :func:`load_crypten`, never by
``import crypten`` directly, so the shim is always in place.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

_STANDIN = "torch.onnx._internal.registration"


def _install_registration_standin() -> None:
    """Register an inert ``torch.onnx._internal.registration`` if torch lacks it."""
    if _STANDIN in sys.modules:
        return
    try:
        importlib.import_module(_STANDIN)
    except ImportError:
        standin = types.ModuleType(_STANDIN)
        standin.__doc__ = "mpcrec stand-in: CrypTen's ONNX import path is not supported."
        standin.registry = None  # type: ignore[attr-defined]
        sys.modules[_STANDIN] = standin


def load_crypten() -> Any:
    """Return the ``crypten`` module, importing it behind the compatibility shim."""
    if "crypten" not in sys.modules:
        _install_registration_standin()
    return importlib.import_module("crypten")


def set_torch_threads(n: int = 1) -> None:
    """Pin torch's intra-op thread count (small ops are slower with 2 threads on 2 cores)."""
    import torch

    torch.set_num_threads(n)
