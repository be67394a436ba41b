"""``mpcrec catalogue show|export|verify`` on a launcher's catalogue and its exported log."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from launch.catalogue import LauncherCatalogue
from mpcrec.audit.log import AuditLog
from mpcrec.cli.app import main
from mpcrec.data.catalogue import VideoRecord, encode_diff, make_diff
from mpcrec.data.catalogue_merge import InstanceExport
from mpcrec.data.catalogue_store import version_file


def video(n: int) -> VideoRecord:
    return VideoRecord(f"https://a/videos/watch/{n}", uuid=f"{n:036d}", name=f"v{n}")


@pytest.fixture
def federation(tmp_path: Path) -> tuple[Path, Path]:
    key = Ed25519PrivateKey.generate()
    pinned = {"launcher": key.public_key().public_bytes_raw().hex(), "instances": {}}
    (tmp_path / "keys.json").write_text(json.dumps(pinned))
    audit = AuditLog(tmp_path / "launcher.sqlite", launcher_key=key)
    catalogue = LauncherCatalogue(tmp_path / "catalogue", audit)
    catalogue.submit(InstanceExport("a", (video(1), video(2))))
    catalogue.publish(1)
    catalogue.submit(InstanceExport("a", (video(1), video(3))))
    catalogue.publish(2)
    audit.sign_head()
    audit.export_jsonl(tmp_path / "audit.jsonl")
    return tmp_path / "catalogue", tmp_path / "audit.jsonl"


def test_show_export_and_verify_an_honest_copy(
    federation: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory, log = federation
    assert main(["catalogue", "verify", str(directory), "--log", str(log)]) == 1  # no key
    assert "unknown author 'launcher'" in capsys.readouterr().out
    assert main(["catalogue", "show", str(directory), "--format", "json"]) == 0
    shown = json.loads(capsys.readouterr().out)["versions"]
    assert [(v["version"], v["rows"], v["retired"]) for v in shown] == [(1, 2, 0), (2, 3, 1)]
    assert main(["catalogue", "export", str(directory), "--out", str(tmp_path / "c.txt"),
                 "--format", "txt"]) == 0  # fmt: skip
    assert (tmp_path / "c.txt").read_text().splitlines()[2] == f"https://a/videos/watch/3 {3:036d}"
    assert main(["catalogue", "export", str(directory), "--out", str(tmp_path / "c.jsonl")]) == 0
    rows = [json.loads(x) for x in (tmp_path / "c.jsonl").read_text().splitlines()]
    assert [r["retired"] for r in rows] == [False, True, False] and rows[0]["instance"] == "a"
    capsys.readouterr()
    assert (
        main(
            [
                "catalogue",
                "verify",
                str(directory),
                "--log",
                str(log),
                "--keys",
                str(log.parent / "keys.json"),
            ]
        )
        == 0
    )
    assert "VERIFIED: 2 versions" in capsys.readouterr().out


def test_verify_names_a_copy_the_launcher_did_not_sign(
    federation: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a consistent chain (hashes recomputed) whose row 0 is another video: not the signed one
    directory, log = federation
    copy = tmp_path / "copy"
    copy.mkdir()
    forged = make_diff(version=1, previous=bytes(32), first_row=0, retired_before=0,
                       records=[VideoRecord("https://evil/1", instance="a"), video(2)],
                       new_retired=[])  # fmt: skip
    version_file(copy, 1).write_bytes(encode_diff(forged))
    assert (
        main(
            [
                "catalogue",
                "verify",
                str(copy),
                "--log",
                str(log),
                "--keys",
                str(log.parent / "keys.json"),
            ]
        )
        == 1
    )
    out = capsys.readouterr().out
    assert "not the one the launcher signed" in out and "lacks signed versions [2]" in out
    shutil.copy(version_file(directory, 2), version_file(copy, 2))
    assert main(["catalogue", "show", str(copy)]) == 2  # version 2 does not extend the forgery
    assert "previous hash" in capsys.readouterr().err
