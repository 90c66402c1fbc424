"""PaliGemma from scratch on the embedded shapes world: captioning and VQA with one prefix-LM.

big_vision's PaliGemma transfer recipe (`configs/proj/paligemma/transfers/`: prefix
"caption en" or "answer en <question>", a "\\n" separator, the suffix scored with the
next-token loss; big_vision's `combine_and_keep_train/eval` pp chains pasted as they are)
on a CPU-sized model: a ViT over 32 px scenes of coloured shapes whose patch tokens prefix
a small multi-query Gemma. Each training example is one of its 5 captions or one of its 6
questions (shape of the largest object, how many <shape>s, colour, position, total count,
is there a <shape>), picked at random every time. The SentencePiece vocabulary (pad 0,
EOS 1, unk 2, BOS 3) is trained from the captions, questions and answers at the start of
the run and kept in the workdir.

Paper: "PaliGemma: A versatile 3B VLM for transfer" (Beyer et al., 2024,
arXiv:2407.07726); the model is `proj.paligemma.paligemma` with tiny `img`/`llm` sizes.

Commands:
  keras-vision train recipes/paligemma_shapes.py:runlocal --workdir runs/pg_local     # seconds
  keras-vision train recipes/paligemma_shapes.py --workdir runs/paligemma_shapes      # minutes on 2 CPUs
  keras-vision train recipes/paligemma_shapes.py:blank_images --workdir runs/pg_blank # the text-only baseline

Arguments (`recipes/paligemma_shapes.py:steps=1500,batch=64,runlocal`):
  steps: training steps (default 1500); batch: batch size (default 64); lr: peak learning
  rate (default 1e-3); patch: ViT patch size (default 4); blank_images: train and evaluate
  on all-zero images (what the language model alone learns from the questions);
  runlocal: a few steps on a few examples, to check that everything runs.

Evaluators: `vqa` (accuracy per question type on 300 held-out scenes x 6 questions,
greedy answers) and `caption` (CIDEr-D / BLEU-4 against the 5 reference captions of 200
held-out scenes); predictions are written next to the metrics (vqa.json, captions.json).

Expected (measured 2026-12-08, JAX, the default and `blank_images`, 1500 steps each, run side
by side on the shared 2-core CPU: 38 min wall each; 862,016 parameters), images vs blank:
VQA accuracy 0.482 vs 0.317 (colour 0.637 vs 0.123, total count 0.627 vs 0.273, position
0.160 vs 0.097, shape of the largest 0.147 vs 0.087, how many <shape>s 0.560 vs 0.560,
is there a <shape> 0.763 vs 0.763); CIDEr-D 0.578 vs 0.249, BLEU-4 0.388 vs 0.281. Colour,
counts and captions come from the image; naming shapes is not learnt in 1500 steps (as in
siglip_shapes), so the two shape-dependent kinds stay at the text-only prior.
"""

from keras_vision.config import ConfigDict
from keras_vision.config import parse_arg
from keras_vision.config import recipe_helpers as ru

IMAGE_SIZE = 32
TEXT_LEN = 32
VOCAB_SIZE = 256
SPM = ru.SHAPES_SPM


def tok(**kw):
    """big_vision's `tok(...)` pp op with the run's vocabulary."""
    kw = {"model": SPM, **kw}
    return "tok(" + ", ".join(f"{k}={v!r}" for k, v in kw.items()) + ")"


def combine_and_keep_train(text_len):
    """big_vision `transfers/common.py`: [prefix, "\\n", suffix], the suffix causal and scored."""
    return "|".join([
        tok(key="prefix", bos="yes"),
        tok(key="suffix", eos="yes"),
        tok(key="septok", text="\n"),
        'masked_concat(["prefix", "septok", "suffix"], outkey="text", mask_ar=[0, 0, 1], mask_loss=[0, 0, 1])',
        # +1: the trainer drops the last token (inputs are text[:-1], targets text[1:]).
        f'tolen({text_len + 1}, pad_value=0, key="text")',
        f'tolen({text_len + 1}, pad_value=1, key="mask_ar")',
        f'tolen({text_len + 1}, pad_value=0, key="mask_loss")',
        'keep("image", "text", "mask_ar", "mask_loss")',
    ])


def combine_and_keep_eval(text_len, keep=()):
    """big_vision `transfers/common.py`: the prompt [prefix, "\\n"], decoding continues from it."""
    return "|".join([
        tok(key="prefix", bos="yes"),
        tok(key="septok", text="\n"),
        'setdefault("suffix", "")',
        tok(key="suffix", eos="no"),
        'masked_concat(["prefix", "septok", "suffix"], outkey="text", mask_ar=[0, 0, 1], mask_input=[1, 1, 1])',
        f'tolen({text_len}, pad_value=0, key="text")',
        f'tolen({text_len}, pad_value=1, key="mask_ar")',
        f'tolen({text_len}, pad_value=0, key="mask_input")',
        "keep(" + ", ".join(repr(k) for k in ("image", "text", "mask_ar", "mask_input", *keep)) + ")",
    ])


def get_config(arg=None):
    arg = parse_arg(arg, runlocal=False, steps=1500, batch=64, lr=1e-3, patch=4, blank_images=False)
    world = ru.shapes_vlm_world(IMAGE_SIZE)
    # All-zero images for the baseline: value_range(0, 0) maps every pixel to 0.
    image_pp = "value_range(0, 0)" if arg.blank_images else "value_range(-1, 1)"
    c = ConfigDict()
    c.seed = 0
    c.sentencepiece = ru.shapes_vlm_vocabulary(world, VOCAB_SIZE)

    c.input = dict(
        data=dict(name="shapes", split="train[:20000]", **world),
        batch_size=arg.batch,
        shuffle_buffer_size=5_000,
        pp=ru.pp_join(ru.shapes_vlm_task_pp(image_pp), combine_and_keep_train(TEXT_LEN)),
    )
    c.label_key = None  # the model's compute_loss reads the whole batch
    c.total_steps = arg.steps
    c.log_training_steps = 50
    c.ckpt_steps = arg.steps

    c.model_name = "proj.paligemma.paligemma"
    c.model = dict(
        img=dict(variant=f"mu/{arg.patch}", width=64, depth=2, mlp_dim=256, num_heads=4, image_size=IMAGE_SIZE),
        llm=dict(width=128, depth=3, mlp_dim=512, num_heads=4, num_kv_heads=1, head_dim=32, vocab_size=VOCAB_SIZE),
    )
    c.model_init = None
    c.loss = None  # next-token cross-entropy on the suffix (the model's compute_loss)

    c.optax_name = "scale_by_adam"
    c.lr = arg.lr
    c.wd = 0.0
    c.grad_clip_norm = 1.0
    c.schedule = dict(warmup_steps=100, decay_type="cosine")

    c.evals = ru.shapes_vlm_evals(world, image_pp, lambda keep: combine_and_keep_eval(TEXT_LEN, keep), arg.steps)
    if arg.runlocal:
        ru.shapes_vlm_runlocal(c)
    return c
