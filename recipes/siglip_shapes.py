"""SigLIP from scratch on the embedded shapes world: images <-> captions, sigmoid loss.

big_vision's SigLIP recipe (two towers: ViT image tower with MAP pooling and no head,
text transformer pooling the last token (sticky EOS, pad = EOS) with a Dense head,
t' = log 10, b = -10, pairwise sigmoid loss) shrunk to 32x32 scenes of coloured shapes
and their generated captions ("a large red circle at the top left, ..."). The
SentencePiece vocabulary is trained from shapes captions at the start of the run and
kept in the workdir ("{workdir}/shapes_spm.model"); the tokenize pp op and the
zero-shot / retrieval evaluators use it.

Paper: "Sigmoid Loss for Language Image Pre-Training" (Zhai et al., 2023,
arXiv:2303.15343). Zero-shot classification as in CLIP/LiT: each class name in each
prompt ("a red {}", "a picture of a blue {}", ...), class vectors = renormalised means.

Commands:
  keras-vision train recipes/siglip_shapes.py:runlocal --workdir runs/siglip_local   # seconds
  keras-vision train recipes/siglip_shapes.py --workdir runs/siglip_shapes           # minutes on 2 CPUs
  (or in Python: `train(load_recipe(...), workdir)`, which trains the vocabulary first too)

Arguments (`recipes/siglip_shapes.py:steps=3000,batch=64,runlocal`):
  steps: training steps (default 3000); batch: batch size (default 64);
  lr: peak learning rate (default 3e-3); patch: image patch size (default 8).
  max_objects, num_colors: shapes-world arguments (defaults 4 and 8).
  loss: "auto" (default: the sigmoid loss, ring-chunked over devices under JAX data
      parallelism, dense otherwise), "sigmoid" (always dense) or "softmax" (CLIP-style).
  runlocal: a few steps on a few examples, to check that everything runs.

Expected on 500 held-out scenes (val), measured on the shared 2-core CPU, JAX backend,
seed 0 (chance: zero-shot 10%, image->text R@1 ~0.2%, text->image R@1 0.2%):
zero-shot accuracy 0.30; image->text R@1 0.21, R@5 0.54; text->image R@1 0.07,
R@5 0.26; 2.8-4.6 min wall for vocabulary + training + evals (depending on load);
steps=5000: zero-shot 0.37, image->text R@1 0.21 / R@5 0.57 (7 min). Colour and position are learnt long
before shape (zero-shot 0.14 after 700 steps at patch 4; colour zero-shot 0.94 then):
LiT (recipes/lit_shapes.py) fixes exactly that with a shape-aware locked tower.
"""

from keras_vision.config import ConfigDict
from keras_vision.config import parse_arg
from keras_vision.config import recipe_helpers as ru

IMAGE_SIZE = 32
MAX_LEN = 16
SPM = ru.SHAPES_SPM


def tokenize(inkey="texts"):
    return ru.tokenize_pp(MAX_LEN, SPM, inkey=inkey)


def get_config(arg=None):
    arg = parse_arg(arg, runlocal=False, steps=3000, batch=64, loss="auto", max_objects=4, num_colors=8,
                    lr=3e-3, patch=8)
    world = dict(image_size=IMAGE_SIZE, max_objects=arg.max_objects, num_colors=arg.num_colors)
    c = ConfigDict()
    c.seed = 0

    # Trained at the start of the run (a preparation step of keras_vision.trainers.train).
    c.sentencepiece = ru.shapes_sentencepiece("train[:3000]", vocab_size=160, **world)

    # No flip: captions say "left"/"right". A random caption of the 5 per image each time.
    c.input = dict(
        data=dict(name="shapes", split="train[:12000]", **world),
        batch_size=arg.batch,
        shuffle_buffer_size=5_000,
        pp=ru.image_text_pp(tokenize()),
    )
    # The model's compute_loss sees {"image", "labels"} (no y split off).
    c.label_key = None
    c.total_steps = arg.steps
    c.log_training_steps = 50
    c.ckpt_steps = arg.steps

    c.model_name = "proj.image_text.two_towers"
    c.model = dict(
        image=dict(variant=f"mu/{arg.patch}", width=64, depth=3, mlp_dim=256, num_heads=4, pool_type="map",
                   image_size=IMAGE_SIZE),
        text=dict(variant="mu", width=64, depth=2, mlp_dim=256, num_heads=4, vocab_size=160,
                  seq_len=MAX_LEN, pool_type="last"),
        out_dim=(None, 64),
        temperature_init=10.0,
        bias_init=-10.0,
        loss=arg.loss,
    )
    c.model_init = None
    c.loss = None  # the two-tower model's own contrastive loss

    c.optax_name = "scale_by_adam"
    c.lr = arg.lr
    c.wd = 1e-4
    c.grad_clip_norm = 1.0
    c.schedule = dict(warmup_steps=50, decay_type="cosine")

    val = dict(name="shapes", split="val[:500]", **world)
    c.evals = ru.shapes_image_text_evals(val, tokenize(), log_steps=arg.steps)

    if arg.runlocal:
        ru.shapes_captions_runlocal(c, **world)
        c.model.image.update(width=32, depth=1, mlp_dim=64, num_heads=2)
        c.model.text.update(width=32, depth=1, mlp_dim=64, num_heads=2)
        c.model.out_dim = (None, 32)
    return c
