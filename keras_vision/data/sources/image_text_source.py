"""`image_text_csv` / `image_text_jsonl`: image paths with one or more captions."""

import csv
import json
import os

from keras_vision.data.sources.split import parse_split
from keras_vision.data.sources.table_source import TableSource


def _as_list(value):
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return [str(value)]


class ImageTextSource(TableSource):
    """Image files + captions listed in a CSV (with a header) or JSON-lines file.

    Data config keys:
        path (or data_dir + file): the .csv/.jsonl file; "{split}" in it is replaced by
            the split name ("captions_{split}.csv").
        split: row slice like "[:90%]" or "train[:90%]" ("train" only fills "{split}").
        image_key: column/field with the image path, relative to `image_root`
            (default: the file's folder) unless absolute. Default "image".
        text_key: column/field (or list of them) with the caption(s); a JSON field may
            hold a list of captions. Default "caption".
        text_separator: for CSV, split a caption cell into several on this string.
        label_key: optional integer label column/field ("label" in the examples).
        format: "csv" or "jsonl" (set by the data config name).

    Examples: {"image": encoded bytes, "image/path", "texts": tf.string [N], ["label"]}.
    """

    def __init__(
        self,
        path=None,
        split="",
        format="csv",
        image_key="image",
        text_key="caption",
        text_separator=None,
        label_key=None,
        image_root=None,
        data_dir=None,
        file=None,
        name=None,
    ):
        if format not in ("csv", "jsonl"):
            raise ValueError(f"image-text source: format must be 'csv' or 'jsonl', got {format!r}.")
        name = name or f"image_text_{format}"
        if path is None and data_dir and file:
            path = os.path.join(data_dir, file)
        if not path:
            raise ValueError(f"{name}: set `path` to the .{format} file that lists images and captions.")
        parts = parse_split(split)
        paths, labels, texts = [], [], []
        text_keys = _as_list(text_key)
        for part in parts:
            file_path = os.path.expanduser(os.fspath(path)).replace("{split}", part.name)
            if not os.path.isfile(file_path):
                raise FileNotFoundError(f"{name}: file {file_path!r} does not exist.")
            rows = _read_rows(file_path, format, name)
            if part.is_sliced:
                lo, hi = part.bounds(len(rows))
                rows = rows[lo:hi]
            root = (
                os.path.expanduser(image_root) if image_root else os.path.dirname(os.path.abspath(file_path))
            )
            for lineno, row in rows:
                where = f"{file_path}:{lineno}"
                if image_key not in row or row[image_key] in (None, ""):
                    raise ValueError(
                        f"{name}: {where} has no image field {image_key!r} (fields: {sorted(row)})."
                    )
                paths.append(os.path.join(root, str(row[image_key])))
                caps = []
                for k in text_keys:
                    if k not in row:
                        raise ValueError(f"{name}: {where} has no text field {k!r} (fields: {sorted(row)}).")
                    value = row[k]
                    if format == "csv" and text_separator:
                        value = [c.strip() for c in str(value).split(text_separator) if c.strip()]
                    caps += _as_list(value)
                texts.append(caps)
                if label_key is not None:
                    try:
                        labels.append(int(row[label_key]))
                    except (KeyError, TypeError, ValueError):
                        raise ValueError(
                            f"{name}: {where} needs an integer {label_key!r} field, got {row.get(label_key)!r}."
                        ) from None
        if not paths:
            raise ValueError(f"{name}: no rows in {path!r} for split {split!r}.")
        super().__init__(name, split, paths, labels=labels if label_key is not None else None, texts=texts)
        self.path = path


def _read_rows(path, format, name):
    """[(line number, dict)] of a CSV (header row) or JSONL file."""
    rows = []
    with open(path, encoding="utf-8", newline="") as f:
        if format == "csv":
            reader = csv.DictReader(f)
            if not reader.fieldnames:
                raise ValueError(f"{name}: {path!r} is empty; expected a CSV header row.")
            for row in reader:
                rows.append((reader.line_num, row))
        else:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as e:
                    raise ValueError(f"{name}: {path}:{lineno} is not valid JSON ({e.msg}).") from None
                if not isinstance(row, dict):
                    raise ValueError(
                        f"{name}: {path}:{lineno} must be a JSON object, got {type(row).__name__}."
                    )
                rows.append((lineno, row))
    return rows
