"""`keras-vision demo`: the README's main job — SigLIP on shapes, evaluated and exported."""

import json
import pathlib

from keras_vision.cli.main import main as cli_main


def register(subparsers):
    p = subparsers.add_parser(
        "demo",
        help="train SigLIP on the embedded shapes world, evaluate it, export a SavedModel",
        description=(
            "Trains recipes/siglip_shapes.py (resuming if the workdir has a checkpoint), runs its "
            "zero-shot and retrieval evaluators on held-out shapes, exports a SavedModel checked "
            "in a TensorFlow-only process, and prints where everything went."
        ),
    )
    p.add_argument("--recipe", default="recipes/siglip_shapes.py", help="recipe[:arg] to run")
    p.add_argument("--workdir", default="runs/demo")
    p.add_argument("--export", default="saved_models/demo", help="TF Serving model base (version 1 is written)")
    p.set_defaults(func=run)


def run(args):
    rc = cli_main(["train", args.recipe, "--workdir", args.workdir])
    if rc:
        return rc
    out = str(pathlib.Path(args.export) / "1")
    rc = cli_main(["export", args.workdir, out, "--overwrite", "--check-tf-only"])
    if rc:
        return rc
    workdir = pathlib.Path(args.workdir)
    summary = json.loads((workdir / "summary.json").read_text())
    print("\n=== keras-vision demo: done ===")
    print(json.dumps(summary.get("evals", summary.get("eval", {})), indent=1, default=str)[:3000])
    print(f"metrics:     {workdir / 'metrics.csv'} (TensorBoard: {workdir / 'tensorboard'})")
    print(f"checkpoints: {workdir / 'checkpoints'}")
    print(f"plot:        {workdir / 'metrics.png'}")
    print(f"summary:     {workdir / 'summary.json'}")
    print(f"SavedModel:  {out} (manifest: {pathlib.Path(out) / 'manifest.json'})")
    return 0
