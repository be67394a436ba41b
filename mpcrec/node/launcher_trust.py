"""What a node trusts of its launcher: the key it pinned on first use, and one history.

The launcher signs the audit log's entries and tree heads with one Ed25519 key; the node
pins it (``state_dir/launcher.pub``) the first time it registers and refuses a launcher
that shows another. Every new model and every round's end, it fetches the latest signed
tree head and checks that it extends every head seen before (``state_dir/tree_heads.jsonl``,
:class:`~mpcrec.audit.log.TreeHeadStore`): a launcher showing two histories is a fork, and
the two heads are kept as evidence (``state_dir/fork_evidence.jsonl``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from mpcrec.audit.entries import TreeHead
from mpcrec.audit.log import ForkDetected, TreeHeadStore
from mpcrec.audit.tree_heads import EVIDENCE_FILE
from mpcrec.errors import ProtocolError
from mpcrec.federation.launcher_client import LauncherClient
from mpcrec.federation.refusals import InvalidMessage, RoundStateError
from mpcrec.files import write_atomic

LAUNCHER_KEY_FILE = "launcher.pub"
HEADS_FILE = "tree_heads.jsonl"


class LauncherTrust:
    """The pinned launcher key and the tree heads seen, under ``state_dir``."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.heads: TreeHeadStore | None = None

    def pin(self, key: bytes) -> None:
        """Trust ``key`` on first use; :class:`ProtocolError` if the launcher changed it."""
        path = self.state_dir / LAUNCHER_KEY_FILE
        if not key:
            return
        if path.exists() and path.read_bytes() != key:
            raise ProtocolError(
                f"the launcher's key changed (pinned in {path})",
                hint="a new launcher identity: check with its operator, then remove the file",
            )
        if not path.exists():
            write_atomic(path, key, hint="give the node a writable state directory")
        self.heads = TreeHeadStore(
            Ed25519PublicKey.from_public_bytes(key), self.state_dir / HEADS_FILE
        )

    def pinned_key(self) -> bytes:
        """The launcher's pinned key (``b""`` before the first registration)."""
        path = self.state_dir / LAUNCHER_KEY_FILE
        return path.read_bytes() if path.exists() else b""

    def check_history(self, client: LauncherClient) -> str:
        """Check the launcher's latest tree head extends every head seen before; the fork
        found (its description), else ``""``. Without a pinned key or a head yet: ``""``."""
        try:
            self.latest_head(client)
        except ForkDetected as err:
            return str(err)
        return ""

    def latest_head(self, client: LauncherClient) -> TreeHead | None:
        """The launcher's latest signed head, checked against every head seen before
        (:class:`ForkDetected`, evidence kept, if it is not their extension); ``None``
        without a pinned key or while the log has no head."""
        if self.heads is None:
            return None
        latest = self.heads.latest
        try:
            head, proof = client.tree_head(latest.size if latest else 0)
        except RoundStateError:
            return latest  # no audit log or no head yet
        self._observe(latest, head, proof)
        return self.heads.latest

    def latest_head_and_proofs(
        self, client: LauncherClient, signatures: list[bytes]
    ) -> tuple[TreeHead | None, list[tuple[int, list[bytes]]] | None]:
        """:meth:`latest_head`, checked the same way, and where each of ``signatures`` is
        in its tree, asked in the same call (``GetLogProofs``); the proofs are ``None``
        (the caller asks for each) from a launcher without that call, when it cannot
        place one of them (asked one by one, the refusal names which), or when the head
        checked is not the one they were given for."""
        if self.heads is None or not signatures:
            return self.latest_head(client), None
        latest = self.heads.latest
        try:
            head, proof, proofs = client.log_proofs(latest.size if latest else 0, signatures)
        except (NotImplementedError, InvalidMessage):
            return self.latest_head(client), None
        except RoundStateError:
            return latest, None  # no audit log or no head yet
        self._observe(latest, head, proof)
        checked = self.heads.latest
        return checked, proofs if checked == head and len(proofs) == len(signatures) else None

    def _observe(self, latest: TreeHead | None, head: TreeHead, proof: list[bytes]) -> None:
        assert self.heads is not None
        try:
            self.heads.observe(head, proof)
        except ForkDetected:
            assert latest is not None
            self.keep_evidence("launcher", latest, head)
            raise

    def keep_evidence(self, source: str, ours: TreeHead, theirs: TreeHead) -> None:
        """Append two signed heads no consistency proof joins (``source``: who showed
        ``theirs``) to ``state_dir/fork_evidence.jsonl``."""
        line = {"time": time.time(), "source": source}
        line.update(ours=ours.to_json(), theirs=theirs.to_json())
        path = self.state_dir / EVIDENCE_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(line, sort_keys=True) + "\n")
