"""`keras-vision eval WORKDIR_OR_PRESET [--recipe RECIPE[:ARG]] [--step N] [--only NAME]`."""

import json
import pathlib

from keras_vision.cli import common
from keras_vision.trainers import evaluate_run


def register(subparsers):
    p = subparsers.add_parser(
        "eval",
        help="run a recipe's evaluators on a trained workdir or a saved model",
        description=(
            "Runs the evaluators of a config on a model: a training workdir (model and "
            "evals from its config.json, weights from its latest checkpoint) or a preset "
            "folder / .keras file (then --recipe names the evals)."
        ),
        epilog="example: keras-vision eval runs/vit_shapes_local --only val",
    )
    p.add_argument("target", metavar="WORKDIR_OR_PRESET", help="training workdir, preset folder or .keras file")
    common.add_recipe_argument(p, required=False, flag="--recipe")
    p.add_argument("--step", type=int, help="checkpoint step of a workdir (default: latest)")
    p.add_argument("--only", action="append", metavar="NAME", help="run only this eval (repeatable)")
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON here "
                   "(default for a workdir: WORKDIR/eval_step<N>.json)")
    p.set_defaults(func=run)


def run(args):
    config = common.load_config(args) if args.recipe else None
    if args.overrides and not args.recipe:
        raise common.UsageError("--set needs --recipe (a workdir's own config is not changed).")
    out = evaluate_run(args.target, config=config, step=args.step, only=args.only)
    print(json.dumps(out, indent=2))
    path = args.json
    if path is None and out["step"] is not None:
        path = pathlib.Path(args.target) / f"eval_step{out['step']}.json"
    if path:
        with open(path, "w") as f:
            json.dump(out, f, indent=2)
    return 0
