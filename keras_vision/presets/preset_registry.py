"""Preset names -> local folders. Nothing is downloaded: every entry is a folder on disk.

Two sources of names:

1. Per-family tables `keras_vision/models/<family>/<family>_presets.py`, each a dict
   `PRESETS = {name: {"path": ..., "description": ..., "source": ...}}` (registered by
   keras_vision/presets/__init__.py) whose folders
   are produced by our recipes and conversions (`make demo`, `keras-vision convert`).
   A relative `path` is looked up under the current directory, then the repository
   root. Entries whose folder is missing are listed as "not available" with how to
   make them (`produced_by`).
2. Preset folders found under the search path: `$KERAS_VISION_PRESET_PATH`
   (os.pathsep-separated folders), then `saved_models/` and `runs/` of the current
   directory and of the repository, searched a few levels deep. Such a preset is
   named by metadata.json["keras_vision"]["name"], else its folder path.
"""

import os
import pathlib

from keras_vision.api_export import keras_vision_export
from keras_vision.presets import preset_format as fmt
from keras_vision.presets.preset_error import PresetError
from keras_vision.registry import Registry

# The family tables, registered by keras_vision/presets/__init__.py (equal entries may be re-registered).
PRESETS = Registry("preset", same=lambda a, b: a == b)
_SEARCH_DEPTH = 4
REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]


@keras_vision_export("keras_vision.presets.register_presets")
def register_presets(presets, family):
    """Adds `{name: {"path", "description", "source", ...}}` entries of a model family."""
    for name, entry in presets.items():
        if "path" not in entry:
            raise PresetError(f"Preset table entry {name!r} of family {family!r} has no 'path'.")
        PRESETS.add(name, {**entry, "name": name, "family": entry.get("family", family), "origin": "table"})


def search_paths():
    """Folders searched for preset folders, in order."""
    paths = [pathlib.Path(p) for p in os.environ.get("KERAS_VISION_PRESET_PATH", "").split(os.pathsep) if p]
    for base in (pathlib.Path.cwd(), REPO_ROOT):
        paths += [base / "saved_models", base / "runs"]
    out, seen = [], set()
    for p in paths:
        key = str(p.resolve()) if p.exists() else str(p)
        if p.is_dir() and key not in seen:
            seen.add(key)
            out.append(p)
    return out


def _walk(root, depth):
    if depth < 0:
        return
    try:
        children = sorted(c for c in root.iterdir() if c.is_dir())
    except OSError:
        return
    if fmt.is_preset_dir(root):
        yield root
        return
    for child in children:
        if child.name in ("checkpoints", "variables", "assets", "tensorboard") or child.name.startswith("."):
            continue
        yield from _walk(child, depth - 1)


def _resolve_path(path):
    path = pathlib.Path(os.path.expanduser(str(path)))
    if path.is_absolute():
        return path
    for base in (pathlib.Path.cwd(), REPO_ROOT):
        if (base / path).exists():
            return base / path
    return pathlib.Path.cwd() / path


def _entry_from_folder(folder, name=None, base=None):
    metadata = {}
    try:
        metadata = fmt.read_json(folder, fmt.METADATA_FILE) or {}
    except ValueError:
        pass
    section = metadata.get("keras_vision") or {}
    if name is None:
        name = section.get("name") or (str(folder.relative_to(base)) if base else folder.name)
    return {
        "name": name,
        "path": str(folder),
        "family": section.get("family", "custom"),
        "description": section.get("description", ""),
        "source": section.get("source", ""),
        "origin": "folder",
    }


def _describe(entry):
    folder = _resolve_path(entry["path"])
    out = dict(entry)
    out["path"] = str(folder)
    out["available"] = fmt.is_preset_dir(folder)
    out["parameter_count"] = None
    out["class_name"] = None
    out["date_saved"] = None
    if out["available"]:
        try:
            metadata = fmt.read_json(folder, fmt.METADATA_FILE) or {}
            config = fmt.read_json(folder, fmt.TASK_FILE) or fmt.read_json(folder, fmt.CONFIG_FILE) or {}
        except ValueError:
            metadata, config = {}, {}
        section = metadata.get("keras_vision") or {}
        out["parameter_count"] = section.get("parameter_count", metadata.get("parameter_count"))
        out["date_saved"] = metadata.get("date_saved")
        out["class_name"] = config.get("registered_name")
        for key in ("description", "source"):
            if not out.get(key) and section.get(key):
                out[key] = section[key]
        out["metadata"] = section
    return out


@keras_vision_export("keras_vision.presets.list_presets")
def list_presets():
    """All known presets: the family tables' entries and the preset folders found on the
    search path, as dicts with name, family, parameter_count, source, description,
    path, available (the folder exists and looks like a preset), class_name, metadata.

    Example:
    >>> [p["name"] for p in keras_vision.presets.list_presets() if p["available"]]
    """
    entries = {name: _describe(e) for name, e in PRESETS.items()}
    known_paths = {str(pathlib.Path(e["path"]).resolve()) for e in entries.values()}
    for root in search_paths():
        for folder in _walk(root, _SEARCH_DEPTH):
            if str(folder.resolve()) in known_paths:
                continue
            known_paths.add(str(folder.resolve()))
            entry = _entry_from_folder(folder, base=root)
            name = entry["name"]
            if name in entries:  # two folders claim one name: keep both, the later one by path
                name = str(folder)
                entry["name"] = name
            entries[name] = _describe(entry)
    return sorted(entries.values(), key=lambda e: (e["family"], e["name"]))


@keras_vision_export("keras_vision.presets.get_preset")
def get_preset(name):
    """The `list_presets()` entry of `name` (PresetError listing the known names if none)."""
    presets = {p["name"]: p for p in list_presets()}
    if name in presets:
        return presets[name]
    raise PresetError(
        f"Unknown preset {name!r}. Known presets: {', '.join(sorted(presets)) or '(none)'}. A preset may also be "
        "given as a path to a preset folder."
    )


@keras_vision_export("keras_vision.presets.resolve_preset")
def resolve_preset(preset):
    """Local folder of `preset` (a preset folder path or a registered name)."""
    path = pathlib.Path(os.path.expanduser(str(preset)))
    if path.is_dir():
        return str(path)
    entry = get_preset(str(preset))
    if not entry["available"]:
        how = entry.get("produced_by")
        raise PresetError(
            f"Preset {entry['name']!r} is registered at {entry['path']!r}, but that folder does not hold a "
            f"preset yet" + (f"; make it with: {how}" if how else "") + "."
        )
    return entry["path"]
