"""`keras-vision export SOURCE OUT`: a model, preset or training workdir -> SavedModel for TF Serving."""

import argparse
import json
import pathlib
import tempfile

from keras_vision import export as export_lib
from keras_vision.cli import common
from keras_vision.export.manifest import max_parity_error
from keras_vision.presets import PresetError


def _csv(text):
    return [t.strip() for t in text.split(",") if t.strip()]


def register(subparsers):
    p = subparsers.add_parser(
        "export",
        help="export a preset, training workdir or .keras model as a SavedModel for TF Serving",
        description=(
            "Writes a TF SavedModel with named serving signatures and the eval pp inside the graph: "
            "serving_default takes encoded image bytes (JPEG/PNG/GIF/BMP/WebP, any size). Classifiers also "
            "get predict_images (uint8) and predict_images_float ([-1, 1]); two-tower models embed_images, "
            "embed_texts (SentencePiece in the graph) and zero_shot. A manifest.json next to saved_model.pb "
            "records signatures, pp, source, versions, parity error against Keras and size."
        ),
        epilog=(
            "examples:\n"
            "  keras-vision export runs/vit_shapes saved_models/vit_shapes/1\n"
            "  keras-vision export saved_models/presets/siglip_shapes saved_models/siglip/1 --platforms cpu,cuda\n"
            "  keras-vision export model.keras out/1 --pp 'resize(224)|value_range(-1, 1)' "
            "--class-names-file classes.txt"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("source", metavar="SOURCE", help="preset name or folder, training workdir, or .keras file")
    p.add_argument("out", metavar="OUT", help="output folder (for TF Serving: MODEL_BASE/<version>)")
    p.add_argument("--task", choices=("classification", "two_tower", "generation"), help="default: from the model")
    p.add_argument("--pp", help="eval pp string (default: the preset's / workdir's)")
    p.add_argument("--class-names", type=_csv, metavar="A,B,...", help="comma-separated class names")
    p.add_argument("--class-names-file", metavar="FILE", help="class names, one per line")
    p.add_argument("--top-k", type=int, default=5)
    p.add_argument("--activation", choices=("softmax", "sigmoid", "none"))
    p.add_argument("--platforms", type=_csv, metavar="P,...",
                   help="JAX backend: lower the model for these of cpu,cuda,rocm,tpu (default cpu)")
    p.add_argument("--step", type=int, help="checkpoint step of a workdir (default: latest)")
    t = p.add_argument_group("two-tower text")
    t.add_argument("--tokenizer", metavar="SPM", help="SentencePiece .model (default: the preset's)")
    t.add_argument("--text-pp", help="big_vision text pp with a tokenize(...) op")
    t.add_argument("--max-len", type=int)
    t.add_argument("--eos", choices=("sticky", "yes", "none"))
    t.add_argument("--pad-value", type=int)
    t.add_argument("--prompt-template", action="append", dest="prompt_templates", metavar="TEMPLATE",
                   help="zero-shot prompt with '{}' (repeatable)")
    g = p.add_argument_group("generation (PaliGemma, PaLI; --tokenizer is the SentencePiece model)")
    g.add_argument("--prompt-length", type=int, help="prompt tokens in the graph (longer prompts are cut; 32)")
    g.add_argument("--max-new-tokens", type=int, help="generated tokens (32)")
    g.add_argument("--sampler", help="'greedy' (default) or 'beam(n)'")
    p.add_argument("--overwrite", action="store_true", help="replace a non-empty OUT")
    p.add_argument("--no-verify", action="store_true", help="skip the parity check against Keras")
    p.add_argument("--check-tf-only", action="store_true",
                   help="also load and run every signature in a separate process without jax/keras_vision")
    p.add_argument("--json", action="store_true", help="print the whole manifest as JSON")
    p.set_defaults(func=run)


def run(args):
    names = args.class_names
    if args.class_names_file:
        if names:
            raise common.UsageError("Give --class-names or --class-names-file, not both.")
        names = [line.strip() for line in pathlib.Path(args.class_names_file).read_text().splitlines() if line.strip()]
    try:
        exporter = export_lib.build_exporter(
            args.source, task=args.task, pp=args.pp, class_names=names, top_k=args.top_k,
            activation=args.activation, tokenizer=args.tokenizer, text_pp=args.text_pp, max_len=args.max_len,
            eos=args.eos, pad_value=args.pad_value, prompt_templates=args.prompt_templates,
            platforms=args.platforms, step=args.step, prompt_length=args.prompt_length,
            max_new_tokens=args.max_new_tokens, sampler=args.sampler,
        )
        manifest = exporter.export(args.out, verify=not args.no_verify, overwrite=args.overwrite)
    except (export_lib.ExportError, PresetError, FileExistsError, FileNotFoundError) as e:
        raise common.UsageError(str(e)) from None
    if args.json:
        print(json.dumps(manifest, indent=2, default=str))
    else:
        _print_summary(args.out, manifest)
    if args.check_tf_only:
        with tempfile.TemporaryDirectory() as tmp:
            inputs, expected = export_lib.write_parity_bundle(exporter, tmp)
            report = export_lib.run_tf_only_check(args.out, inputs, expected)
        status = "ok" if report.get("ok") else "FAILED"
        print(f"TF-only process (no jax/keras_vision): {status}; signatures "
              f"{', '.join(report.get('signatures_available', []))}")
        if not report.get("ok"):
            print(json.dumps(report, indent=2, default=str)[:4000])
            return 1
    return 0


def _print_summary(out, manifest):
    print(f"SavedModel: {out} ({manifest['size_bytes'] / 1e6:.2f} MB, backend {manifest['backend']}, "
          f"platforms {', '.join(manifest['platforms'])})")
    print(f"pp in the graph: {manifest['preprocessing']['serving_pp']}")
    for name, sig in manifest["signatures"].items():
        ins = ", ".join(f"{k}:{v['dtype']}{v['shape'] if v['shape'] is not None else '[any rank]'}"
                        for k, v in sig["inputs"].items())
        print(f"  {name}({ins}) -> {', '.join(sig['outputs'])}")
    if "parity" in manifest:
        print(f"max |SavedModel - Keras| over all signatures: {max_parity_error(manifest['parity']):.2e}")
    print(f"manifest: {pathlib.Path(out) / 'manifest.json'}")
