"""PaLI from scratch on the embedded shapes world: captioning and VQA with a ViT + mT5 encoder-decoder.

PaLI's form (the ViT's patch tokens and the embedded prompt "caption en" / "answer en
<question>" feed an mT5-style encoder; the decoder writes the answer, trained with the
next-token loss on the target tokens) on a CPU-sized model, with the same data, tasks,
vocabulary and evaluators as `paligemma_shapes.py`, so the two families compare at equal
width: the decoder-only prefix-LM there, the encoder-decoder here.

Paper: "PaLI: A Jointly-Scaled Multilingual Language-Image Model" (Chen et al., 2022,
arXiv:2209.06794); the model is `proj.pali.pali` with tiny `img`/`llm` sizes.

Commands:
  keras-vision train recipes/pali_shapes.py:runlocal --workdir runs/pali_local     # seconds
  keras-vision train recipes/pali_shapes.py --workdir runs/pali_shapes             # minutes on 2 CPUs
  keras-vision train recipes/pali_shapes.py:blank_images --workdir runs/pali_blank # the text-only baseline

Arguments: as `paligemma_shapes.py` (steps, batch, lr, patch, blank_images, runlocal).

Expected (measured 2026-12-08, JAX, the default and `blank_images`, 1500 steps each, run side
by side on the shared 2-core CPU: 37 min wall each; 1,362,624 parameters), images vs blank:
VQA accuracy 0.454 vs 0.314 (colour 0.587 vs 0.103, total count 0.583 vs 0.273, position
0.093 vs 0.097, shape of the largest 0.137 vs 0.087, how many <shape>s 0.560 vs 0.560,
is there a <shape> 0.763 vs 0.763); CIDEr-D 0.541 vs 0.277, BLEU-4 0.347 vs 0.289.
"""

from keras_vision.config import ConfigDict
from keras_vision.config import parse_arg
from keras_vision.config import recipe_helpers as ru

IMAGE_SIZE = 32
PROMPT_LEN = 16  # "answer en <question>" (no BOS: T5 has none)
TARGET_LEN = 24  # the answer or caption + EOS
VOCAB_SIZE = 256
SPM = ru.SHAPES_SPM
PROMPT_KEYS = ("image", "encoder_tokens", "encoder_mask")


def tok(**kw):
    """The `tok(...)` pp op with the run's vocabulary."""
    kw = {"model": SPM, **kw}
    return "tok(" + ", ".join(f"{k}={v!r}" for k, v in kw.items()) + ")"


def prompt_pp(keep=(), train=False):
    """"prefix" -> encoder_tokens / encoder_mask (and, training, "suffix" -> decoder_tokens / mask_loss)."""
    ops = [
        tok(key="prefix", outkey="encoder_tokens"),
        'masked_concat(["encoder_tokens"], outkey="encoder_tokens", encoder_mask=[1])',
        f'tolen({PROMPT_LEN}, pad_value=0, key="encoder_tokens")',
        f'tolen({PROMPT_LEN}, pad_value=0, key="encoder_mask")',
    ]
    if train:
        ops += [
            tok(key="suffix", eos="yes", outkey="decoder_tokens"),
            'masked_concat(["decoder_tokens"], outkey="decoder_tokens", mask_loss=[1])',
            f'tolen({TARGET_LEN}, pad_value=0, key="decoder_tokens")',
            f'tolen({TARGET_LEN}, pad_value=0, key="mask_loss")',
        ]
        keep = ("decoder_tokens", "mask_loss", *keep)
    return "|".join(ops + ["keep(" + ", ".join(repr(k) for k in (*PROMPT_KEYS, *keep)) + ")"])


def get_config(arg=None):
    arg = parse_arg(arg, runlocal=False, steps=1500, batch=64, lr=1e-3, patch=4, blank_images=False)
    world = ru.shapes_vlm_world(IMAGE_SIZE)
    image_pp = "value_range(0, 0)" if arg.blank_images else "value_range(-1, 1)"
    c = ConfigDict()
    c.seed = 0
    c.sentencepiece = ru.shapes_vlm_vocabulary(world, VOCAB_SIZE)

    c.input = dict(
        data=dict(name="shapes", split="train[:20000]", **world),
        batch_size=arg.batch,
        shuffle_buffer_size=5_000,
        pp=ru.pp_join(ru.shapes_vlm_task_pp(image_pp), prompt_pp(train=True)),
    )
    c.label_key = None  # the model's compute_loss reads the whole batch
    c.total_steps = arg.steps
    c.log_training_steps = 50
    c.ckpt_steps = arg.steps

    c.model_name = "proj.pali.pali"
    c.model = dict(
        img=dict(variant=f"mu/{arg.patch}", width=64, depth=2, mlp_dim=256, num_heads=4, image_size=IMAGE_SIZE),
        # 2 encoder + 2 decoder layers: about paligemma_shapes' 3 decoder layers in parameters.
        llm=dict(width=128, depth=2, mlp_dim=512, num_heads=4, head_dim=32, vocab_size=VOCAB_SIZE),
    )
    c.model_init = None
    c.loss = None

    c.optax_name = "scale_by_adam"
    c.lr = arg.lr
    c.wd = 0.0
    c.grad_clip_norm = 1.0
    c.schedule = dict(warmup_steps=100, decay_type="cosine")

    c.evals = ru.shapes_vlm_evals(world, image_pp, prompt_pp, arg.steps, prompt_keys=list(PROMPT_KEYS))
    if arg.runlocal:
        ru.shapes_vlm_runlocal(c)
    return c
