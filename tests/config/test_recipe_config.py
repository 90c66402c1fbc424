import json
import textwrap

import pytest

from keras_vision.config import ConfigDict
from keras_vision.config import ConfigError
from keras_vision.config import apply_overrides
from keras_vision.config import get_steps
from keras_vision.config import load_recipe
from keras_vision.config import parse_arg
from keras_vision.config import split_recipe_arg

RECIPE = textwrap.dedent(
    """
    from keras_vision.config import ConfigDict, parse_arg

    def get_config(arg=None):
        arg = parse_arg(arg, variant="B/16", runlocal=False, res=224)
        c = ConfigDict()
        c.seed = 0
        c.total_steps = 10 if arg.runlocal else 1000
        c.model = dict(variant=arg.variant, pool_type="gap")
        c.input = dict(batch_size=8, data=dict(name="shapes", split="train"))
        c.res = arg.res
        return c
    """
)


@pytest.fixture
def recipe_dir(tmp_path):
    d = tmp_path / "recipes"
    d.mkdir()
    (d / "tiny.py").write_text(RECIPE)
    (d / "other.py").write_text(RECIPE)
    (d / "_helpers.py").write_text("")
    return d


def test_configdict_attribute_access_nested_and_json_roundtrip():
    c = ConfigDict(model=dict(variant="S/16", sizes=[dict(a=1)]), lr=1e-3)
    assert c.model.variant == "S/16"
    assert isinstance(c.model, ConfigDict) and isinstance(c.model.sizes[0], ConfigDict)
    c.input = {"batch_size": 4}
    c.input.batch_size = 8
    assert c["input"]["batch_size"] == 8
    assert c.get("input.batch_size") == 8 and c.get("input.nope", 3) == 3
    c.schedule = [(".*", dict(decay_type="cosine"))]
    back = ConfigDict.from_json(c.to_json())
    assert back.model.variant == "S/16" and back.lr == 1e-3
    assert back.schedule == [[".*", {"decay_type": "cosine"}]]  # tuples become lists
    with pytest.raises(AttributeError, match="known keys"):
        c.modle


def test_configdict_json_of_callables_is_stable():
    def fn():
        pass

    a = json.loads(ConfigDict(f=fn, obj=object()).to_json())
    assert a["f"].endswith("fn>") and "0x" not in a["obj"]


def test_parse_arg_types_flags_and_errors():
    a = parse_arg("variant=S/16,runlocal", variant="B/16", runlocal=False, res=224)
    assert (a.variant, a.runlocal, a.res) == ("S/16", True, 224)
    assert parse_arg("", variant="B/16", runlocal=False).runlocal is False
    assert parse_arg("S/32", variant="B/16", runlocal=False).variant == "S/32"  # bare first value
    assert parse_arg("runlocal", variant="B/16", runlocal=False).runlocal is True
    assert parse_arg("res=128", res=224).res == 128
    assert parse_arg("runlocal=False", runlocal=True).runlocal is False
    assert parse_arg("x=1,y=two,z=true", lazy=True) == {"x": 1, "y": "two", "z": True}
    with pytest.raises(ConfigError, match=r"Unknown recipe argument.*'bogus'.*accepts: variant, runlocal"):
        parse_arg("bogus=1", variant="B/16", runlocal=False)
    with pytest.raises(ConfigError, match="res=.*'abc'"):
        parse_arg("res=abc", res=224)
    with pytest.raises(ConfigError, match="boolean"):
        parse_arg("runlocal=maybe", runlocal=False)


def test_split_recipe_arg():
    assert split_recipe_arg("recipes/x.py:variant=S/16,runlocal") == ("recipes/x.py", "variant=S/16,runlocal")
    assert split_recipe_arg("recipes/x.py") == ("recipes/x.py", None)


def test_load_recipe_with_arg_and_overrides(recipe_dir):
    c = load_recipe(f"{recipe_dir}/tiny.py:variant=S/16,runlocal", ["model.pool_type='tok'"])
    assert c.model.variant == "S/16" and c.total_steps == 10 and c.model.pool_type == "tok"
    assert load_recipe(f"{recipe_dir}/tiny.py").total_steps == 1000


def test_unknown_recipe_lists_known_recipes(recipe_dir):
    with pytest.raises(ConfigError) as e:
        load_recipe(f"{recipe_dir}/nope.py:runlocal")
    msg = str(e.value)
    assert "nope.py" in msg and "tiny.py" in msg and "other.py" in msg and "_helpers" not in msg


def test_overrides_literals_strings_and_new_keys():
    c = ConfigDict(lr=1.0, model=dict(variant="B/16", dims=None), evals={})
    apply_overrides(c, ["lr=3e-3", "model.variant=S/16", "model.dims=(1, 2)", "evals={'a': {'type': 'x'}}"])
    assert c.lr == 3e-3 and c.model.variant == "S/16" and c.model.dims == (1, 2)
    assert c.evals.a.type == "x"
    apply_overrides(c, ["+mixup.p=0.2", "+model.dropout_rate=0.1"])
    assert c.mixup.p == 0.2 and c.model.dropout_rate == 0.1


def test_override_unknown_key_lists_known_keys_at_that_level():
    c = ConfigDict(lr=1.0, model=dict(variant="B/16", pool_type="gap"))
    with pytest.raises(ConfigError) as e:
        apply_overrides(c, ["model.varaint=S/16"])
    msg = str(e.value)
    assert "'model.varaint'" in msg and "pool_type, variant" in msg and "+model.varaint" in msg
    with pytest.raises(ConfigError, match="known keys at the top level: lr, model"):
        apply_overrides(c, ["optim.lr=1"])
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        apply_overrides(c, ["lr"])
    with pytest.raises(ConfigError, match="not a dict"):
        apply_overrides(c, ["lr.x=1"])


def test_get_steps_units():
    assert get_steps("log", {"log_steps": 7}) == 7
    assert get_steps("log", {"log_epochs": 2}, steps_per_epoch=50) == 100
    assert get_steps("log", {"log_percent": 0.1}, total_steps=300) == 30
    assert get_steps("log", {"log_examples": 640}, batch_size=64) == 10
    assert get_steps("log", {}, default=5) == 5
    with pytest.raises(ConfigError, match="only one"):
        get_steps("ckpt", {"ckpt_steps": 1, "ckpt_epochs": 1})
