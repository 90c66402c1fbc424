"""Base class of every evaluator."""



class Evaluator:
    """An evaluator computes named metrics of a model: `run(model)` yields (name, value).

    Subclasses register a big_vision type name with `keras_vision.evaluators.register`.
    Construction prepares data (cheap to call `run` many times during training); `run`
    must not change the model.

    Example:
    >>> ev = keras_vision.evaluators.get("classification")(data=..., pp_fn=..., batch_size=32)
    >>> dict(ev.run(model))
    {'prec@1': 0.93, 'loss': 0.21}
    """

    def run(self, model):
        raise NotImplementedError
