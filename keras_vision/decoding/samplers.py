"""Sampler specs -> KerasHub samplers: big_vision's names ("greedy", "nucleus(0.9)", ...) and KerasHub's."""

import keras_hub

from keras_vision.api_export import keras_vision_export
from keras_vision.data.builder import parse_op

# name -> (KerasHub class, positional argument names). big_vision's PaliGemma names
# (`paligemma_sampler.*`) map to the KerasHub sampler with the same semantics.
SAMPLERS = {
    "greedy": (keras_hub.samplers.GreedySampler, ()),
    "temperature": (keras_hub.samplers.RandomSampler, ("temperature",)),  # big_vision: t
    "random": (keras_hub.samplers.RandomSampler, ("temperature",)),
    "nucleus": (keras_hub.samplers.TopPSampler, ("p", "temperature")),  # big_vision: p, t
    "top_p": (keras_hub.samplers.TopPSampler, ("p", "temperature")),
    "top_k": (keras_hub.samplers.TopKSampler, ("k", "temperature")),
    "beam": (keras_hub.samplers.BeamSampler, ("num_beams",)),
}
# big_vision's short keyword names.
_KWARG_ALIASES = {"t": "temperature"}
_SEEDED = (keras_hub.samplers.RandomSampler, keras_hub.samplers.TopPSampler, keras_hub.samplers.TopKSampler)


@keras_vision_export("keras_vision.decoding.get_sampler")
def get_sampler(spec="greedy", seed=None):
    """A `keras_hub.samplers.Sampler` from a spec string or an instance.

    Specs: "greedy"; "temperature(t)" / "random(temperature=1.0)" (sampling from the
    softmax); "nucleus(p, t=1.0)" / "top_p(p)"; "top_k(k)"; "beam(num_beams)" (beam
    search, the best beam is returned). big_vision's PaliGemma sampler names
    ("greedy", "temperature(t=...)", "nucleus(p)") mean the same as there.

    Args:
        spec: a spec string or a `keras_hub.samplers.Sampler` (used as is).
        seed: optional int seed of the random samplers (same seed: same samples).

    Example:
        >>> get_sampler("nucleus(0.9, t=0.7)", seed=0)  # TopPSampler(p=0.9, temperature=0.7)
    """
    if isinstance(spec, keras_hub.samplers.Sampler):
        if isinstance(spec, keras_hub.samplers.ContrastiveSampler):
            raise ValueError("ContrastiveSampler needs hidden states, which this decoder does not return.")
        return spec
    if not isinstance(spec, str):
        raise ValueError(f"sampler must be a spec string or a keras_hub Sampler, got {type(spec).__name__} {spec!r}.")
    try:
        name, args, kwargs = parse_op(spec)
    except ValueError:
        raise ValueError(f"Malformed sampler {spec!r}; expected `name` or `name(args)`, name one of {sorted(SAMPLERS)}.")
    if name not in SAMPLERS:
        raise ValueError(f"Unknown sampler {spec!r}; known: {sorted(SAMPLERS)} (e.g. 'nucleus(0.9)', 'beam(4)').")
    cls, positional = SAMPLERS[name]
    if len(args) > len(positional):
        raise ValueError(f"Sampler {spec!r} takes at most {len(positional)} positional arguments {positional}.")
    kwargs = {_KWARG_ALIASES.get(k, k): v for k, v in kwargs.items()}
    kwargs.update(zip(positional, args))
    if seed is not None and issubclass(cls, _SEEDED):
        kwargs.setdefault("seed", int(seed))
    try:
        return cls(**kwargs)
    except TypeError as e:
        raise ValueError(f"Bad arguments for sampler {spec!r}: {e}.") from None
