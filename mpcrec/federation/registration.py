"""Registering an instance: what it tells the launcher, and what it learns in return."""

from __future__ import annotations

from dataclasses import dataclass, field

from mpcrec.audit import entries
from mpcrec.audit.entries import LogEntry
from mpcrec.federation.round_params import RoundParams
from mpcrec.federation.spec import FederationSpec


@dataclass(frozen=True)
class Registration:
    """An instance's public keys and committee address, with its signature over the audit
    log's registration entry (:func:`mpcrec.audit.entries.registration`), its TLS
    certificate (DER) and the key binding its TLS key signed over the two public keys
    (:mod:`mpcrec.crypto.binding`)."""

    instance_id: str
    signing_key: bytes
    sealing_key: bytes
    mpc_address: str
    entry_signature: bytes
    certificate: bytes = field(default=b"", repr=False)
    key_binding: bytes = field(default=b"", repr=False)

    def entry(self) -> LogEntry:
        """The audit log's registration entry, unsigned (what ``entry_signature`` covers)."""
        return entries.registration(
            instance_id=self.instance_id,
            signing_key=self.signing_key,
            sealing_key=self.sealing_key,
            address=self.mpc_address,
            certificate=self.certificate,
            key_binding=self.key_binding,
        )


@dataclass(frozen=True)
class Registered:
    """The launcher's answer: its key (signs the log's entries and tree heads), the latest
    model version and the federation's public parameters."""

    instance_id: str
    launcher_key: bytes
    model_version: int
    spec: FederationSpec
    committee_size: int
    min_contributors: int

    @property
    def params(self) -> RoundParams:
        """The round parameters this registration announced (what every round must sign)."""
        return self.spec.params(
            committee_size=self.committee_size, min_contributors=self.min_contributors
        )
