"""`imagefolder`: a directory with one subfolder of images per class."""

import os

import numpy as np

from keras_vision.data.sources.split import parse_split
from keras_vision.data.sources.table_source import TableSource

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp")


def _class_dirs(root):
    return sorted(
        d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)) and not d.startswith(".")
    )


def _list_images(folder, extensions):
    files = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for f in sorted(filenames):
            if f.lower().endswith(extensions) and not f.startswith("."):
                files.append(os.path.join(dirpath, f))
    return sorted(files)


class ImageFolderSource(TableSource):
    """Images in `data_dir/[split/]<class>/**/*.{jpg,png,...}`; labels = sorted class index.

    Data config keys:
        data_dir (or path): the root folder.
        split: a subfolder of the root ("train", "val[:50%]", "train+val"), or "all"/""
            for a root that holds the class folders directly ("all[:90%]").
        class_names: optional explicit class list (fixes label ids across splits);
            default: the sorted subfolder names of the (first) split folder.
        extensions: image file extensions (default jpg, jpeg, png, gif, bmp, webp).
        slice_seed: slices like "[:90%]" take a fixed random subset (permutation with
            this numpy seed, default 0) so that they are not class-ordered; None slices
            the sorted file list as is.

    Examples: {"image": encoded bytes, "label": int32, "image/path": tf.string}.
    """

    def __init__(
        self,
        data_dir=None,
        split="all",
        path=None,
        class_names=None,
        extensions=None,
        slice_seed=0,
        name="imagefolder",
    ):
        root = data_dir or path
        if not root:
            raise ValueError("imagefolder: set data_dir to the folder that holds one subfolder per class.")
        root = os.path.expanduser(os.fspath(root))
        if not os.path.isdir(root):
            raise FileNotFoundError(f"imagefolder: data_dir {root!r} does not exist or is not a directory.")
        extensions = tuple(
            e.lower() if e.startswith(".") else "." + e.lower() for e in (extensions or IMAGE_EXTENSIONS)
        )
        parts = parse_split(split, default_name="all")
        folders = []
        for part in parts:
            if part.name in ("", "all") and not os.path.isdir(os.path.join(root, part.name or "all")):
                folders.append(root)
            elif os.path.isdir(os.path.join(root, part.name)):
                folders.append(os.path.join(root, part.name))
            else:
                raise FileNotFoundError(
                    f"imagefolder: no split folder {part.name!r} under {root!r} (it has {_class_dirs(root)}); "
                    "use split='all' (or 'all[:90%]') when the root holds the class folders directly."
                )
        self.class_names = list(class_names) if class_names else _class_dirs(folders[0])
        if not self.class_names:
            raise ValueError(f"imagefolder: {folders[0]!r} has no class subfolders.")
        index = {c: i for i, c in enumerate(self.class_names)}
        paths, labels = [], []
        for part, folder in zip(parts, folders):
            p_paths, p_labels = [], []
            for c in _class_dirs(folder):
                if c not in index:
                    raise ValueError(
                        f"imagefolder: class folder {c!r} in {folder!r} is not in class_names {self.class_names}."
                    )
                files = _list_images(os.path.join(folder, c), extensions)
                p_paths += files
                p_labels += [index[c]] * len(files)
            if part.is_sliced:
                order = np.arange(len(p_paths))
                if slice_seed is not None:
                    order = np.random.default_rng(slice_seed).permutation(len(p_paths))
                lo, hi = part.bounds(len(p_paths))
                keep = np.sort(order[lo:hi])
                p_paths = [p_paths[i] for i in keep]
                p_labels = [p_labels[i] for i in keep]
            paths += p_paths
            labels += p_labels
        if not paths:
            raise ValueError(
                f"imagefolder: no images with extensions {extensions} in {folders} (split {split!r})."
            )
        super().__init__(name, split, paths, labels=labels)
        self.data_dir = root

    @property
    def num_classes(self):
        return len(self.class_names)
