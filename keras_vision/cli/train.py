"""`keras-vision train RECIPE[:ARG] --workdir DIR [--set KEY=VALUE ...]`."""

import pathlib

from keras_vision.cli import common


def register(subparsers):
    p = subparsers.add_parser(
        "train",
        help="train a recipe (resumes from the workdir's last checkpoint)",
        description=(
            "Trains a big_vision-style recipe. Started again with the same command, a run "
            "resumes from its last checkpoint and ends with the same weights. The workdir "
            "gets config.json, metrics.csv, tensorboard/, checkpoints/, summary.json and metrics.png."
        ),
        epilog="example: keras-vision train recipes/vit_shapes.py:runlocal --workdir runs/vit_shapes_local",
    )
    common.add_recipe_argument(p)
    p.add_argument("--workdir", help="run directory (default: runs/<recipe name>)")
    p.add_argument("--print-config", action="store_true", help="print the resolved config as JSON and exit")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=run)


def run(args):
    config = common.load_config(args)
    if args.print_config:
        from keras_vision.trainers.run_config import resolve_run_config  # why local: --backend applies first

        print(resolve_run_config(config).to_json())
        return 0
    # why local: `keras-vision --backend X` must set KERAS_BACKEND before keras is first imported.
    from keras_vision.config import split_recipe_arg
    from keras_vision.trainers import train

    workdir = args.workdir or str(pathlib.Path("runs") / pathlib.Path(split_recipe_arg(args.recipe)[0]).stem)
    train(config, workdir, verbose=not args.quiet)
    return 0
