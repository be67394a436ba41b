"""The generic interactions file: good files parse, every bad one is one clear error (exit 2)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mpcrec.cli.app import main
from mpcrec.data.interaction_file import load_interaction_file
from mpcrec.errors import DataError

GOOD = "user,item,timestamp\n" + "".join(
    f"u{u},i{i},{10 * u + i}\n" for u in range(3) for i in range(4)
)


def write(tmp_path: Path, text: str, name: str = "events.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_csv_parses_with_dense_indices(tmp_path: Path) -> None:
    data = load_interaction_file(write(tmp_path, GOOD))
    assert (data.n_users, data.n_items, len(data)) == (3, 4, 12)
    assert data.user_ids == ("u0", "u1", "u2")
    assert data.weights.tolist() == [1.0] * 12
    assert data.user_instance is None


def test_tsv_with_weight_instance_and_extra_column(tmp_path: Path) -> None:
    rows = ["user\titem\ttimestamp\tweight\tinstance\tnote"]
    rows += [f"{u}\t{i}\t{i}\t{0.5 + i}\tpod{u % 2}\tx" for u in (7, 8, 9) for i in (1, 2, 3)]
    data = load_interaction_file(write(tmp_path, "\n".join(rows) + "\n", "events.tsv"))
    assert data.user_ids == ("7", "8", "9")
    assert data.user_instance == ("pod1", "pod0", "pod1")
    assert np.allclose(data.weights[:3], [1.5, 2.5, 3.5])


def test_repeated_pairs_keep_the_first_event(tmp_path: Path) -> None:
    data = load_interaction_file(write(tmp_path, GOOD + "u0,i0,999\n"))
    assert len(data) == 12
    first = np.flatnonzero((data.users == 0) & (data.items == 0))
    assert data.timestamps[first].tolist() == [0.0]


BAD = {
    "empty": ("", "is empty"),
    "header only": ("user,item,timestamp\n", "no interactions"),
    "duplicate header": (GOOD + "user,item,timestamp\n", ":14: the header appears again"),
    "duplicate column": ("user,item,timestamp,user\n", "column 'user' appears twice"),
    "missing column": ("user,item\nu,i\n", "lacks the column(s) timestamp"),
    "non-numeric timestamp": (GOOD.replace("u1,i2,12", "u1,i2,noon"), ":8: timestamp 'noon'"),
    "field count": (GOOD.replace("u2,i0,20", "u2,i0"), ":10: expected 3 fields, got 2"),
    "too few interactions": (GOOD + "u9,i1,5\nu9,i2,6\n", "user 'u9' has 2 distinct"),
    "empty instance": (
        "user,item,timestamp,instance\na,1,1,x\na,2,2,\na,3,3,x\n",
        ":3: the instance field is empty",
    ),
    "two instances": (
        "user,item,timestamp,instance\na,1,1,x\na,2,2,y\na,3,3,x\n",
        "user 'a' is in instance 'y' here but in 'x' on line 2",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_file_is_one_clear_error(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text, expected = BAD[case]
    path = write(tmp_path, text)
    with pytest.raises(DataError, match=None) as err:
        load_interaction_file(path)
    assert expected in str(err.value)
    out = tmp_path / "out.json"
    code = main(["bench", "quality", "--interactions", str(path), "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 2
    assert "Traceback" not in captured.err
    assert captured.err.startswith("error: ")
    assert "".join(expected.split()) in "".join(captured.err.split())
    assert path.name in "".join(captured.err.split())  # rich may wrap long paths
    assert not out.exists()


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file"):
        load_interaction_file(tmp_path / "absent.csv")
