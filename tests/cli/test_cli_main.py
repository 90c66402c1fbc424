"""`keras-vision` in-process: help everywhere, and usage errors that list what is known."""

import json
import textwrap

import pytest

from keras_vision.cli import main as cli

RECIPE = textwrap.dedent(
    """
    from keras_vision.config import ConfigDict, parse_arg

    def get_config(arg=None):
        arg = parse_arg(arg, variant="mu/8", runlocal=False)
        return ConfigDict(total_steps=5 if arg.runlocal else 500, lr=1e-3,
                          model=dict(variant=arg.variant, pool_type="gap"))
    """
)


@pytest.fixture
def recipe(tmp_path):
    d = tmp_path / "recipes"
    d.mkdir()
    (d / "tiny.py").write_text(RECIPE)
    (d / "second.py").write_text(RECIPE)
    return d / "tiny.py"


def test_top_level_help_lists_subcommands(capsys):
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "usage: keras-vision" in out and "train" in out and "eval" in out


@pytest.mark.parametrize("command", cli.command_modules())
def test_every_subcommand_has_help(command, capsys):
    assert cli.main([command, "--help"]) == 0
    assert f"usage: keras-vision {command}" in capsys.readouterr().out


def test_unknown_subcommand_lists_known(capsys):
    assert cli.main(["trian"]) == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'trian'" in err and "'train'" in err and "'eval'" in err


def test_unknown_argument(capsys):
    assert cli.main(["train", "x.py", "--bogus"]) == 2
    assert "unrecognized arguments: --bogus" in capsys.readouterr().err


def test_print_config_with_arg_and_overrides(recipe, capsys):
    rc = cli.main(["train", f"{recipe}:runlocal,variant=S/16", "--set", "lr=3e-3", "--set", "+mixup.p=0.2",
                   "--print-config"])
    assert rc == 0
    config = json.loads(capsys.readouterr().out)
    assert config["total_steps"] == 5 and config["model"]["variant"] == "S/16"
    assert config["lr"] == 3e-3 and config["mixup"] == {"p": 0.2}


def test_unknown_recipe_lists_recipes_without_traceback(recipe, capsys):
    assert cli.main(["train", str(recipe.parent / "tinny.py:runlocal"), "--print-config"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("keras-vision train: error: Unknown recipe")
    assert "tiny.py" in err and "second.py" in err and "Traceback" not in err


def test_unknown_recipe_argument(recipe, capsys):
    assert cli.main(["train", f"{recipe}:runlokal,variant=S/16", "--print-config"]) == 2
    err = capsys.readouterr().err
    assert "Unknown recipe argument" in err and "variant, runlocal" in err


def test_unknown_set_key_lists_known_keys(recipe, capsys):
    assert cli.main(["train", str(recipe), "--set", "model.pool=tok", "--print-config"]) == 2
    err = capsys.readouterr().err
    assert "Unknown config key 'model.pool'" in err and "pool_type, variant" in err and "+model.pool" in err


def test_eval_of_a_folder_that_is_not_a_run(tmp_path, capsys):
    assert cli.main(["eval", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert "Cannot load a model from" in err and "training workdir (config.json + checkpoints/)" in err


def test_registry_is_one_file_per_subcommand():
    import keras_vision.cli

    names = cli.command_modules()
    assert {"train", "eval"} <= set(names) and "main" not in names and "common" not in names
    for name in names:
        module = __import__(f"keras_vision.cli.{name}", fromlist=["register"])
        assert callable(module.register), name
    assert keras_vision.cli.__name__ == "keras_vision.cli"
