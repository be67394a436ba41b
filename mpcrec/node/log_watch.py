"""At the end of every round: the log must hold what this node signed, and show its peers
the same history.

:meth:`LogWatch.round_ended` runs once per round, when the node first sees it ended
(published or aborted, or a later round announced: announcements may skip a state), before
the node takes any step of the next one (:meth:`LogWatch.follow`):

1. **One history** (``fork``): the launcher's latest signed tree head must extend every head
   this node saw before (:meth:`~mpcrec.node.launcher_trust.LauncherTrust.latest_head`,
   RFC 6962 consistency proofs).
2. **Its own entries** (``inclusion``): for every entry this node signed and the launcher
   accepted (:mod:`mpcrec.node.own_entries`: registration, seed commitments, contributions,
   results), the launcher names its index and an audit path in the tree of that head; the
   node rebuilds the leaf from the entry it signed and checks the path against the head's
   root. An entry the launcher cannot place is missing from the history it shows. Steps 1
   and 2 are one call (``GetLogProofs``) when the launcher has it, else one plus one per
   entry; the checks are the same.
3. **Its peers' heads** (``fork``): each peer in ``witness.peers`` (``http://host:port`` of
   another node's witness server, or the path of its ``witnessed_head.json``) is read
   directly, not through the launcher. A launcher-signed peer head must be consistent with
   this node's: the launcher must give the consistency proof between the two. No proof
   means the launcher showed the peer another history; both heads are kept
   (``state_dir/fork_evidence.jsonl``). An unreachable peer is skipped (logged).
4. **Its witness** (:mod:`mpcrec.audit.witness`): the checked head, cosigned by this node, is
   written to ``state_dir/witnessed_head.json`` for auditors and peers, and served by
   :class:`WitnessServer` at ``GET /tree-head`` when ``witness.listen`` is set.

A refusal (:class:`~mpcrec.node.round_refusal.RoundRefused`) stops the node taking part in
any later round: the daemon records it and goes quiet.
"""

from __future__ import annotations

import logging
import threading
import urllib.request
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from mpcrec.audit import merkle
from mpcrec.audit.entries import LogEntry, LogFormatError, TreeHead
from mpcrec.audit.log import ForkDetected
from mpcrec.audit.witness import WITNESS_FILE, WitnessedHead
from mpcrec.crypto.keys import NodeKeys
from mpcrec.federation.announcement import RoundAnnouncement
from mpcrec.federation.launcher_client import LauncherClient
from mpcrec.federation.refusals import InvalidMessage
from mpcrec.files import write_atomic
from mpcrec.node.launcher_trust import LauncherTrust
from mpcrec.node.own_entries import OwnEntries
from mpcrec.node.round_refusal import RoundRefused

log = logging.getLogger("mpcrec.node")

PEER_TIMEOUT_S = 5.0
WITNESS_PATH = "/tree-head"


class LogWatch:
    """This node's end-of-round checks of the launcher's log (see the module docstring)."""

    def __init__(
        self,
        instance_id: str,
        keys: NodeKeys,
        trust: LauncherTrust,
        own: OwnEntries,
        peers: Sequence[str] = (),
    ) -> None:
        self.me = instance_id
        self.keys = keys
        self.trust = trust
        self.own = own
        self.peers = tuple(peers)
        self.witness_path = trust.state_dir / WITNESS_FILE
        self.checked = 0  # the last round whose end was checked

    def follow(self, client: LauncherClient, ann: RoundAnnouncement) -> None:
        """Check the log if ``ann`` shows a round ended that was not checked yet."""
        ended = ann.round_id if ann.phase.terminal else ann.round_id - 1
        if ended > self.checked:
            self.round_ended(client, ended)
            self.checked = ended

    def round_ended(self, client: LauncherClient, round_id: int) -> None:
        """Check the log after ``round_id`` ended; :class:`RoundRefused` if it forked or
        lacks an entry this node signed."""
        mine = list(self.own.to_prove(round_id))
        try:  # the head and every proof in one call, if the launcher has it
            head, given = self.trust.latest_head_and_proofs(client, [e.signature for e in mine])
        except ForkDetected as err:
            raise RoundRefused("fork", err.message, hint=err.hint) from err
        if head is None:
            return
        for k, entry in enumerate(mine):
            self._prove(client, entry, head, None if given is None else given[k])
        for peer in self.peers:
            self._check_peer(client, peer)
        self._publish(head)

    def _prove(
        self,
        client: LauncherClient,
        entry: LogEntry,
        head: TreeHead,
        given: tuple[int, list[bytes]] | None = None,
    ) -> None:
        """Check ``entry`` is in ``head``'s tree at the place ``given`` (asked if ``None``)."""
        what = f"its {entry.kind} entry" + (f" of round {entry.round}" if entry.round else "")
        try:
            index, path = given or client.inclusion_proof(entry.signature, head.size)
        except InvalidMessage as err:
            raise RoundRefused(
                "inclusion", f"{what} is not in the log of head size {head.size}: {err.message}"
            ) from err
        leaf = merkle.leaf_hash(entry.at(index).leaf_bytes())
        if not merkle.verify_inclusion(
            index=index, size=head.size, leaf=leaf, proof=path, root=head.root
        ):
            raise RoundRefused(
                "inclusion",
                f"{what} is not entry {index} of the signed head of size {head.size} "
                "(the audit path does not reach its root)",
            )
        self.own.proven(entry)

    def _check_peer(self, client: LauncherClient, peer: str) -> None:
        """Refuse (``fork``) if ``peer``'s launcher-signed head is inconsistent with ours."""
        theirs = fetch_witness(peer)
        store = self.trust.heads
        if theirs is None or store is None:
            return
        if not store.signed(theirs.head):
            log.warning("%s: peer %s: head not signed by the launcher; ignored", self.me, peer)
            return
        ours, proof = client.tree_head(theirs.head.size)
        latest = store.latest
        if latest is None or (ours.size, ours.root) != (latest.size, latest.root):
            return  # the log grew since our check: the next round's end compares again
        old, new = (theirs.head, ours) if theirs.head.size <= ours.size else (ours, theirs.head)
        if not merkle.verify_consistency(
            old_size=old.size, new_size=new.size, old_root=old.root, new_root=new.root, proof=proof
        ):
            self.trust.keep_evidence(f"peer {theirs.witness} ({peer})", ours, theirs.head)
            raise RoundRefused(
                "fork",
                f"peer {theirs.witness} holds a head (size {theirs.head.size}, root "
                f"{theirs.head.root.hex()[:16]}) the launcher cannot prove consistent with "
                f"ours (size {ours.size}, root {ours.root.hex()[:16]})",
                hint="the launcher showed two histories: both heads are in fork_evidence.jsonl",
            )

    def _publish(self, head: TreeHead) -> None:
        witnessed = WitnessedHead(self.me, head).sign(self.keys.signing)
        write_atomic(self.witness_path, witnessed.to_bytes(), mode=0o644)


def fetch_witness(peer: str) -> WitnessedHead | None:
    """A peer's witnessed head, from its witness server (``http(s)://``) or a file path;
    ``None`` (logged) when it cannot be had."""
    try:
        if peer.startswith(("http://", "https://")):
            url = peer.rstrip("/") + WITNESS_PATH
            with urllib.request.urlopen(url, timeout=PEER_TIMEOUT_S) as reply:
                raw = reply.read(64 * 1024)
        else:
            raw = Path(peer).read_bytes()
        return WitnessedHead.from_bytes(raw, where=peer)
    except (OSError, LogFormatError) as err:
        log.warning("peer %s: no witnessed head (%s)", peer, err)
        return None


class WitnessServer:
    """Serves this node's ``witnessed_head.json`` at ``GET /tree-head`` on ``listen``
    (``host:port``), to peers and auditors, without the launcher. The head is signed by the
    launcher and cosigned by this node: the channel needs no authentication to be trusted."""

    def __init__(self, witness_path: Path, listen: str) -> None:
        host, _, port = listen.rpartition(":")
        path = witness_path

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = path.read_bytes() if path.is_file() else b""
                found = self.path.rstrip("/") == WITNESS_PATH and body
                self.send_response(200 if found else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body) if found else 0))
                self.end_headers()
                if found:
                    self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                log.debug("witness server: " + format, *args)

        self._server = ThreadingHTTPServer((host or "127.0.0.1", int(port)), Handler)
        self.address = f"{host or '127.0.0.1'}:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()
