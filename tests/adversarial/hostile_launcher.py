"""The real launcher with one attack hook installed, as its own process (issue 11).

``python -m tests.adversarial.hostile_launcher --config federation.yaml --attack NAME
--out learned.json [--victim ID] [--colluders A,B] [--from-round N]``

This runs :func:`mpcrec.cli.launcher.run`, the code path of ``mpcrec launcher``, after
replacing names it looks up at call time: :class:`launch.launcher.Launcher` by
:class:`HostileLauncher`, :class:`launch.service.LauncherService` by :class:`HostileService`,
:func:`launch.announce.announcement` (both the module's and the service's reference) and the
service's ``check_upload``, the ``GetModel`` chunks (``mpcrec.proto.convert.model_chunks``)
and the accountant the config entry names (``launch.audit_trail.accountant_for``) by
wrappers (and the catalogue's, see :func:`install`). Each
subclass method calls the real one and hands what it produced to the attack
(:mod:`tests.adversarial.attacks`), which may change it. No production code is modified.

What the launcher managed to learn is written to ``--out`` (JSON, rewritten atomically at
every change): ``read`` lists every update it read or reconstructed (round, contributor,
how, L2 norm, SHA-256 of the float64 values); the other keys record what it did (so a test
can check that the attack was really tried) and ``errors`` any failure of the harness itself
(a test fails on those: a broken hook must never pass for a defended attack).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import launch.announce
import launch.audit_trail
import launch.catalogue
import launch.launcher
import launch.service
from launch.round import Round
from mpcrec.federation.announcement import RoundAnnouncement
from mpcrec.federation.tls import caller_id
from mpcrec.proto import convert
from tests.adversarial import hooks
from tests.adversarial.attacks import ATTACKS
from tests.adversarial.hooks import Attack, Learned


class HostileLauncher(launch.launcher.Launcher):
    """The real :class:`~launch.launcher.Launcher`; every method hands its work to the attack.

    It runs the spec the attack's ``launcher_spec`` gives for its config's (from its first
    config entry and ``RegisterReply`` on). Its store's ``get_model`` and ``latest_model``
    go through the attack's ``stored_model`` hook: a model the attack changes is the
    launcher's own everywhere (what ``GetModel`` serves, the announced hash, each round's
    rows and the checks of members' results)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        spec = kwargs["spec"]  # (keyword-only in Launcher) what it runs, signs and tells
        kwargs["spec"] = hooks.run_hook(spec, lambda a: a.launcher_spec(spec))
        super().__init__(*args, **kwargs)
        store = self.store
        get_model, latest_model = store.get_model, store.latest_model

        def stored(found: Any) -> Any:
            if found is None:
                return None
            return hooks.run_hook(found, lambda a: a.stored_model(self, found))

        store.get_model = lambda version: stored(get_model(version))  # type: ignore[method-assign]
        store.latest_model = lambda: stored(latest_model())  # type: ignore[method-assign]

    def contribute(self, contribution: Any, signature: bytes) -> None:
        if not hooks.run_hook(True, lambda a: a.accept_upload(self, contribution)):
            return
        super().contribute(contribution, signature)
        hooks.run_hook(None, lambda a: a.uploaded(self, contribution))

    def shares_for(self, member: str, round_id: int) -> Any:
        shares = list(super().shares_for(member, round_id))
        return hooks.run_hook(shares, lambda a: a.shares(self, member, round_id, shares))

    def submit_result(self, result: Any) -> None:
        super().submit_result(result)
        hooks.run_hook(None, lambda a: a.result(self, result))

    def _open_next(self, last: Round | None) -> Round | None:
        rnd = super()._open_next(last)
        if rnd is None:
            return None
        opened: Round = hooks.run_hook(rnd, lambda a: a.opened(self, rnd))
        return opened

    def _save(self, rnd: Round) -> None:
        changed: Round = hooks.run_hook(rnd, lambda a: a.save(self, rnd))
        super()._save(changed)
        first = hooks.ATTACK is not None and hooks.ATTACK.first_published is None
        if first and changed.phase.value == "published":
            assert hooks.ATTACK is not None
            hooks.ATTACK.first_published = changed.round_id
            hooks.ATTACK.learned.add("control_round", changed.round_id)

    def tree_head(self, known_size: int) -> Any:
        forged = hooks.run_hook(None, lambda a: a.tree_head(self, known_size))
        return forged if forged is not None else super().tree_head(known_size)

    def budget_spent(self) -> bool:
        spent = super().budget_spent()
        return bool(hooks.run_hook(spent, lambda a: a.budget_spent(self, spent)))


class HostileService(launch.service.LauncherService):
    """The real gRPC service; remembers who calls, and lets the attack edit the reply to
    ``Register``."""

    def _caller(self, context: Any, *, registered: bool = True) -> str:
        hooks.CALLER.id = caller_id(context)
        return str(super()._caller(context, registered=registered))

    def Register(self, request: Any, context: Any) -> Any:
        reply = super().Register(request, context)
        hooks.run_hook(None, lambda a: a.register_reply(reply))
        return reply

    @property
    def _model(self) -> tuple[int, dict[bool, list[Any]]]:
        """No cache of the ``GetModel`` chunks: every call builds them through the attack's
        hook, what a version is may change (the attack's store) and the hook sees each
        caller. (Emptying the cache before each call was not enough: a call concurrent
        with another was served the other's cached chunks, its caller never recorded.)"""
        return (-1, {})

    @_model.setter
    def _model(self, _kept: tuple[int, dict[bool, list[Any]]]) -> None:
        pass

    def _render(self, rnd: Round) -> bytes:
        message = super()._render(rnd)
        hooks.run_hook(None, lambda a: a.rendered(rnd, message))
        return message

    async def WatchRounds(self, request: Any, context: Any) -> None:
        """The real watch, after any old announcements the attack replays to this caller;
        it ends when the attack's watch epoch moves on (the node watches again)."""
        await self._pooled(context, self._caller, context)
        for message in hooks.run_hook([], lambda a: a.replayed(caller_id(context))):
            await context.write(message)
        epoch = hooks.run_hook(0, lambda a: a.watch_epoch())
        moved = lambda: hooks.run_hook(epoch, lambda a: a.watch_epoch()) != epoch  # noqa: E731
        await super().WatchRounds(request, _Ending(context, moved))


class _Ending:
    """A call's context that reports itself done once ``moved()`` (the real watch asks)."""

    def __init__(self, context: Any, moved: Any) -> None:
        self._context, self._moved = context, moved

    def done(self) -> bool:
        return bool(self._moved() or self._context.done())

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)


class HostileCatalogue(launch.catalogue.LauncherCatalogue):
    """The real catalogue; what FetchCatalogue streams goes through the attack."""

    def since(self, version: int) -> Iterator[tuple[int, bytes, bytes]]:
        real = list(super().since(version))
        served: list[tuple[int, bytes, bytes]] = hooks.run_hook(
            real, lambda a: a.catalogue_since(self, version, real)
        )
        yield from served


_REAL_OPENING = launch.catalogue.opening_catalogue  # what launch.launcher imported


def hostile_opening(catalogue: Any, rnd: Round, model_rows: int) -> dict[str, int] | None:
    """The real ``round_open`` catalogue fields, as the attack wants them signed."""
    named = _REAL_OPENING(catalogue, rnd, model_rows)
    changed: dict[str, int] | None = hooks.run_hook(
        named, lambda a: a.opening(catalogue, rnd, named)
    )
    return changed


_REAL_ANNOUNCEMENT = launch.announce.announcement


def hostile_announcement(launcher: Any, rnd: Round | None) -> RoundAnnouncement | None:
    """The real announcement, as the attack wants the caller of this thread to see it."""
    ann = _REAL_ANNOUNCEMENT(launcher, rnd)
    if ann is None:
        return None
    changed: RoundAnnouncement = hooks.run_hook(ann, lambda a: a.announce(launcher, ann))
    return changed


_REAL_CHECK_UPLOAD = launch.service.check_upload


def hostile_check_upload(launcher: Any, upload: Any) -> None:
    """The launcher's real admission of an upload, after the attack has seen it."""
    hooks.run_hook(None, lambda a: a.upload_attempt(launcher, upload))
    _REAL_CHECK_UPLOAD(launcher, upload)


_REAL_ACCOUNTANT_FOR = launch.audit_trail.accountant_for  # type: ignore[attr-defined]


def hostile_accountant_for(sample_rates: Any) -> str:
    """The accountant the config entry names, as the attack wants it signed."""
    named = _REAL_ACCOUNTANT_FOR(sample_rates)
    return str(hooks.run_hook(named, lambda a: a.accountant(list(sample_rates), named)))


_REAL_MODEL_CHUNKS = convert.model_chunks


def hostile_model_chunks(model: Any, *, shared_result: bool = False) -> Iterator[Any]:
    """The real ``ModelChunk`` stream of ``GetModel``, as the attack wants it sent."""
    real = list(_REAL_MODEL_CHUNKS(model, shared_result=shared_result))
    sent: list[Any] = hooks.run_hook(real, lambda a: a.model_chunks(model, real))
    yield from sent


def install(attack: Attack) -> None:
    """Put the hooks in place of the real names (before the launcher command runs)."""
    hooks.ATTACK = attack
    launch.launcher.Launcher = HostileLauncher  # type: ignore[misc]
    launch.service.LauncherService = HostileService  # type: ignore[misc]
    launch.announce.announcement = hostile_announcement
    launch.service.announcement = hostile_announcement  # type: ignore[attr-defined]
    launch.catalogue.LauncherCatalogue = HostileCatalogue  # type: ignore[misc]
    launch.launcher.opening_catalogue = hostile_opening  # type: ignore[attr-defined]
    launch.service.check_upload = hostile_check_upload  # type: ignore[attr-defined]
    launch.audit_trail.accountant_for = hostile_accountant_for  # type: ignore[attr-defined]
    convert.model_chunks = hostile_model_chunks  # what launch.service's GetModel calls


def main(argv: list[str] | None = None) -> int:
    """Parse the options, install the attack and run the real launcher command."""
    from mpcrec.cli import launcher as launcher_command

    parser = argparse.ArgumentParser(prog="hostile_launcher", description=__doc__)
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--attack", choices=sorted(ATTACKS), required=True)
    parser.add_argument("--out", type=Path, required=True, help="what the launcher learned")
    parser.add_argument("--victim", default="tube-0")
    parser.add_argument("--colluders", default="", help="comma-separated instance ids")
    parser.add_argument(
        "--from-round", type=int, default=2, help="1: attack from the start; 2: after a publish"
    )
    parser.add_argument("--format", choices=("rich", "json"), default="json")
    parser.add_argument("--exit-when-done", action="store_true")
    args = parser.parse_args(argv)
    learned = Learned(args.out, args.attack)
    attack = ATTACKS[args.attack](
        learned,
        victim=args.victim,
        colluders=[c for c in args.colluders.split(",") if c],
        start=args.from_round,
    )
    attack.setup(args.config)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    install(attack)
    return int(
        launcher_command.run(
            argparse.Namespace(
                config=args.config,
                format=args.format,
                exit_when_done=args.exit_when_done,
                linger=1.0,  # the nodes fetch the last model before the launcher exits
            )
        )
    )


if __name__ == "__main__":
    sys.exit(main())
