"""``mpcrec demo --new-videos``: the instances publish new videos between rounds (issue 13).

The schedule is :class:`mpcrec.node.movielens_catalogue.PublishSchedule`: the newest 20 % of
ML-100k's items are held back, published in three batches (one every :data:`EVERY` published
models), each batch deleting (retiring) the two most watched videos of the start. Before the
launcher starts, :func:`initial_model` signs catalogue version 1 (every instance's videos
of the start, merged by the launcher's own code, in its log and ``catalogue/``, as the first
round's opening would) and orders the initial model by its rows; after that, versions come
only from the nodes' exports, merged when a round opens.

While the federation runs, :class:`ServedLists` reads every snapshot a node writes
(``snapshot.npz``, what ``mpcrec serve`` answers from) and asks it for every local user's
top 10 (:meth:`~mpcrec.node.recommender.ModelSnapshot.recommend`): a list holding a video
retired in the catalogue version of the model's rows is a violation. :func:`catalogue_report`
then says, per version, the round it was in force from, the first published model that has
its rows, the first served model that recommended one of its new videos, and checks every
copy (the launcher's, every node's) against the signed log (``mpcrec catalogue verify``).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from launch.catalogue import LauncherCatalogue
from launch.sqlite_store import SQLiteStore
from mpcrec.audit.checks import check_copy
from mpcrec.audit.entries import Kind
from mpcrec.audit.history import replay
from mpcrec.audit.log import AuditLog
from mpcrec.crypto.keys import NodeKeys
from mpcrec.data.catalogue_store import CatalogueDir
from mpcrec.errors import UserError
from mpcrec.node.movielens_catalogue import PublishSchedule, instance_name
from mpcrec.node.movielens_trainer import movielens_setting
from mpcrec.node.recommender import ModelSnapshot


class DemoSettings(Protocol):
    """What this module reads of :class:`mpcrec.demo.DemoSettings`."""

    @property
    def state_dir(self) -> Path: ...
    @property
    def instances(self) -> int: ...
    @property
    def seed(self) -> int: ...
    @property
    def new_videos(self) -> bool: ...
    @property
    def publish_from(self) -> int: ...


class DemoRun(Protocol):
    """What this module reads of :class:`mpcrec.demo.DemoRun`."""

    @property
    def settings(self) -> DemoSettings: ...
    @property
    def db(self) -> Path: ...
    @property
    def names(self) -> list[str]: ...


EVERY = 2  # a batch of new videos every 2 published models
TOP = 10


def trainer_settings(settings: DemoSettings) -> dict[str, Any]:
    """The nodes' extra ``trainer:`` settings (none without ``--new-videos``)."""
    if not settings.new_videos:
        return {}
    return {"publish_every": EVERY, "publish_from": settings.publish_from}


def schedule(settings: DemoSettings) -> PublishSchedule:
    split, _, _ = movielens_setting(settings.instances, settings.seed)
    return PublishSchedule(split, settings.instances, EVERY, settings.publish_from)


def initial_model(run: DemoRun, item_emb: np.ndarray) -> np.ndarray:
    """``item_emb`` (ML item order), or with ``--new-videos`` its rows in the order of the
    catalogue version 1 this signs in the launcher's state (module docstring)."""
    s = run.settings
    if not s.new_videos:
        return item_emb
    plan = schedule(s)
    state = s.state_dir / "launcher"
    store = SQLiteStore(run.db)
    try:
        keys = NodeKeys.load_or_create(state / "keys")  # the launcher's: it signs the log
        audit = AuditLog(store.connection, launcher_key=keys.signing)
        catalogue = LauncherCatalogue(state / "catalogue", audit)
        if catalogue.book.tip.version == 0:
            for k in range(s.instances):
                catalogue.submit(plan.export(k, instance_name(k), 0))
            catalogue.publish(from_round=1)
        item_of = {plan.url(i): i for i in range(plan.n_items)}
        rows = [item_of[r.url] for r in catalogue.book.records]
    finally:
        store.close()
    return np.asarray(item_emb[rows], np.float64)


def as_items(settings: DemoSettings, model: np.ndarray) -> np.ndarray:
    """A published model (catalogue rows) in ML item order, for the evaluation (an item not
    in the catalogue yet scores 0)."""
    if not settings.new_videos:
        return model
    plan = schedule(settings)
    item_of = {plan.url(i): i for i in range(plan.n_items)}
    out = np.zeros((plan.n_items, model.shape[1]), np.float64)
    directory = CatalogueDir(settings.state_dir / "launcher" / "catalogue")
    urls = [r.url for d in directory.diffs() for r in d.records()]
    out[[item_of[u] for u in urls[: model.shape[0]]]] = model
    return out


def versions(settings: DemoSettings) -> list[dict[str, Any]]:
    """Every signed version: number, rows, new URLs, retired URLs so far."""
    out: list[dict[str, Any]] = []
    urls: list[str] = []
    retired: set[str] = set()
    for diff in CatalogueDir(settings.state_dir / "launcher" / "catalogue").diffs():
        new = [r.url for r in diff.records()]
        urls += new
        retired |= {urls[k] for k in diff.header.new_retired}
        out.append(
            {"version": diff.header.version, "rows": diff.header.rows, "new": new,
             "retired": sorted(retired)}
        )  # fmt: skip
    return out


@dataclass
class ServedLists:
    """Polls every node's ``snapshot.npz``; each new one is asked for every local user's
    top :data:`TOP`, checked against the retired videos of its rows' catalogue version."""

    run: DemoRun
    seen: dict[str, float] = field(default_factory=dict)
    served: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> ServedLists:
        self.thread = threading.Thread(target=self._loop, name="served-lists", daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=30)
        self.poll()  # the last snapshots

    def _loop(self) -> None:
        while not self.stop.wait(0.5):
            self.poll()

    def poll(self) -> None:
        """Check every snapshot written since the last poll."""
        for name in self.run.names:
            path = self.run.settings.state_dir / "nodes" / name / "snapshot.npz"
            try:
                stamp = path.stat().st_mtime_ns
                if self.seen.get(name) == stamp:
                    continue
                self.seen[name] = stamp
                self.served.append(self.check(name, ModelSnapshot.load(path)))
            except FileNotFoundError:
                continue
            except (OSError, UserError, ValueError) as err:  # a file replaced while read
                self.errors.append(f"{name}: {err}")

    def check(self, name: str, snapshot: ModelSnapshot) -> dict[str, Any]:
        """Every local user's list from ``snapshot``: retired videos in it, and how many
        lists hold a new video of each version after the first."""
        known = versions(self.run.settings)
        mine = [v for v in known if v["rows"] == snapshot.n_items]
        retired = set(mine[-1]["retired"]) if mine else set()
        fresh = {int(v["version"]): set(v["new"]) for v in known[1:]}
        lists = retired_hits = 0
        with_new = dict.fromkeys(fresh, 0)
        listed: dict[int, set[str]] = {version: set() for version in fresh}
        for user in sorted(snapshot.local_users):
            urls = {v.url for v in snapshot.recommend(user, TOP).videos}
            lists += 1
            retired_hits += len(urls & retired)
            for version, new in fresh.items():
                with_new[version] += bool(urls & new)
                listed[version] |= urls & new
        return {
            "node": name,
            "model": int(snapshot.version.lstrip("v")),
            "rows": snapshot.n_items,
            "lists": lists,
            "retired_served": retired_hits,
            "lists_with_new_videos": with_new,
            "new_videos_listed": {version: sorted(urls) for version, urls in listed.items()},
        }


def catalogue_report(run: DemoRun, served: ServedLists) -> dict[str, Any]:
    """The ``new_videos`` section of the demo's report (module docstring)."""
    s = run.settings
    log = AuditLog.in_state_dir(s.state_dir)
    try:
        entries = list(log.entries())
    finally:
        log.close()
    history, _ = replay(entries)
    opened = {
        e.round: e.payload for e in entries if e.kind == Kind.ROUND_OPEN and e.round is not None
    }
    signed = {int(e.payload["version"]): int(e.round or 0) for e in history.catalogues}
    model_rows = published_rows(run.db)
    report_versions = [
        _version_row(v, opened, signed, model_rows, served.served) for v in versions(s)
    ]
    with_new = [v for v in report_versions if v["version"] > 1]
    return {
        "versions": report_versions,
        "publish_from": s.publish_from,
        "recommended_within_one_round": sum(
            bool(v["recommended_from_first_model"]) for v in with_new
        ),
        "versions_with_new_videos": len(with_new),
        "served_snapshots_checked": len(served.served),
        "served_models_by_node": {
            name: sorted(x["model"] for x in served.served if x["node"] == name)
            for name in run.names
        },
        "served_lists_checked": sum(x["lists"] for x in served.served),
        "retired_videos_served": sum(x["retired_served"] for x in served.served),
        "snapshot_read_errors": served.errors,
        "copies_verified": copies_verified(run, history),
    }


def _version_row(
    v: dict[str, Any],
    opened: dict[int, Any],
    signed: dict[int, int],
    model_rows: dict[int, tuple[int, int]],
    served: list[dict[str, Any]],
) -> dict[str, Any]:
    """One version's line of the report: where it first appears in the log, the model, and
    the lists served."""
    number = int(v["version"])
    in_model = [(rid, mv) for rid, (mv, rows) in sorted(model_rows.items()) if rows >= v["rows"]]
    recommended = [x for x in served if x["lists_with_new_videos"].get(number, 0)]
    naming = [r for r, p in opened.items() if p.get("catalogue_version") == number]
    first = in_model[0][1] if in_model else None
    from_first = [x for x in served if x["model"] == first and number in x["new_videos_listed"]]
    listed_first = {u for x in from_first for u in x["new_videos_listed"][number]}
    return {
        "version": number,
        "rows": v["rows"],
        "new_videos": len(v["new"]),
        "retired_so_far": len(v["retired"]),
        "in_force_from_round": signed.get(number),
        "first_round_naming_it": min(naming, default=None),
        "first_published_model_with_its_rows": in_model[0][1] if in_model else None,
        "published_by_round": in_model[0][0] if in_model else None,
        "first_served_model_recommending_a_new_video": min(
            (x["model"] for x in recommended), default=None
        ),
        "lists_recommending_its_new_videos": {str(x["model"]): 0 for x in recommended}
        | _per_model(recommended, number),
        # the target (docs/benchmarks/demo.md): some user's top 10 from the first model
        "recommended_from_first_model": bool(listed_first),
        "first_model_snapshots_checked": len(from_first),
        "first_model_lists_with_a_new_video": sum(
            x["lists_with_new_videos"][number] for x in from_first
        ),
        "first_model_new_videos_listed": len(listed_first),
        "new_videos_ever_listed": len(
            {u for x in served for u in x["new_videos_listed"].get(number, [])}
        ),
    }


def _per_model(served: list[dict[str, Any]], version: int) -> dict[str, int]:
    """Lists holding a new video of ``version``, summed over the nodes, per served model."""
    out: dict[str, int] = {}
    for x in served:
        out[str(x["model"])] = out.get(str(x["model"]), 0) + x["lists_with_new_videos"][version]
    return out


def published_rows(db: Path) -> dict[int, tuple[int, int]]:
    """Every published round: its model version and that model's rows."""
    store = SQLiteStore(db)
    try:
        latest = store.latest_round()
        out = {}
        for round_id in range(1, (latest.round_id if latest else 0) + 1):
            rnd = store.get_round(round_id)
            if rnd is None or rnd.phase.value != "published":
                continue
            model = store.get_model(rnd.published_version)
            if model is not None:
                out[round_id] = (rnd.published_version, model.n_items)
        return out
    finally:
        store.close()


def copies_verified(run: DemoRun, history: Any) -> dict[str, list[str]]:
    """``catalogue verify`` of every copy (launcher's, each node's): its findings."""
    root = run.settings.state_dir
    copies = {"launcher": root / "launcher" / "catalogue"}
    copies |= {name: root / "nodes" / name / "catalogue" for name in run.names}
    out: dict[str, list[str]] = {}
    for name, directory in copies.items():
        headers = [d.header.log_payload() for d in CatalogueDir(Path(directory)).diffs()]
        out[name] = [f.message for f in check_copy(headers, history)]
    return out
