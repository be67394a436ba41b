"""A node takes no model on the launcher's word: a full committee must have signed it.

The launcher serves every model version (``GetModel``) and announces its hash; both are
the launcher's. Without this check a launcher could serve a base no committee computed
(rows padded within the catalogue's, or every value its own) and announce its hash
consistently: contributors would train on it, members aggregate over it, and the node
serve it to its users. So before a node uses a model version after 0 (to contribute, to
compute, or to serve), :class:`ModelProvenance` requires, attached to the model
(``PublishedModel.committee``, :mod:`launch.model_provenance`), the signed
``result_signature`` entries of ``committee_size`` distinct members, each

1. vouched for by the federation CA (its keys bound to its instance,
   :class:`~mpcrec.node.key_check.KeyCheck`),
2. a valid signature by that key over a result of exactly this version and this model's
   hash (the bytes the node holds), and in a Gram release's round over the digest of the
   slice served with it (``slice_hash``, :mod:`mpcrec.federation.gram_slice`; a slice
   served where none was signed, or none where one was, is refused too).

Anything else is the refusal ``model-unsigned``. (The members' common result may travel
once per model, each entry rebuilt around it before this check:
:mod:`mpcrec.federation.committee_wire`. It names the round's contributions by a digest,
:mod:`mpcrec.audit.result_contributions`: no check here reads them, the auditor checks them
against the maps the log holds; a result another digest or the maps replaced fails its
signatures.) That each entry sits in the one
fork-checked log is proven by its signer: every member asks for the inclusion proof of its
own result entry at the round's end (``inclusion``, :mod:`mpcrec.node.log_watch`); a node
can also hand the checked entries to its own proofs (``on_verified``), at the cost of
``committee_size`` more proofs per node and model version (the daemon does not: at a
thousand instances that is thousands of proofs a round). Version 0 (the initial model of
the launcher's configuration) carries no committee.
"""

from __future__ import annotations

from collections.abc import Callable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from mpcrec.audit.entries import Kind, LogEntry
from mpcrec.errors import UserError
from mpcrec.federation.gram_slice import slice_digest
from mpcrec.federation.published_model import CommitteeSignature, PublishedModel
from mpcrec.node.key_check import KeyCheck
from mpcrec.node.round_refusal import RoundRefused

RULE = "model-unsigned"


class ModelProvenance:
    """Checks a served model's committee (see the module docstring).

    Parameters
    ----------
    key_check:
        Verifies each member's keys against the federation CA.
    committee_size:
        How many distinct members must have signed (the registered round parameters').
    on_verified:
        Called with each checked entry (for example ``OwnEntries.signed``, to prove it in
        the log at the round's end; the daemon passes none, see the module docstring).
    """

    def __init__(
        self,
        key_check: KeyCheck,
        committee_size: Callable[[], int],
        on_verified: Callable[[LogEntry], None] = lambda _entry: None,
    ) -> None:
        self.key_check = key_check
        self.committee_size = committee_size
        self.on_verified = on_verified

    def check(self, model: PublishedModel) -> None:
        """:class:`RoundRefused` (``model-unsigned``) unless a full committee signed
        ``model`` (version 0 passes)."""
        if model.version <= 0:
            return
        needed = max(1, self.committee_size())
        signers: dict[str, LogEntry] = {}
        problems: list[str] = []
        for signature in model.committee:
            try:
                entry = self._checked(model, signature)
            except RoundRefused as err:
                problems.append(err.detail)
                continue
            signers.setdefault(entry.author, entry)
        if len(signers) < needed:
            why = "; ".join(problems[:3]) or "no committee signature came with it"
            raise RoundRefused(
                RULE,
                f"model v{model.version} ({model.model_hash.hex()[:16]}): signed by "
                f"{len(signers)} of the {needed} members needed ({why})",
                hint="the launcher served a model no committee computed",
            )
        for entry in signers.values():
            self.on_verified(entry)

    def _checked(self, model: PublishedModel, signature: CommitteeSignature) -> LogEntry:
        """The signature's entry if it is a bound member's result over ``model``."""
        try:
            entry = LogEntry.from_json(signature.entry, where="committee signature")
        except UserError as err:
            raise RoundRefused(RULE, f"an unreadable result entry ({err.message})") from None
        member = entry.author
        self.key_check.check(
            member,
            signature.signing_key,
            signature.sealing_key,
            signature.certificate,
            signature.key_binding,
        )  # RoundRefused unbound-key: recorded as the reason it does not count
        result = entry.payload.get("result")
        if entry.kind != Kind.RESULT_SIGNATURE or not isinstance(result, dict):
            raise RoundRefused(RULE, f"{member}: not a result entry")
        if result.get("model_version") != model.version:
            raise RoundRefused(RULE, f"{member}: a result of v{result.get('model_version')}")
        if result.get("model_hash") != model.model_hash.hex():
            raise RoundRefused(RULE, f"{member} signed another model of v{model.version}")
        given = slice_digest(model.gram_slice).hex() if model.gram_slice else ""
        if result.get("slice_hash", "") != given:  # a Gram release's slice, or none
            raise RoundRefused(RULE, f"{member} signed another Gram slice of v{model.version}")
        if not entry.verify(Ed25519PublicKey.from_public_bytes(signature.signing_key)):
            raise RoundRefused(RULE, f"{member}: the signature is not its key's")
        return entry
