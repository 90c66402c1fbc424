"""Zero-shot classification with a two-tower image-text model.

big_vision's `proj.image_text.discriminative_classifier`: every class name is
written into every prompt template, the text embeddings of a class are averaged
and re-normalised into one classifier vector, and an image is assigned the class
whose vector is most similar to its embedding. Registered as "zeroshot" and
"discriminative_classifier".
"""

import numpy as np
from keras_hub.utils import imagenet_id_to_name

from keras_vision.data import shapes
from keras_vision.evaluators import _image_text
from keras_vision.evaluators.registry import register

# Prompt ensembles, written for this project. "{}" is replaced by the class name.
PROMPT_TEMPLATES = {
    "none": ["{}"],
    "simple": ["a photo of a {}.", "a picture of a {}.", "an image of a {}."],
    "photo": [
        "a photo of a {}.",
        "a blurry photo of a {}.",
        "a close-up photo of a {}.",
        "a bright photo of a {}.",
        "a dark photo of a {}.",
        "a cropped photo of a {}.",
        "a photo of a small {}.",
        "a photo of a large {}.",
        "a drawing of a {}.",
        "a rendering of a {}.",
    ],
}


def shapes_templates(num_colors=None):
    """Prompts for the embedded shapes world: its captions say "a <color> <shape>"
    (optionally after "a picture of"/"a photo of"), so the ensemble sweeps the
    world's colours (the first `num_colors`, default all)."""
    return [
        f"{lead}{'an' if color[0] in 'aeiou' else 'a'} {color} {{}}"
        for color in shapes.COLOR_NAMES[:num_colors]
        for lead in ("", "a picture of ", "a photo of ")
    ]


def _as_templates(templates, num_colors=None):
    if templates == "shapes":
        return shapes_templates(num_colors)
    if isinstance(templates, str):
        if templates not in PROMPT_TEMPLATES:
            raise ValueError(
                f"Unknown prompt templates {templates!r}; expected a list of strings or "
                f"one of {sorted(PROMPT_TEMPLATES) + ['shapes']}."
            )
        return list(PROMPT_TEMPLATES[templates])
    return list(templates)


def class_embeddings(text_embeddings, num_classes, num_templates):
    """Per-class mean of normalised prompt embeddings, re-normalised.

    Args:
        text_embeddings: (num_classes * num_templates, D) embeddings, class-major
            (all templates of class 0 first).
        num_classes: C.
        num_templates: T.

    Returns:
        (C, D) unit-norm classifier vectors.

    Example:
    >>> w = class_embeddings(ztxt, 10, 3)
    """
    z = np.asarray(text_embeddings, np.float32)
    z = z / (np.linalg.norm(z, axis=-1, keepdims=True) + 1e-8)
    z = z.reshape(num_classes, num_templates, -1).mean(axis=1)
    return z / (np.linalg.norm(z, axis=-1, keepdims=True) + 1e-8)


def zeroshot_accuracy(zimg, classifier, labels):
    """Top-1 accuracy of `argmax(zimg @ classifier.T)`.

    Args:
        zimg: (N, D) image embeddings.
        classifier: (C, D) class vectors.
        labels: (N,) int labels, or (N, C) multi-hot (a prediction counts as right
            if any of the true classes is predicted, as for ImageNet-ReaL); rows
            without any positive are ignored.

    Returns:
        Accuracy in [0, 1].
    """
    pred = np.argmax(np.asarray(zimg) @ np.asarray(classifier).T, axis=-1)
    labels = np.asarray(labels)
    if labels.ndim == 2:
        valid = labels.sum(-1) > 0
        hit = labels[np.arange(len(pred)), pred] > 0
        return float(hit[valid].mean()) if valid.any() else float("nan")
    return float(np.mean(pred == labels))


@register("zeroshot", "discriminative_classifier")
class ZeroShotEvaluator(_image_text.ImageTextEvaluator):
    """Zero-shot classification accuracy from class names and prompt templates.

    Args:
        class_names: list of class names, or "shapes" (the embedded world's) or
            "imagenet" (KerasHub's ImageNet-1k label names).
        prompt_templates: list of templates with "{}" or a key of `PROMPT_TEMPLATES`.
        data, pp_img, pp_txt, label_key, batch_size, num_examples: see
            `ImageTextEvaluator` (the label may be int or multi-hot).

    Example:
    >>> ev = ZeroShotEvaluator(data=dict(name="shapes", split="val"),
    ...     class_names="shapes", prompt_templates="shapes",
    ...     pp_img="value_range(-1, 1)", pp_txt="tokenize(max_len=16, ...)")
    >>> dict(ev.run(model))["accuracy"]

    Paper: CLIP (Radford et al., 2021), LiT (Zhai et al., 2022).
    """

    def __init__(self, *, class_names="shapes", prompt_templates="simple", **kwargs):
        super().__init__(**kwargs)
        self.class_names = class_names
        self.prompt_templates = prompt_templates

    def resolved_class_names(self):
        names = self.class_names
        if isinstance(names, str):
            if names == "shapes":
                world = {}
                if isinstance(self.data, dict):
                    world = {k: v for k, v in self.data.items() if k == "num_classes"}
                return list(shapes.class_names(world.get("num_classes")))
            if names == "imagenet":
                return [imagenet_id_to_name(i).replace("_", " ") for i in range(1000)]
            raise ValueError(
                f"Unknown class-name set {names!r}; pass a list of names, 'shapes' or 'imagenet'."
            )
        return list(names)

    def classifier(self, model):
        """(C, D) zero-shot classifier vectors of the model's text tower."""
        names = self.resolved_class_names()
        num_colors = self.data.get("num_colors") if isinstance(self.data, dict) else None
        templates = _as_templates(self.prompt_templates, num_colors)
        prompts = [tmpl.format(name) for name in names for tmpl in templates]
        return class_embeddings(self.encode_texts(model, prompts), len(names), len(templates))

    def run(self, model):
        classifier = self.classifier(model)
        zimg, _, labels = self.load_examples(model)
        if labels is None:
            raise ValueError(f"The data has no {self.label_key!r} field for zero-shot labels.")
        yield "accuracy", zeroshot_accuracy(zimg, classifier, labels)
