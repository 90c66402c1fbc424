"""TF Serving REST request bodies for keras_vision SavedModels (client side)."""

import base64

import numpy as np

from keras_vision.api_export import keras_vision_export


def _value(v):
    if isinstance(v, (bytes, bytearray)):
        return {"b64": base64.b64encode(bytes(v)).decode("ascii")}
    if isinstance(v, np.ndarray):
        return v.tolist() if v.dtype != object else [_value(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    return v


@keras_vision_export("keras_vision.export.make_rest_request")
def make_rest_request(inputs, signature_name=None, format="instances"):
    """The JSON body (a dict) of a TF Serving REST `:predict` call.

    Bytes (encoded images) become `{"b64": ...}` as TF Serving requires for binary
    data; numpy arrays become nested lists. `format="instances"` (row format) needs all
    inputs to have the same batch size (one row per example); `"inputs"` (columnar)
    sends each input whole, e.g. `zero_shot` with N images and C class names.

    Args:
        inputs: {input name: list or array of values}, e.g. {"images": [jpeg_bytes]}.
        signature_name: signature to call; None means `serving_default`.
        format: "instances" or "inputs".

    Example:
    >>> body = make_rest_request({"images": [open("cat.jpg", "rb").read()]})
    >>> requests.post("http://localhost:8501/v1/models/vit:predict", json=body)
    """
    if format not in ("instances", "inputs"):
        raise ValueError(f"Unknown REST format {format!r}; expected 'instances' or 'inputs'.")
    columns = {name: [_value(v) for v in values] for name, values in inputs.items()}
    body = {} if signature_name is None else {"signature_name": signature_name}
    if format == "inputs":
        body["inputs"] = columns
        return body
    sizes = {name: len(values) for name, values in columns.items()}
    if len(set(sizes.values())) != 1:
        raise ValueError(
            f"Row format needs one row per example in every input, got sizes {sizes}; use format='inputs'."
        )
    if len(columns) == 1:
        body["instances"] = next(iter(columns.values()))
    else:
        n = next(iter(sizes.values()))
        body["instances"] = [{name: values[i] for name, values in columns.items()} for i in range(n)]
    return body
