"""What both doors to the launcher check before it sees a call: who is calling, and the
shape of an upload. The gRPC service (:mod:`launch.service`) and the in-process client
(:mod:`launch.in_process`) call these, so a node meets the same refusals on either path."""

from __future__ import annotations

from launch.launcher import Launcher
from mpcrec.federation.contribution import Contribution
from mpcrec.federation.refusals import Anonymous, InvalidMessage, NotPermitted
from mpcrec.federation.registration import Registration
from mpcrec.federation.round_params import usable_weight


def check_caller(launcher: Launcher, caller: str, *, registered: bool = True) -> str:
    """``caller`` (the certificate's instance id), if it may call: named, and registered
    unless it is registering; :class:`NotPermitted` otherwise."""
    if not caller:
        raise Anonymous("no instance certificate")
    if registered and launcher.store.get_instance(caller) is None:
        raise NotPermitted(f"{caller} is not registered")
    return caller


def check_registration(caller: str, registration: Registration) -> None:
    """An instance registers only itself."""
    if registration.instance_id != caller:
        raise NotPermitted(
            f"certificate names {caller!r}, request says {registration.instance_id!r}"
        )


def max_envelope(launcher: Launcher) -> int:
    """The largest envelope the launcher takes (a sealed share of every model value)."""
    return 16 * launcher.spec.size + 65536


def check_upload(launcher: Launcher, upload: Contribution) -> None:
    """An upload's envelopes within :func:`max_envelope`; its weight finite, positive and at
    most the round parameters' ``max_weight`` (the launcher then checks that every envelope
    declares that weight: :func:`launch.envelope_terms.check_declared_terms`)."""
    sizes = [len(blob) for blob in upload.envelopes.values()]
    if any(size > max_envelope(launcher) for size in sizes):
        raise InvalidMessage(
            f"envelope sizes {sizes} (each at most {max_envelope(launcher)} bytes)"
        )
    params = launcher.params
    if not usable_weight(upload.weight, params.max_weight):
        raise InvalidMessage(
            f"weight {upload.weight} must be a finite number > 0 and <= {params.max_weight:g}"
        )
