"""`keras-vision presets list|show`: the presets found locally (nothing is downloaded)."""

import json

from keras_vision import presets
from keras_vision.cli import common


def register(subparsers):
    p = subparsers.add_parser(
        "presets",
        help="list the known presets or show one",
        description=(
            "Presets are local folders (KerasHub layout): entries of the per-family tables "
            "keras_vision/models/<family>/<family>_presets.py and preset folders found under "
            "$KERAS_VISION_PRESET_PATH, saved_models/ and runs/."
        ),
    )
    sub = p.add_subparsers(dest="presets_command", metavar="ACTION", required=True)
    ls = sub.add_parser("list", help="name, family, parameters, source of every known preset")
    ls.add_argument("--all", action="store_true", help="also list table entries whose folder is missing")
    ls.add_argument("--json", action="store_true", help="print JSON")
    ls.set_defaults(func=run_list)
    show = sub.add_parser("show", help="metadata, config, preprocessing, files and problems of a preset")
    show.add_argument("name", metavar="NAME_OR_DIR")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(func=run_show)


def _params(n):
    if n is None:
        return "-"
    for unit, size in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return str(n)


def run_list(args):
    entries = [e for e in presets.list_presets() if args.all or e["available"]]
    if args.json:
        print(json.dumps(entries, indent=2, default=str))
        return 0
    if not entries:
        paths = ", ".join(str(p) for p in presets.search_paths()) or "(no saved_models/ or runs/ here)"
        print(f"No presets found. Searched: {paths}. Make one with `keras-vision convert` or save_preset().")
        return 0
    rows = [("NAME", "FAMILY", "PARAMS", "SOURCE", "PATH")]
    for e in entries:
        where = e["path"] if e["available"] else f"(missing: {e.get('produced_by') or e['path']})"
        rows.append((e["name"], e["family"], _params(e["parameter_count"]), str(e.get("source") or "-"), where))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[4])
    return 0


def run_show(args):
    try:
        summary = presets.preset_summary(args.name)
    except presets.PresetError as e:
        entry = {p["name"]: p for p in presets.list_presets()}.get(args.name)
        if entry is None:
            raise common.UsageError(str(e)) from None
        # A table entry whose folder is not made yet: say what it is and how to make it.
        if args.json:
            print(json.dumps(entry, indent=2, default=str))
        else:
            print(f"{entry['name']}  (not available: no preset at {entry['path']})")
            for key in ("family", "description", "source", "produced_by"):
                if entry.get(key):
                    print(f"  {key}: {entry[key]}")
        return 1
    if args.json:
        print(json.dumps(summary, indent=2, default=str))
        return 0
    meta = summary.get("metadata") or {}
    kv = meta.get("keras_vision") or {}
    print(f"{kv.get('name', args.name)}  ({summary['path']})")
    for key in ("family", "description", "source", "class_name", "parameter_count", "backend"):
        if kv.get(key) is not None:
            print(f"  {key}: {kv[key]}")
    for key in ("keras_version", "keras_hub_version", "date_saved"):
        if meta.get(key) is not None:
            print(f"  {key}: {meta[key]}")
    for key in ("config", "task"):
        if summary.get(key):
            print(f"  {key}: {summary[key]['class']} {json.dumps(summary[key]['config'], default=str)}")
    prep = summary.get("preprocessing") or {}
    if prep:
        image = prep.get("image") or {}
        print(f"  pp: {image.get('pp')}  image_size: {image.get('image_size')}")
        names = prep.get("class_names")
        if names is not None:
            print(f"  class_names ({len(names)}): {', '.join(names[:20])}{' ...' if len(names) > 20 else ''}")
        if prep.get("text"):
            print(f"  text: {json.dumps(prep['text'])}")
        if prep.get("prompt_templates"):
            print(f"  prompt_templates: {prep['prompt_templates']}")
    print("  files:")
    for file, size in summary["files"].items():
        print(f"    {file}  {size} bytes")
    if summary["problems"]:
        print("  PROBLEMS:")
        for problem in summary["problems"]:
            print(f"    - {problem}")
        return 1
    return 0
