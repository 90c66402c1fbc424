"""`keras-vision bench {vit,two_tower,pali,pipeline,matmul,scaling,contrastive} ...`: speed and memory figures.

Every subcommand prints a table and, with `--json PATH`, writes the full record
(machine, config, per-step times, medians); `--json -` prints the JSON instead of the
table. Figures are medians after warm-up; no test asserts on them.
"""

import argparse
import json
import os
import sys

import jax
import keras

from keras_vision.bench import timing
from keras_vision.bench.contrastive import benchmark_chunked_sigmoid_loss
from keras_vision.bench.contrastive import format_rows
from keras_vision.bench.pali_bench import format_pali_table
from keras_vision.bench.pali_bench import run_pali_bench
from keras_vision.bench.pipeline_bench import format_pipeline_table
from keras_vision.bench.pipeline_bench import run_pipeline_bench
from keras_vision.bench.scaling import format_scaling_table
from keras_vision.bench.scaling import run_scaling
from keras_vision.bench.two_tower_bench import LOSSES
from keras_vision.bench.two_tower_bench import format_two_tower_table
from keras_vision.bench.two_tower_bench import run_two_tower_bench
from keras_vision.bench.vit_bench import format_vit_table
from keras_vision.bench.vit_bench import run_vit_bench
from keras_vision.cli import common


def register(subparsers):
    p = subparsers.add_parser(
        "bench",
        help="benchmarks: ViT train/infer vs native JAX, two-tower losses, PaliGemma decoding, input pipeline, matmul "
             "peak, scaling",
        description=(
            "Speed and memory benchmarks. `bench vit` times Keras' ViT training step and inference against the "
            "same ViT written in jax.numpy, in one process, and reports MFU against a matmul peak measured in the "
            "same run. See docs/performance.md."
        ),
        epilog="example: keras-vision bench vit --variant S/16 --res 224 --batch 8 --json vit_s16.json",
    )
    sub = p.add_subparsers(dest="bench", metavar="BENCH", required=True)

    v = sub.add_parser("vit", help="ViT train step / inference: Keras vs native JAX, MFU, memory")
    v.add_argument("--variant", default="S/16", help="big_vision ViT variant (default S/16)")
    v.add_argument("--res", type=int, default=224, help="image resolution (default 224)")
    v.add_argument("--batch", type=int, default=8, help="batch size (default 8)")
    v.add_argument("--mode", choices=("train", "infer", "both"), default="train")
    v.add_argument("--baseline", default="native",
                   help="comma-separated baselines: native (the jax.numpy ViT, default), native_vjp (the same "
                        "with the custom-VJP LayerNorm), or none")
    v.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32")
    v.add_argument("--pool", default="gap", help="big_vision pool_type: gap (default) or tok")
    v.add_argument("--num-classes", type=int, default=1000)
    v.add_argument("--warmup", type=int, default=2, help="untimed steps (the first compiles)")
    v.add_argument("--steps", type=int, default=3, help="timed steps per implementation per round")
    v.add_argument("--rounds", type=int, default=3, help="interleaved rounds (Keras, native, matmul peak)")
    v.add_argument("--matmul-n", type=int, default=None, help="peak matmul size (default 2048 CPU, 8192 GPU)")
    v.add_argument("--no-check", action="store_true", help="skip the native-vs-Keras logits check")
    _common_flags(v)
    v.set_defaults(func=_run_vit)

    t = sub.add_parser("two_tower", help="two-tower train step: dense vs chunked sigmoid loss")
    t.add_argument("--image-variant", default="mu/8")
    t.add_argument("--text-variant", default="mu")
    t.add_argument("--res", type=int, default=32)
    t.add_argument("--seq-len", type=int, default=16)
    t.add_argument("--vocab-size", type=int, default=1000)
    t.add_argument("--out-dim", type=int, default=64)
    t.add_argument("--batch", type=int, default=32)
    t.add_argument("--devices", type=int, default=None,
                   help="data-parallel devices (on CPU simulated via XLA_FLAGS; default: all visible)")
    t.add_argument("--loss", choices=("sigmoid", "sigmoid_chunked", "both"), default="both")
    t.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32")
    t.add_argument("--warmup", type=int, default=2)
    t.add_argument("--steps", type=int, default=3)
    t.add_argument("--rounds", type=int, default=2)
    _common_flags(t)
    t.set_defaults(func=_run_two_tower)

    g = sub.add_parser("pali", help="PaliGemma decoding: cached vs recomputed, tokens/s vs keras_hub",
                       description="Times PaliGemma decoding in one process: prefill, the KV-cached extend_cache step "
                                   "at each position, full recomputation (text_logits) per token, and greedy "
                                   "generate tokens/s against keras_hub's PaliGemmaCausalLM of the same size "
                                   "(random weights). Checks first that the cached greedy decode equals "
                                   "recomputation.")
    g.add_argument("--llm-width", type=int, default=256, help="Gemma width (default 256)")
    g.add_argument("--llm-depth", type=int, default=4, help="Gemma blocks (default 4)")
    g.add_argument("--heads", type=int, default=4, help="query heads (default 4)")
    g.add_argument("--kv-heads", type=int, default=1, help="key/value heads (default 1, multi-query)")
    g.add_argument("--head-dim", type=int, default=64)
    g.add_argument("--mlp-dim", type=int, default=1024, help="GeGLU size F, big_vision's mlp_dim (default 1024)")
    g.add_argument("--vocab", type=int, default=4096)
    g.add_argument("--image-size", type=int, default=64)
    g.add_argument("--patch", type=int, default=16)
    g.add_argument("--vit-width", type=int, default=256)
    g.add_argument("--vit-depth", type=int, default=2)
    g.add_argument("--vit-heads", type=int, default=4)
    g.add_argument("--prompt-len", type=int, default=16, help="prompt text tokens (default 16)")
    g.add_argument("--new-tokens", type=int, default=32, help="generated tokens per example (default 32)")
    g.add_argument("--batch", type=_positive_ints, default=(1, 16), help="comma-separated batch sizes (default 1,16)")
    g.add_argument("--rounds", type=int, default=5, help="timed rounds, ours and keras_hub alternating (default 5)")
    _common_flags(g)
    g.set_defaults(func=_run_pali)

    pp = sub.add_parser("pipeline", help="examples/s of a recipe's training input pipeline (no model)")
    common.add_recipe_argument(pp)
    pp.add_argument("--batch", type=int, default=None, help="override input.batch_size")
    pp.add_argument("--batches", type=int, default=20, help="timed batches")
    pp.add_argument("--warmup", type=int, default=2)
    _common_flags(pp, backend=False)
    pp.set_defaults(func=_run_pipeline)

    m = sub.add_parser("matmul", help="jitted (n, n) @ (n, n) matmul rate (the MFU denominator)")
    m.add_argument("--n", type=int, default=None, help="matrix size (default 2048 CPU, 8192 GPU)")
    m.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32")
    m.add_argument("--repeats", type=int, default=10)
    _common_flags(m, backend=False)
    m.set_defaults(func=_run_matmul)

    s = sub.add_parser("scaling", help="train step time and memory per device vs device count (JAX)")
    s.add_argument("--model", default="vit")
    s.add_argument("--variant", default="mu/8")
    s.add_argument("--devices", type=_device_counts, default=(1, 2, 4, 8), help="comma-separated device counts")
    s.add_argument("--layout", default="data", help="data, fsdp or fsdp_tp")
    s.add_argument("--batch", type=int, default=16)
    s.add_argument("--res", type=int, default=32)
    s.add_argument("--steps", type=int, default=5)
    s.add_argument("--warmup", type=int, default=2)
    _common_flags(s, backend=False)
    s.set_defaults(func=_run_scaling)

    c = sub.add_parser("contrastive", help="chunked vs dense SigLIP loss alone (value+grad) vs batch size (JAX)")
    c.add_argument("--batch-sizes", default="256,1024,4096", help="comma-separated global batch sizes")
    c.add_argument("--dim", type=int, default=256)
    c.add_argument("--devices", type=int, default=8, help="simulated CPU devices (set before JAX starts)")
    c.add_argument("--repeats", type=int, default=3)
    _common_flags(c, backend=False)
    c.set_defaults(func=_run_contrastive)


def _common_flags(parser, backend=True):
    parser.add_argument("--json", metavar="PATH", help="write the full record as JSON ('-': print it instead)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    if backend:
        parser.add_argument("--backend", dest="bench_backend", choices=("jax", "tensorflow", "torch"),
                            help="Keras backend the Keras model must run on (checked against the loaded one)")


def _check_backend(args):
    """`--backend` of a bench command must be the backend Keras was loaded with (`import keras_vision` loads it)."""
    backend = getattr(args, "bench_backend", None)
    if backend and keras.backend.backend() != backend:
        raise common.UsageError(f"Keras is already loaded with backend {keras.backend.backend()!r}; "
                                f"run `KERAS_BACKEND={backend} keras-vision bench ...`.")


def _set_device_count(n):
    """Simulated CPU devices: XLA reads the flag once, when JAX starts its backend.

    Importing JAX does not start it (the first device query does), so the flag set here
    takes effect unless something in this process already asked JAX for its devices.
    """
    if not n or n <= 1:
        return
    flags = [f for f in os.environ.get("XLA_FLAGS", "").split() if "xla_force_host_platform_device_count" not in f]
    os.environ["XLA_FLAGS"] = " ".join(flags + [f"--xla_force_host_platform_device_count={n}"])
    if jax.default_backend() == "cpu" and jax.device_count() < n:
        raise common.UsageError(f"JAX already started with {jax.device_count()} device(s); set "
                                f"XLA_FLAGS=--xla_force_host_platform_device_count={n} before running.")


def _log(args):
    return (lambda s: None) if args.quiet else (lambda s: print(s, file=sys.stderr, flush=True))


def _emit(args, record, table):
    if args.json == "-":
        print(json.dumps(record, indent=1))
        return 0
    print(table)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(record, f, indent=1)
        print(f"wrote {args.json}", file=sys.stderr)
    return 0


def _run_vit(args):
    _check_backend(args)
    modes = ("train", "infer") if args.mode == "both" else (args.mode,)
    record = run_vit_bench(
        args.variant, args.res, args.batch, modes=modes, baseline=None if args.baseline == "none" else args.baseline,
        dtype=args.dtype, pooling=args.pool, num_classes=args.num_classes, warmup=args.warmup, steps=args.steps,
        rounds=args.rounds, matmul_n=args.matmul_n, check=not args.no_check, log=_log(args),
    )
    return _emit(args, record, format_vit_table(record))


def _run_two_tower(args):
    _check_backend(args)
    _set_device_count(args.devices)
    record = run_two_tower_bench(
        args.image_variant, args.text_variant, args.res, args.seq_len, args.vocab_size, args.out_dim, args.batch,
        devices=args.devices, losses=LOSSES if args.loss == "both" else (args.loss,), warmup=args.warmup,
        steps=args.steps, rounds=args.rounds, dtype=args.dtype, log=_log(args),
    )
    return _emit(args, record, format_two_tower_table(record))


def _run_pali(args):
    _check_backend(args)
    record = run_pali_bench(
        llm_width=args.llm_width, llm_depth=args.llm_depth, heads=args.heads, kv_heads=args.kv_heads,
        head_dim=args.head_dim, mlp_dim=args.mlp_dim, vocab=args.vocab, image_size=args.image_size, patch=args.patch,
        vit_width=args.vit_width, vit_depth=args.vit_depth, vit_heads=args.vit_heads, prompt_len=args.prompt_len,
        new_tokens=args.new_tokens, batches=args.batch, rounds=args.rounds, log=_log(args),
    )
    return _emit(args, record, format_pali_table(record))


def _run_pipeline(args):
    record = run_pipeline_bench(args.recipe, args.overrides, batch_size=args.batch, batches=args.batches,
                                warmup=args.warmup, log=_log(args))
    return _emit(args, record, format_pipeline_table(record))


def _run_matmul(args):
    peak = timing.MatmulPeak(n=args.n, dtype=args.dtype)
    peak.sample(args.repeats)
    record = dict(matmul_peak=peak.result(), machine=timing.machine_info())
    r = record["matmul_peak"]
    table = (f"jax jitted {r['n']}x{r['n']} {r['dtype']} matmul on {r['device']}: median {r['gflops']:.1f} GFLOP/s, "
             f"max {r['gflops_max']:.1f} GFLOP/s ({r['samples']} samples)")
    return _emit(args, record, table)


def _device_counts(text):
    """argparse type of `--devices 1,2,4,8`."""
    try:
        counts = tuple(int(c) for c in text.split(",") if c.strip())
    except ValueError:
        counts = ()
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"expected comma-separated positive device counts, e.g. 1,2,4,8; got {text!r}")
    return counts


def _positive_ints(text):
    """argparse type of `--batch 1,16`."""
    try:
        values = tuple(int(c) for c in text.split(",") if c.strip())
    except ValueError:
        values = ()
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected comma-separated positive integers, e.g. 1,16; got {text!r}")
    return values


def _run_scaling(args):
    records = run_scaling(model=args.model, variant=args.variant, device_counts=args.devices, batch_size=args.batch,
                          steps=args.steps, warmup=args.warmup, layout=args.layout, image_size=args.res)
    return _emit(args, dict(records=records), format_scaling_table(records))


def _run_contrastive(args):
    _set_device_count(args.devices)
    sizes = tuple(int(b) for b in args.batch_sizes.split(",") if b)
    rows = benchmark_chunked_sigmoid_loss(sizes, dim=args.dim, repeats=args.repeats)
    return _emit(args, dict(rows=rows), format_rows(rows))
