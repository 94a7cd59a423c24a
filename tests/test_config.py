"""Config: presets, dotted overrides parsed by field type, unknown keys refused, JSON round-trip, validation."""

import json

import pytest

from slmrec import config
from slmrec.errors import ConfigError


@pytest.mark.parametrize("name", ["tiny", "small", "paper"])
def test_round_trip(name, tmp_path):
    cfg = config.preset(name)
    config.save(cfg, tmp_path / "config.json")
    assert config.load(tmp_path / "config.json") == cfg
    assert config.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg


def test_overrides_are_typed():
    cfg = config.override(config.preset("tiny"), {"teacher.lr": "3e-4", "llm.prompt": "true", "teacher.epochs": "7"})
    assert cfg.teacher.lr == 3e-4 and cfg.llm.prompt is True and cfg.teacher.epochs == 7
    with pytest.raises(ConfigError, match="integer"):
        config.override(cfg, {"teacher.epochs": "two"})


def test_unknown_keys_and_presets_are_errors():
    with pytest.raises(ConfigError, match="unknown config key 'teacher.lrr'"):
        config.override(config.Config(), {"teacher.lrr": "1"})
    with pytest.raises(ConfigError, match="unknown preset"):
        config.preset("huge")
    with pytest.raises(ConfigError):
        config.from_dict({"teacher": {"nope": 1}})


def test_layers_must_divide_into_blocks():
    bad = config.override(config.preset("small"), {"llm.teacher_layers": "6"})
    with pytest.raises(ConfigError, match="divide by distill.blocks"):
        config.validate(bad)
    config.validate(config.preset("small"))
    with pytest.raises(ConfigError, match="no backbone"):
        config.validate(config.preset("paper"))


def test_batch_must_divide_into_processes():
    cfg = config.override(config.preset("tiny"), {"teacher.batch_size": "63"})
    with pytest.raises(ConfigError, match="teacher.batch_size=63"):
        config.validate(cfg, world_size=2)


def test_every_field_has_a_comment():
    comments = config.field_comments()
    assert set(comments) == set(config.keys())
    assert all(comments.values())


# what a word key's every choice needs set beside it
NEEDS = {
    "sasrec.negatives_from": {"sasrec.positions": "all", "sasrec.negatives": 4},
    "sasrec.softmax_exclude": {"sasrec.positions": "all"},
}


@pytest.mark.parametrize("key", sorted(config.CHOICES))
def test_each_word_key_accepts_its_choices_and_names_them_when_refusing(key):
    base = config.override(config.preset("tiny"), NEEDS.get(key, {}))
    for good in config.CHOICES[key]:
        config.validate(config.override(base, {key: good}))
    allowed = config.CHOICES[key]
    with pytest.raises(ConfigError, match=f"{key} must be {', '.join(allowed[:-1])} or {allowed[-1]}, not 'bogus'"):
        config.validate(config.override(base, {key: "bogus"}))


def test_a_saved_config_is_not_re_resolved_through_todays_recipe():
    """An older run's config lacks keys added since; loading it must give them their defaults, not the recipe's."""
    cfg = config.override(config.preset("small"), {"sasrec.recipe": "strong"})
    saved = cfg.to_dict()
    del saved["sasrec"]["item_dropout"]  # a key the recipe sets, missing as in a config saved before it existed
    back = config.from_dict(saved)
    assert back.sasrec.recipe == "strong"
    assert back.sasrec.item_dropout == config.SASRecConfig().item_dropout != cfg.sasrec.item_dropout
    assert config.from_dict(cfg.to_dict()) == cfg  # a complete config round-trips


def test_the_strong_recipe_windows_follow_max_len_and_a_stride_over_it_is_an_error():
    """The strong recipe's stride is 0 (= max_len), so a shorter --data.max_len keeps windows of that length; a
    stride over max_len, set by hand, is an error naming both."""
    for max_len in ("50", "30"):
        cfg = config.override(config.preset("small"), {"sasrec.recipe": "strong", "data.max_len": max_len})
        config.validate(cfg)
        assert config.sasrec_windows(cfg) == config.effective_keys(cfg)["sasrec.stride"] == int(max_len)
        assert config.keys(cfg)["sasrec.stride"] == 0
    assert config.sasrec_windows(config.override(config.preset("small"), {"sasrec.positions": "last"})) is None
    with pytest.raises(ConfigError, match=r"sasrec.stride must be in 0..data.max_len \(30\), not 40$"):
        config.validate(config.override(config.preset("small"), {"data.max_len": "30", "sasrec.stride": "40"}))
