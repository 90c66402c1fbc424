#!/usr/bin/env bash
# Runs the keras-vision benchmarks on one GPU (sized for a single H100, < 5 minutes)
# and prints MFU in bfloat16 against (a) the matmul peak measured in the same run and
# (b) the datasheet peak (H100 SXM: 989 TFLOP/s dense bf16; set PEAK_TFLOPS for another card).
#
#   KERAS_BACKEND=jax scripts/gpu_bench.sh [OUT_DIR]
#
# Needs jax with CUDA (pip install "jax[cuda12]") in the environment; nothing else changes.
set -euo pipefail
OUT=${1:-bench_gpu}
PEAK_TFLOPS=${PEAK_TFLOPS:-989}
PY=${PYTHON:-python}
export KERAS_BACKEND=${KERAS_BACKEND:-jax}
mkdir -p "$OUT"
kv() { "$PY" -m keras_vision.cli.main "$@"; }

"$PY" -c "import jax; d = jax.devices()[0]; print('device:', d.device_kind, d.platform)"
kv bench matmul --dtype bfloat16 --json "$OUT/matmul_bf16.json"
kv bench matmul --dtype float32 --json "$OUT/matmul_f32.json"
# ViT-B/16 training step and inference, bf16 (Keras mixed_bfloat16 vs the jax.numpy ViT).
kv bench vit --variant B/16 --res 224 --batch 128 --dtype bfloat16 --mode both \
  --baseline native,native_vjp --warmup 2 --steps 5 --rounds 3 --json "$OUT/vit_b16_bf16.json"
# ViT-S/16 at the CPU figure's settings, bf16, larger batch.
kv bench vit --variant S/16 --res 224 --batch 256 --dtype bfloat16 --mode train \
  --baseline native --warmup 2 --steps 5 --rounds 3 --json "$OUT/vit_s16_bf16.json"
# Input pipeline of the i1k recipe is data-dependent; the shapes recipe needs no download.
kv bench pipeline recipes/vit_shapes.py:runlocal --batches 50 --json "$OUT/pipeline_shapes.json" || true

"$PY" - "$OUT" "$PEAK_TFLOPS" <<'PYEOF'
import json, pathlib, sys
out, datasheet = pathlib.Path(sys.argv[1]), float(sys.argv[2])
peak = json.loads((out / "matmul_bf16.json").read_text())["matmul_peak"]
print(f"\nmeasured bf16 matmul peak: {peak['gflops'] / 1e3:.0f} TFLOP/s ({peak['n']}^3, {peak['device']}); "
      f"datasheet {datasheet:.0f} TFLOP/s")
print(f"{'run':<22} {'impl':<12} {'mode':<6} {'step ms':>9} {'img/s':>9} {'TFLOP/s':>8} "
      f"{'MFU meas':>9} {'MFU sheet':>9}")
for name in ("vit_b16_bf16", "vit_s16_bf16"):
    rec = json.loads((out / f"{name}.json").read_text())
    for r in rec["results"]:
        print(f"{name:<22} {r['impl']:<12} {r['mode']:<6} {1e3 * r['step_s']:9.1f} {r['images_per_s']:9.0f} "
              f"{r['tflops']:8.1f} {100 * r['mfu']:8.1f}% {100 * r['tflops'] / datasheet:8.1f}%")
    for mode, v in rec.get("ratios", {}).items():
        print(f"  {mode}: " + ", ".join(f"{k} {x:.3f}" for k, x in v.items() if not k.endswith("per_round")))
PYEOF
