"""`keras-vision` command line: one subcommand per file in keras_vision/cli/.

Adding a subcommand is one new file `keras_vision/cli/<name>.py` defining
`register(subparsers)`, which adds its parser and sets `func` (called with the parsed
args; returns an exit code or None):

    def register(subparsers):
        p = subparsers.add_parser("hello", help="say hello", description="Says hello.")
        p.add_argument("--name", default="world")
        p.set_defaults(func=lambda args: print(f"hello {args.name}"))

Every subcommand's module is imported to build `--help`; `import keras_vision`
already loads Keras, TensorFlow and every model family, so subcommand modules import
what they use at module level. `--backend` sets KERAS_BACKEND, which Keras reads once,
at its first import.

Errors: argparse errors, `ConfigError`/`UsageError` (bad recipe, recipe argument or
config key) and errors whose message starts with "Unknown" (registries listing their
known names) print one line and exit with code 2; a diverged run exits with 1.
"""

import argparse
import importlib
import os
import pkgutil
import sys

import keras_vision.cli as pkg
from keras_vision.config import ConfigError
from keras_vision.trainers.errors import TrainingDivergedError

_NOT_COMMANDS = {"main", "common"}


def command_modules():
    """Names of the subcommand modules in keras_vision/cli (files not starting with '_')."""
    return sorted(
        info.name for info in pkgutil.iter_modules(pkg.__path__)
        if not info.name.startswith("_") and info.name not in _NOT_COMMANDS
    )


def build_parser():
    parser = argparse.ArgumentParser(
        prog="keras-vision",
        description="big_vision's models and recipes on Keras 3: train, evaluate, export, convert.",
    )
    parser.add_argument(
        "--backend", choices=("jax", "tensorflow", "torch"),
        help="Keras backend (default: $KERAS_BACKEND, else jax)",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in command_modules():
        module = importlib.import_module(f"keras_vision.cli.{name}")
        if hasattr(module, "register"):
            module.register(subparsers)
    return parser


def _apply_backend(argv):
    # Keras reads KERAS_BACKEND once, at import: set it before any subcommand runs.
    for i, a in enumerate(argv):
        if a == "--backend" and i + 1 < len(argv):
            os.environ["KERAS_BACKEND"] = argv[i + 1]
        elif a.startswith("--backend="):
            os.environ["KERAS_BACKEND"] = a.split("=", 1)[1]
        elif not a.startswith("-"):
            break  # the subcommand: later flags are its own


def _is_usage_error(e):
    if isinstance(e, ConfigError):
        return True
    text = str(e.args[0]) if isinstance(e, KeyError) and e.args else str(e)
    return isinstance(e, (ValueError, KeyError)) and text.startswith("Unknown")


def main(argv=None):
    """Runs `keras-vision ARGV`; returns the exit code (0 ok, 1 failure, 2 usage error)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    _apply_backend(argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help (0) and argparse errors (2), already printed
        return e.code if isinstance(e.code, int) else 2
    prog = f"keras-vision {args.command}"
    try:
        rc = args.func(args)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except Exception as e:
        if isinstance(e, TrainingDivergedError):
            print(f"{prog}: error: {e}", file=sys.stderr)
            return 1
        if _is_usage_error(e):
            print(f"{prog}: error: {e}", file=sys.stderr)
            return 2
        raise
    return int(rc or 0)


if __name__ == "__main__":
    sys.exit(main())
