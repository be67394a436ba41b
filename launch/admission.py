"""What both doors to the launcher check before it sees a call: who is calling, and the
shape of an upload. The gRPC service (:mod:`launch.service`) and the in-process client
(:mod:`launch.in_process`) call these, so a node meets the same refusals on either path."""

from __future__ import annotations

from dataclasses import dataclass

from launch.launcher import Launcher
from launch.store import LauncherStore
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
    the current round: the model's for ``mf``, the statistics' for ``dpals``, a Gram slice
    when larger; its rows are the catalogue's, :mod:`launch.grown_round`)."""
    return 16 * launcher.rows.spec_of(launcher.current()).largest_upload + 65536


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
        check_sealed_headers(upload, round_binding(launcher, upload.round_id))


def check_sealed_headers(upload: Contribution, bound: EnvelopeBinding | None = None) -> None:
    """Each sealed envelope's (public, signed) header names its uploader and round and, with
    ``bound``, the member index it is sealed to and the round's base model: a contributor
    claiming another's slot, or sending a member an envelope it must refuse (misaddressed,
    of another model), is turned away here, before the round freezes. Members refuse such
    an envelope too (:func:`mpcrec.node.key_check.check_slots`, ``open_share``), but only
    by aborting the round, and a model an aborted round computed on is not used again
    (``model-reused``): one contributor could stall the federation."""
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
        if bound is not None:
            check_bound(member, header, bound)


@dataclass(frozen=True)
class EnvelopeBinding:
    """What every envelope of an upload to the current round must be bound to: its
    committee (member ``i`` gets the envelope sealed to index ``i``) and its base model."""

    committee: tuple[str, ...]
    model_hash: bytes


def round_binding(launcher: Launcher, round_id: int) -> EnvelopeBinding | None:
    """The current round's :class:`EnvelopeBinding`; ``None`` if ``round_id`` is not the
    current round or it has no committee yet (``Launcher.contribute`` refuses those)."""
    rnd = launcher.current()
    if rnd is None or rnd.round_id != round_id or not rnd.committee:
        return None
    return EnvelopeBinding(rnd.committee, _base_hash(launcher.store, rnd.model_version))


def check_bound(member: str, header: SealedShare, bound: EnvelopeBinding) -> None:
    """``member``'s envelope is sealed to its committee index and names the round's base."""
    index = bound.committee.index(member) if member in bound.committee else -1
    if header.member_index != index:
        raise InvalidMessage(
            f"the envelope for {member} is sealed to member {header.member_index}, "
            f"not {index} (the round's committee order)"
        )
    if header.model_hash != bound.model_hash:
        raise InvalidMessage(
            f"the envelope for {member} names another base model than the round's "
            f"({header.model_hash.hex()[:16]}, not {bound.model_hash.hex()[:16]})"
        )


_KNOWN: list[tuple[LauncherStore, int, bytes]] = []  # the last few (store, version, hash)


def _base_hash(store: LauncherStore, version: int) -> bytes:
    """A published model's hash (a published version never changes: kept, so a thousand
    uploads of a round read the model once)."""
    for known_store, known_version, known_hash in list(_KNOWN):
        if known_store is store and known_version == version:
            return known_hash
    model = store.get_model(version)
    found = model.model_hash if model is not None else b""
    _KNOWN[:] = [(store, version, found), *_KNOWN[:3]]
    return found
