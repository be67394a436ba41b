"""What both doors to the launcher check before it sees a call: who is calling, and the
shape of an upload. The gRPC service (:mod:`launch.service`) and the in-process client
(:mod:`launch.in_process`) call these, so a node meets the same refusals on either path."""

from __future__ import annotations

from launch.launcher import Launcher
from mpcrec.crypto.binding import check_consistent
from mpcrec.crypto.envelope import SealedShare
from mpcrec.errors import ProtocolError
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
    """An instance registers only itself; a certificate and key binding it sends name it
    and sign its keys (:func:`mpcrec.crypto.binding.check_consistent`: no CA here, the
    nodes that use the keys check the chain)."""
    reg = registration
    if reg.instance_id != caller:
        raise NotPermitted(f"certificate names {caller!r}, request says {reg.instance_id!r}")
    if reg.certificate or reg.key_binding:
        try:
            check_consistent(
                reg.certificate,
                reg.key_binding,
                instance_id=caller,
                signing_key=reg.signing_key,
                sealing_key=reg.sealing_key,
            )
        except ProtocolError as err:
            raise InvalidMessage(err.message, hint="re-create the node's key binding") from err


def max_envelope(launcher: Launcher) -> int:
    """The largest envelope the launcher takes (a sealed share of every contributed value of
    the current round: the model's for ``mf``, the statistics' for ``dpals``; its rows are the
    catalogue's, :mod:`launch.grown_round`)."""
    return 16 * launcher.rows.spec_of(launcher.current()).contribution_size + 65536


def check_upload(launcher: Launcher, upload: Contribution) -> None:
    """An upload's envelopes within :func:`max_envelope`; its weight finite, positive and at
    most the round parameters' ``max_weight`` (the launcher then checks that every envelope
    declares that weight: :func:`launch.envelope_terms.check_declared_terms`)."""
    sizes = [len(blob) for blob in upload.envelopes.values()]
    limit = max_envelope(launcher)
    if any(size > limit for size in sizes):
        raise InvalidMessage(f"envelope sizes {sizes} (each at most {limit} bytes)")
    params = launcher.params
    if not usable_weight(upload.weight, params.max_weight):
        raise InvalidMessage(
            f"weight {upload.weight} must be a finite number > 0 and <= {params.max_weight:g}"
        )
    if launcher.spec.aggregation != "plaintext":
        check_sealed_headers(upload)


def check_sealed_headers(upload: Contribution) -> None:
    """Each sealed envelope's (public, signed) header names its uploader and round: a
    contributor claiming another's slot is turned away here, before the round freezes, so
    the others' aggregate stays exact (members refuse such an envelope too:
    :func:`mpcrec.node.key_check.check_slots`)."""
    for member, blob in upload.envelopes.items():
        try:
            header = SealedShare.from_bytes(blob)
        except ProtocolError as err:
            raise InvalidMessage(f"the envelope for {member}: {err.message}") from err
        if (header.contributor_id, header.round_id) != (upload.contributor, upload.round_id):
            raise InvalidMessage(
                f"the envelope for {member} claims contributor {header.contributor_id!r} in "
                f"round {header.round_id}, uploaded by {upload.contributor!r} for round "
                f"{upload.round_id}"
            )
