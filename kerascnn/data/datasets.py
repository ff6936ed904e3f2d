"""Datasets as unbatched tf.data of (uint8 image [H, W, C], int32 label).

Three kinds, picked by name:
  * "digits": the 1,797 8x8 handwritten digits scikit-learn ships (no
    download), upsampled to 32x32x3 so CIFAR-sized models run on them.
  * "folder:PATH": one sub-folder per class (torchvision's ImageFolder layout).
  * any TFDS builder name ("cifar10", "mnist", "imagenette", "imagenet2012").

Every dataset comes back in a fixed order (no shuffling here; the training
pipeline shuffles with a seed).
"""

import concurrent.futures
import dataclasses
import difflib
import functools
import hashlib
import os
import textwrap
import warnings

import numpy as np
import PIL.Image
import sklearn.datasets
import sklearn.model_selection
import tensorflow as tf
import tensorflow_datasets as tfds
import tqdm

DIGITS = "digits"
FOLDER_PREFIX = "folder:"
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")
# The formats tf.io.decode_image reads; a file PIL opens as anything else
# (a WebP or TIFF named .jpg) would fail inside tf.data, so the scan drops it.
_DECODABLE_FORMATS = frozenset({"JPEG", "PNG", "BMP", "GIF"})
# Names a folder of splits may use; "test" falls back to the validation split.
_SPLIT_FOLDERS = ("train", "validation", "val", "test")
_TEST_FALLBACKS = ("validation", "val")
_PROGRESS_BAR_MIN_FILES = 1000
_MAX_EXAMPLES_IN_WARNING = 5


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """What a training run needs to know about a dataset before reading it.

    Attributes:
        name: the name given to `load`/`info`.
        num_classes: number of labels; labels are 0..num_classes-1.
        class_names: one name per label, in label order.
        image_shape: (H, W, C); H and W are None when images vary in size.
        splits: split name -> number of examples, "all" included.
    """

    name: str
    num_classes: int
    class_names: tuple
    image_shape: tuple
    splits: dict


def load(name, split="train", data_dir=None, manual_dir=None):
    """Loads a dataset split as unbatched (uint8 [H, W, C], int32 []) pairs.

    Args:
        name: "digits", "folder:PATH", or a TFDS builder name ("cifar10",
            "imagenette/320px-v2", ...).
        split: "train", "test" or "all"; a TFDS dataset also takes its own
            split names and slices ("train[:10%]"). "test" means "validation"
            for datasets without a test split (imagenet2012, imagenette).
        data_dir: TFDS data directory (default $TFDS_DATA_DIR or
            ~/tensorflow_datasets). Ignored by "digits" and "folder:".
        manual_dir: where TFDS finds files downloaded by hand (imagenet2012's
            ILSVRC2012_img_{train,val}.tar); default <data_dir>/downloads/manual.

    Returns:
        A `tf.data.Dataset` in a fixed order, neither shuffled nor batched.

    Raises:
        ValueError: unknown name or split.
        FileNotFoundError: a TFDS dataset that is neither prepared in data_dir
            nor downloadable; the message says where to put its files.
    """
    _check_name(name)
    if name == DIGITS:
        images, labels = _digits_split(split)
        return tf.data.Dataset.from_tensor_slices((images, labels))
    if name.startswith(FOLDER_PREFIX):
        return _folder_dataset(_scan_folder(name[len(FOLDER_PREFIX):]), split)
    builder = _tfds_builder(name, data_dir, manual_dir)
    image_key, label_key = builder.info.supervised_keys
    image_dtype = builder.info.features[image_key].tf_dtype
    if image_dtype != tf.uint8:
        raise ValueError(
            f"Dataset {name!r} has {image_dtype.name} images; kerascnn.data "
            f"reads uint8 images only."
        )
    ds = builder.as_dataset(
        split=_tfds_split(name, builder, split), as_supervised=True, shuffle_files=False
    )
    return ds.map(
        lambda image, label: (image, tf.cast(label, tf.int32)),
        num_parallel_calls=tf.data.AUTOTUNE,
    )


def info(name, data_dir=None, manual_dir=None):
    """Metadata of a dataset (`DatasetInfo`) without reading its images.

    Takes the same arguments as `load`; a TFDS dataset that is not prepared
    yet is prepared (downloaded) first, exactly as `load` would.
    """
    _check_name(name)
    if name == DIGITS:
        images, labels, test_indices = _digits_arrays()
        return DatasetInfo(
            name=name,
            num_classes=10,
            class_names=tuple(str(d) for d in range(10)),
            image_shape=images.shape[1:],
            splits={
                "train": len(labels) - len(test_indices),
                "test": len(test_indices),
                "all": len(labels),
            },
        )
    if name.startswith(FOLDER_PREFIX):
        folder = _scan_folder(name[len(FOLDER_PREFIX):])
        return DatasetInfo(
            name=name,
            num_classes=len(folder.class_names),
            class_names=folder.class_names,
            image_shape=(None, None, 3),
            splits={split: len(examples) for split, examples in folder.splits.items()},
        )
    builder = _tfds_builder(name, data_dir, manual_dir)
    image_key, label_key = builder.info.supervised_keys
    label_feature = builder.info.features[label_key]
    splits = {s: builder.info.splits[s].num_examples for s in builder.info.splits}
    if splits:
        splits["all"] = sum(splits.values())
    return DatasetInfo(
        name=name,
        num_classes=label_feature.num_classes,
        class_names=tuple(label_feature.names),
        image_shape=tuple(builder.info.features[image_key].shape),
        splits=splits,
    )


def _check_name(name):
    if not isinstance(name, str) or not name:
        raise ValueError(
            f"A dataset name must be a non-empty string ({DIGITS!r}, "
            f"'{FOLDER_PREFIX}PATH' or a TFDS name), got {name!r}."
        )


# --------------------------------------------------------------------- digits


@functools.lru_cache(maxsize=1)
def _digits_arrays():
    """All 1,797 digits as uint8 [N, 32, 32, 3], int32 labels, and test indices."""
    digits = sklearn.datasets.load_digits()
    # The source pixels are 0..16 (counts of set pixels in 4x4 blocks).
    images = np.round(digits.images * (255.0 / 16.0))[..., np.newaxis]
    images = tf.image.resize(images, (32, 32), method="bilinear").numpy()
    images = np.clip(np.round(images), 0, 255).astype(np.uint8)
    images = np.repeat(images, 3, axis=-1)
    labels = digits.target.astype(np.int32)
    _, test_indices = sklearn.model_selection.train_test_split(
        np.arange(len(labels)), test_size=0.2, stratify=labels, random_state=0
    )
    return images, labels, np.sort(test_indices)


def _digits_split(split):
    """Images and labels of one digits split, in sklearn's order."""
    images, labels, test_indices = _digits_arrays()
    in_test = np.zeros(len(labels), bool)
    in_test[test_indices] = True
    masks = {"train": ~in_test, "test": in_test, "all": np.ones_like(in_test)}
    if split not in masks:
        raise ValueError(
            f"Unknown split {split!r} for 'digits'; available: {sorted(masks)}."
        )
    return images[masks[split]], labels[masks[split]]


# ----------------------------------------------------------------------- TFDS


def _tfds_builder(name, data_dir, manual_dir):
    """The TFDS builder of `name`, prepared; errors say what to do."""
    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError as e:
        raise ValueError(_unknown_name_message(name)) from e
    if builder.info.supervised_keys is None:
        raise ValueError(
            f"TFDS dataset {name!r} has no (image, label) supervised keys, so it "
            f"is not an image classification dataset."
        )
    # Checking the prepared files first means a prepared dataset never
    # touches the network.
    if not builder.is_prepared():
        config = tfds.download.DownloadConfig(manual_dir=manual_dir)
        try:
            builder.download_and_prepare(download_config=config)
        except Exception as e:  # noqa: BLE001  (any failure gets the same advice)
            raise FileNotFoundError(_not_prepared_message(name, builder, manual_dir, e)) from e
    return builder


def _unknown_name_message(name):
    known = tfds.list_builders(with_community_datasets=False) + [DIGITS]
    close = difflib.get_close_matches(name.split("/")[0], known, n=5, cutoff=0.6)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    return (
        f"Unknown dataset {name!r}. Use {DIGITS!r}, '{FOLDER_PREFIX}PATH' (one "
        f"sub-folder of images per class) or a TFDS builder name such as "
        f"'cifar10', 'mnist', 'imagenette' or 'imagenet2012'.{hint}"
    )


def _not_prepared_message(name, builder, manual_dir, cause):
    root = os.fspath(builder.data_dir_root)
    reason = str(cause).strip().splitlines()[0] if str(cause).strip() else ""
    lines = [
        f"TFDS dataset {name!r} is not prepared in data_dir {root} (no "
        f"dataset_info.json in {os.fspath(builder.data_path)}), and preparing it "
        f"failed with {type(cause).__name__}: {reason}",
    ]
    if builder.MANUAL_DOWNLOAD_INSTRUCTIONS:
        manual = manual_dir or os.path.join(root, "downloads", "manual")
        lines += [
            f"{name!r} needs files you download yourself. Put them in the manual "
            f"dir {os.fspath(manual)} (or pass manual_dir=...), then load again:",
            textwrap.indent(textwrap.dedent(builder.MANUAL_DOWNLOAD_INSTRUCTIONS).strip(), "    "),
        ]
    lines += [
        "Without network here: on a machine with network run",
        f"    tfds build {name} --data_dir=/tmp/tfds",
        f"then copy /tmp/tfds/{builder.name} to {os.path.join(root, builder.name)} "
        f"(or pass data_dir=..., or set $TFDS_DATA_DIR before starting Python).",
    ]
    return "\n".join(lines)


def _tfds_split(name, builder, split):
    """`split` checked against the builder's splits, "test" -> "validation"."""
    available = list(builder.info.splits)
    if not available or not isinstance(split, str):
        # Split names are known once prepared (under tfds.testing.mock_data
        # they may be missing); TFDS checks a ReadInstruction itself.
        return split
    if split == "all":
        return "+".join(available)
    base, bracket, slice_ = split.partition("[")
    if base == "test" and "test" not in available and "validation" in available:
        base = "validation"
    if base not in available:
        raise ValueError(
            f"Unknown split {split!r} for {name!r}; available: {available + ['all']}."
        )
    return base + bracket + slice_


# --------------------------------------------------------------------- folder


@dataclasses.dataclass(frozen=True)
class _Folder:
    """A scanned image folder: class names and (path, label) pairs per split."""

    class_names: tuple
    splits: dict


# Listing fingerprint -> unreadable files, so a folder is decoded and
# warned about once per process however often it is loaded.
_UNREADABLE = {}


def _scan_folder(path):
    """Lists, splits and checks the images under `path` (see `load`)."""
    root = os.path.abspath(os.path.expanduser(path))
    if not os.path.isdir(root):
        raise FileNotFoundError(f"Image folder {root!r} (from '{FOLDER_PREFIX}{path}') does not exist.")
    split_dirs = [d for d in _subdirs(root) if _subdirs(os.path.join(root, d))]
    if not any(d in _SPLIT_FOLDERS for d in split_dirs):
        split_dirs = []
    if split_dirs:
        # root/<split>/<class>/*: a class missing from one split keeps its label.
        class_names = sorted({c for d in split_dirs for c in _subdirs(os.path.join(root, d))})
        splits = {
            d: [
                (file, label)
                for label, c in enumerate(class_names)
                for file in _image_files(os.path.join(root, d, c))
            ]
            for d in split_dirs
        }
        splits["all"] = [e for d in split_dirs for e in splits[d]]
    else:
        # root/<class>/*: every 5th file of each class (sorted by name, bad
        # files included) is a test file, so the split is stratified and the
        # same on every machine.
        class_names = _subdirs(root)
        splits = {"train": [], "test": [], "all": []}
        for label, c in enumerate(class_names):
            for i, file in enumerate(_image_files(os.path.join(root, c))):
                splits["test" if i % 5 == 4 else "train"].append((file, label))
                splits["all"].append((file, label))
    if not class_names:
        raise FileNotFoundError(
            f"Image folder {root!r} has no class sub-folders; expected "
            f"{root}/<class>/<image> or {root}/<split>/<class>/<image>."
        )
    unreadable = set(_unreadable_files(root, [f for f, _ in splits["all"]]))
    splits = {s: tuple(e for e in files if e[0] not in unreadable) for s, files in splits.items()}
    _check_classes_have_images(root, class_names, split_dirs or [""], splits["all"], unreadable)
    return _Folder(class_names=tuple(class_names), splits=splits)


def _check_classes_have_images(root, class_names, parents, examples, unreadable):
    """Raises if a class has no readable image in any split (`parents`: split folders or [""])."""
    with_images = {label for _, label in examples}
    empty = [c for label, c in enumerate(class_names) if label not in with_images]
    if not empty:
        return
    looked_for = f"looked for {', '.join(IMAGE_EXTENSIONS)}, any case"
    if len(empty) == len(class_names):
        where = f" (in its split folders {parents})" if parents != [""] else ""
        bad = sorted(unreadable)
        why = (f"; its {len(bad)} file(s) with those extensions are unreadable: "
               f"{_some(os.path.relpath(f, root) for f in bad)}" if bad else "")
        raise ValueError(
            f"Image folder {root!r} has class folders {list(class_names)}{where} but no "
            f"images in them ({looked_for}){why}."
        )
    described = []
    for c in empty:
        folders = [os.path.join(root, p, c) for p in parents]
        folders = [f for f in folders if os.path.isdir(f)]
        described.append(f"{' and '.join(map(repr, folders))} ({_why_no_images(folders, unreadable)})")
    raise ValueError(
        f"Image folder {root!r}: class folder(s) without images: {'; '.join(described)}. "
        f"A class needs at least one image ({looked_for}): remove its folder or add images."
    )


def _why_no_images(folders, unreadable):
    """Why `folders` (one class) hold no usable image: unreadable files, other files, or empty."""
    files = [f for folder in folders for f in _visible_files(folder)]
    bad = [os.path.basename(f) for f in files if f in unreadable]
    if bad:
        return f"{len(bad)} unreadable image file(s): {_some(bad)}"
    if files:
        return f"no image files, only {len(files)} other file(s): {_some(os.path.basename(f) for f in files)}"
    return "empty"


def _some(names):
    names = list(names)
    more = ", ..." if len(names) > _MAX_EXAMPLES_IN_WARNING else ""
    return ", ".join(names[:_MAX_EXAMPLES_IN_WARNING]) + more


def _subdirs(path):
    return sorted(
        e.name for e in os.scandir(path) if e.is_dir() and not e.name.startswith(".")
    )


def _visible_files(folder):
    """Every file under `folder` (recursively), sorted; hidden files and folders skipped."""
    files = []
    for parent, dirs, names in os.walk(folder, followlinks=True):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        files += [os.path.join(parent, n) for n in names if not n.startswith(".")]
    return sorted(files)


def _image_files(class_dir):
    """Image files under `class_dir` (recursively), sorted; hidden files skipped."""
    return [f for f in _visible_files(class_dir) if f.lower().endswith(IMAGE_EXTENSIONS)]


def _unreadable_files(root, files):
    """Files among `files` that do not decode; one warning names them."""
    fingerprint = hashlib.sha1()
    for file in files:
        stat = os.stat(file)
        fingerprint.update(f"{file}\0{stat.st_size}\0{stat.st_mtime_ns}\0".encode())
    key = fingerprint.hexdigest()
    if key not in _UNREADABLE:
        with concurrent.futures.ThreadPoolExecutor() as pool:
            ok = list(
                tqdm.tqdm(
                    pool.map(_is_readable, files),
                    total=len(files),
                    desc=f"Checking images in {root}",
                    unit="file",
                    disable=len(files) <= _PROGRESS_BAR_MIN_FILES,
                )
            )
        _UNREADABLE[key] = tuple(f for f, good in zip(files, ok) if not good)
        bad = _UNREADABLE[key]
        if bad:
            shown = _some(os.path.relpath(f, root) for f in bad)
            warnings.warn(
                f"Skipping {len(bad)} unreadable image file(s) of {len(files)} in {root}: {shown}",
                stacklevel=4,
            )
    return _UNREADABLE[key]


def _is_readable(file):
    """Whether `file` is an image that PIL fully decodes and TF can read."""
    try:
        with PIL.Image.open(file) as image:
            image.verify()  # structure and checksums, without decoding
        with PIL.Image.open(file) as image:
            if image.format not in _DECODABLE_FORMATS:
                return False
            # JPEG: decode at 1/8 scale, which still reads every byte of the
            # entropy-coded data (catches truncation) at a fraction of the cost.
            image.draft("RGB", (1, 1))
            image.load()
        return True
    except Exception:  # noqa: BLE001  (PIL raises many types for bad files)
        return False


def _folder_dataset(folder, split):
    if split == "test" and split not in folder.splits:
        split = next((s for s in _TEST_FALLBACKS if s in folder.splits), split)
    if split not in folder.splits:
        raise ValueError(
            f"Unknown split {split!r} for this image folder; available: "
            f"{sorted(folder.splits)}."
        )
    examples = folder.splits[split]
    ds = tf.data.Dataset.from_tensor_slices(
        (
            tf.constant([f for f, _ in examples], tf.string, shape=[len(examples)]),
            tf.constant([label for _, label in examples], tf.int32, shape=[len(examples)]),
        )
    )
    ds = ds.map(_decode_file, num_parallel_calls=tf.data.AUTOTUNE)
    # A file that passed the scan but fails here (changed since, or a corner of
    # a format PIL reads and TF does not) is dropped, not fatal mid-epoch.
    return ds.ignore_errors(log_warning=True)


def _decode_file(file, label):
    image = tf.io.decode_image(tf.io.read_file(file), channels=3, expand_animations=False)
    image.set_shape([None, None, 3])
    return image, label
