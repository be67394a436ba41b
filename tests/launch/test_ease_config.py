"""``ease:`` in federation.yaml (issue 16): the Gram release's settings in the signed round
parameters (hashed only when set), on the wire to nodes, and the settings it refuses."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from launch.config import LauncherConfig
from mpcrec.errors import ConfigError
from mpcrec.federation.registration import Registered
from mpcrec.federation.round_params import EASE_FIELDS, RoundParams
from mpcrec.model.item_gram import gram_slices
from mpcrec.proto.convert import registered_from_pb, registered_to_pb

MODEL = "{n_items: 40, dim: 8, model: seqrec, clip_norm: 8.0, server_lr: 8.0}"
EASE = "{lambda: 50.0, weight: 0.3, clip_counts: 4096, slice_values: 300}"


def _load(tmp_path: Path, *, model: str = MODEL, extra: str = f"ease: {EASE}\n") -> LauncherConfig:
    path = tmp_path / "federation.yaml"
    path.write_text(
        "listen: 127.0.0.1:1\ntls: {cert: a, key: b, ca: c}\n"
        f"model: {model}\nbeacon: {{unsafe_commit_reveal_only: true}}\n{extra}"
    )
    return LauncherConfig.load(path)


def test_the_ease_section_is_signed_and_its_slices_are_the_first_rounds(tmp_path: Path) -> None:
    params = _load(tmp_path).spec.params(committee_size=3, min_contributors=3)
    plain = _load(tmp_path, extra="").spec.params(committee_size=3, min_contributors=3)

    assert params.to_json()["ease_lambda"] == 50.0 and params.ease_slice_values == 300
    # 40 videos: 820 triangle values in slices of at most 300, as item_gram cuts them
    assert params.gram_slices(40) == len(gram_slices(40, 300)) == 3
    assert [params.gram_round(v, 40) for v in (-1, 0, 2, 3)] == [False, True, True, False]
    assert params.digest != plain.digest
    # without the section the logged parameters (and so every earlier digest) are unchanged
    assert not set(EASE_FIELDS) & set(plain.to_json()) and plain.gram_slices(40) == 0
    assert RoundParams.from_json(params.to_json()) == params
    assert RoundParams.from_json(plain.to_json()) == plain


def test_nodes_learn_the_release_when_they_register(tmp_path: Path) -> None:
    spec = _load(tmp_path).spec
    sent = Registered("a", b"k" * 32, 0, spec, committee_size=3, min_contributors=3)

    assert registered_from_pb(registered_to_pb(sent)).spec == spec
    plain = replace(sent, spec=_load(tmp_path, extra="").spec)
    assert registered_from_pb(registered_to_pb(plain)).spec.ease_slice_values == 0


@pytest.mark.parametrize(
    ("model", "extra", "words"),
    [
        (MODEL, f"ease: {EASE}\nprivacy: {{epsilon_budget: 8.0}}\n", "not differentially"),
        (
            MODEL,
            f"ease: {EASE}\nprivacy: {{unit: user, epsilon_budget: 8.0, user_rate: 0.2, "
            "user_clip_norm: 0.1}\nschedule: {rounds: 10}\n",
            "not differentially",
        ),
        (MODEL.replace("seqrec", "mf"), f"ease: {EASE}\n", "serves seqrec"),
        (MODEL.replace("}", ", noise_multiplier: 1.0}"), f"ease: {EASE}\n", "unnoised"),
        (MODEL.replace("}", ", aggregation: plaintext}"), f"ease: {EASE}\n", "only the"),
        (MODEL, "ease: {slice_values: 0}\n", "slice_values 0"),
        (MODEL, "ease: {lambda: -1.0}\n", "lambda -1"),
        (MODEL, "ease: {weight: 1.5}\n", "weight 1.5"),
        (MODEL, "ease: {clip_counts: 0.5}\n", "clip_counts 0.5"),
    ],
)
def test_a_release_that_cannot_run_is_refused_naming_why(
    tmp_path: Path, model: str, extra: str, words: str
) -> None:
    with pytest.raises(ConfigError, match=words):
        _load(tmp_path, model=model, extra=extra)
