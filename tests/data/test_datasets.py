"""kerascnn.data.load / info: sklearn digits, TFDS (mocked, no network), image folders."""

import io
import os
import warnings
from unittest import mock

import numpy as np
import PIL.Image
import pytest
import requests
import sklearn.datasets
import sklearn.model_selection
import tensorflow as tf
import tensorflow_datasets as tfds

from kerascnn import data
from kerascnn.data import datasets


def _arrays(ds):
    images, labels = zip(*ds.as_numpy_iterator())
    return np.stack(images), np.array(labels)


# --------------------------------------------------------------------- digits


@pytest.fixture(scope="module")
def digits_source():
    """sklearn's raw digits and the split indices, recomputed here."""
    digits = sklearn.datasets.load_digits()
    train, test = sklearn.model_selection.train_test_split(
        np.arange(len(digits.target)), test_size=0.2, stratify=digits.target, random_state=0
    )
    return digits, np.sort(train), np.sort(test)


def _bilinear_upsample(images, size):
    """Half-pixel-centre bilinear resize with edge clamping (TF2's default), in NumPy."""
    def weights(n_in, n_out):
        src = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
        lo = np.floor(src).astype(int)
        hi = np.minimum(lo + 1, n_in - 1)
        m = np.zeros((n_out, n_in))
        m[np.arange(n_out), lo] += 1 - (src - lo)
        m[np.arange(n_out), hi] += src - lo
        return m

    rows, cols = weights(images.shape[1], size), weights(images.shape[2], size)
    return np.einsum("ij,njk,lk->nil", rows, images, cols)


def test_digits_splits_shapes_and_info():
    train, test, all_ = (data.load("digits", s) for s in ("train", "test", "all"))
    for ds, n in ((train, 1437), (test, 360), (all_, 1797)):
        assert ds.element_spec[0] == tf.TensorSpec((32, 32, 3), tf.uint8)
        assert ds.element_spec[1] == tf.TensorSpec((), tf.int32)
        assert int(ds.cardinality()) == n
    meta = data.info("digits")
    assert meta == data.DatasetInfo(
        name="digits",
        num_classes=10,
        class_names=tuple("0123456789"),
        image_shape=(32, 32, 3),
        splits={"train": 1437, "test": 360, "all": 1797},
    )
    with pytest.raises(ValueError, match="'valid'.*'all', 'test', 'train'"):
        data.load("digits", "valid")


def test_digits_split_is_sklearns_stratified_split(digits_source):
    digits, train_idx, test_idx = digits_source
    assert not set(train_idx) & set(test_idx)
    for split, idx in (("train", train_idx), ("test", test_idx), ("all", np.arange(1797))):
        _, labels = _arrays(data.load("digits", split))
        np.testing.assert_array_equal(labels, digits.target[idx])
    _, test_labels = _arrays(data.load("digits", "test"))
    totals = np.bincount(digits.target, minlength=10)
    in_test = np.bincount(test_labels, minlength=10)
    assert np.all(np.abs(in_test - 0.2 * totals) <= 1), (in_test, totals)


def test_digits_images_are_the_upsampled_sklearn_digits(digits_source):
    digits, _, test_idx = digits_source
    images, _ = _arrays(data.load("digits", "test"))
    source = digits.images[test_idx] * 255.0 / 16.0
    # Tolerance 1: our source values are rounded to integers before resizing
    # (<= 0.5, and bilinear weights are convex) and the output is rounded (<= 0.5).
    expected = _bilinear_upsample(source, 32)
    for c in range(3):
        np.testing.assert_allclose(images[..., c], expected, atol=1.0 + 1e-6, rtol=0)

    # Back to 8x8: the mean of each 4x4 block of a half-pixel bilinear x4
    # upsampling is the source filtered by [1/8, 3/4, 1/8] along each axis
    # (edges replicated): sample offsets -3/8, -1/8, 1/8, 3/8 average to that.
    blocks = images[..., 0].astype(float).reshape(-1, 8, 4, 8, 4).mean(axis=(2, 4))
    padded = np.pad(source, ((0, 0), (1, 1), (1, 1)), mode="edge")
    rows = padded[:, :-2] / 8 + padded[:, 1:-1] * 3 / 4 + padded[:, 2:] / 8
    blurred = rows[:, :, :-2] / 8 + rows[:, :, 1:-1] * 3 / 4 + rows[:, :, 2:] / 8
    np.testing.assert_allclose(blocks, blurred, atol=1.0 + 1e-6, rtol=0)


def test_digits_arrays_are_cached():
    assert datasets._digits_arrays() is datasets._digits_arrays()


# ----------------------------------------------------------------------- TFDS


def _write_tfds_metadata(data_dir, name, splits):
    """Writes TFDS's metadata files (no data) for `name` with the given split sizes."""
    builder = tfds.builder(name, data_dir=data_dir)
    builder.info.set_splits(
        tfds.core.SplitDict(
            [
                tfds.core.SplitInfo(name=s, shard_lengths=[n], num_bytes=0, filename_template=None)
                for s, n in splits.items()
            ]
        )
    )
    os.makedirs(builder.data_dir)
    builder.info.write_to_directory(builder.data_dir)


@pytest.mark.parametrize("name, shape", [("cifar10", (32, 32, 3)), ("mnist", (28, 28, 1))])
def test_tfds_load_gives_uint8_images_and_int32_labels(name, shape):
    with tfds.testing.mock_data(num_examples=6):
        ds = data.load(name, split="train")
        images, labels = _arrays(ds)
    assert ds.element_spec == (tf.TensorSpec(shape, tf.uint8), tf.TensorSpec((), tf.int32))
    assert images.shape == (6, *shape) and images.dtype == np.uint8
    assert labels.dtype == np.int32 and labels.min() >= 0 and labels.max() <= 9


def test_tfds_info_reads_builder_metadata(tmp_path):
    _write_tfds_metadata(tmp_path, "cifar10", {"train": 50000, "test": 10000})
    policy = tfds.testing.MockPolicy.USE_FILES
    with tfds.testing.mock_data(policy=policy, data_dir=str(tmp_path)):
        with mock.patch.object(
            tfds.core.DatasetBuilder, "download_and_prepare", side_effect=AssertionError
        ) as download:
            meta = data.info("cifar10", data_dir=str(tmp_path))
    download.assert_not_called()  # prepared files were found first
    assert meta.num_classes == 10 and len(meta.class_names) == 10
    assert meta.image_shape == (32, 32, 3)
    assert meta.splits == {"train": 50000, "test": 10000, "all": 60000}


def test_tfds_test_split_falls_back_to_validation(tmp_path):
    _write_tfds_metadata(tmp_path, "imagenette", {"train": 7, "validation": 3})
    read_splits = []

    def as_dataset(self, split, *args, **kwargs):
        read_splits.append(split)
        example = {"image": tf.zeros([5, 7, 3], tf.uint8), "label": tf.constant(4, tf.int64)}
        return tf.data.Dataset.from_tensors(example)

    policy = tfds.testing.MockPolicy.USE_FILES
    with tfds.testing.mock_data(policy=policy, data_dir=str(tmp_path), as_dataset_fn=as_dataset):
        assert data.info("imagenette").image_shape == (None, None, 3)
        for split, read in [
            ("test", "validation"),
            ("test[:50%]", "validation[:50%]"),
            ("train", "train"),
            ("all", "train+validation"),
        ]:
            images, labels = _arrays(data.load("imagenette", split))
            assert read_splits[-1] == read
            assert images.shape == (1, 5, 7, 3) and labels.tolist() == [4]
        with pytest.raises(ValueError, match=r"'valid'.*'train', 'validation', 'all'"):
            data.load("imagenette", "valid")


def _no_network_download(calls):
    def download_and_prepare(self, *args, download_config=None, **kwargs):
        calls.append(download_config)
        raise requests.exceptions.ConnectionError(
            "HTTPSConnectionPool(host='www.cs.toronto.edu', port=443): Max retries "
            "exceeded (NameResolutionError: Failed to resolve 'www.cs.toronto.edu')"
        )

    return download_and_prepare


def test_tfds_absent_dataset_says_where_to_put_it(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(
        tfds.core.DatasetBuilder, "download_and_prepare", _no_network_download(calls)
    )
    for fn in (data.load, data.info):
        with pytest.raises(FileNotFoundError) as error:
            fn("cifar10", data_dir=str(tmp_path))
        message = str(error.value)
        assert "'cifar10'" in message and str(tmp_path) in message
        assert "tfds build cifar10" in message and "ConnectionError" in message
        assert isinstance(error.value.__cause__, requests.exceptions.ConnectionError)
    assert len(calls) == 2  # not prepared was detected, so a download was tried


def test_tfds_absent_imagenet_names_the_manual_dir(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(
        tfds.core.DatasetBuilder, "download_and_prepare", _no_network_download(calls)
    )
    manual = tmp_path / "my_tars"
    with pytest.raises(FileNotFoundError) as error:
        data.load("imagenet2012", "test", data_dir=str(tmp_path), manual_dir=str(manual))
    assert str(calls[0].manual_dir) == str(manual)
    message = str(error.value)
    for text in (str(manual), "ILSVRC2012_img_train.tar", "ILSVRC2012_img_val.tar", str(tmp_path)):
        assert text in message
    with pytest.raises(FileNotFoundError, match=os.path.join(str(tmp_path), "downloads", "manual")):
        data.load("imagenet2012", data_dir=str(tmp_path))


def test_unknown_name_lists_close_matches():
    with pytest.raises(ValueError) as error:
        data.load("cifar11")
    message = str(error.value)
    assert "'cifar11'" in message and "cifar10" in message
    assert "'digits'" in message and "folder:PATH" in message
    with pytest.raises(ValueError, match="digits"):
        data.info("digitz")


# --------------------------------------------------------------------- folder

def _save(path, size, fmt):
    """Writes a random-noise image of `size` (height, width)."""
    pixels = np.random.default_rng(size).integers(0, 256, (*size, 3), dtype=np.uint8)
    PIL.Image.fromarray(pixels).save(path, fmt)


def _truncated(path):
    """The first half of a PNG or JPEG file (PIL's verify() passes such a JPEG)."""
    buffer = io.BytesIO()
    pixels = np.random.default_rng(1).integers(0, 256, (30, 40, 3), dtype=np.uint8)
    PIL.Image.fromarray(pixels).save(buffer, "PNG" if path.suffix == ".png" else "JPEG")
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])


@pytest.fixture
def image_folder(tmp_path):
    """3 classes of images of distinct sizes, 3 bad files, and files to ignore.

    Returns the root and, per class, the sorted file names (bad ones included).
    """
    root = tmp_path / "images"
    names = {
        "cat": ["a.png", "b.JPG", "c.jpeg", "d.bmp", "e.gif", "f.png", "g.png"],
        "bird": ["b1.png", "b2.jpg", "b3.png", "b4.png", "b5_trunc.png", "b6_trunc.jpg"],
        "dog": ["0_bad.jpg", "d1.png", "d2.PNG", "d3.jpg", "d4.png", "d5.png"],
    }
    formats = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP", ".gif": "GIF"}
    size = 10
    for cls, files in names.items():
        (root / cls).mkdir(parents=True)
        for name in files:
            if name == "0_bad.jpg":
                (root / cls / name).write_bytes(np.random.default_rng(0).bytes(500))
            elif "trunc" in name:
                _truncated(root / cls / name)
            else:
                size += 1
                _save(root / cls / name, (size, size + 3), formats[os.path.splitext(name)[1].lower()])
    (root / "cat" / "notes.txt").write_text("not an image")
    (root / "cat" / ".hidden.png").write_bytes(b"ignored")
    return root, {cls: sorted(files) for cls, files in names.items()}


def _expected_split(root, names, split):
    """(path, label) by the documented rule: sorted per class, every 5th file -> test."""
    expected = []
    for label, cls in enumerate(sorted(names)):
        for i, name in enumerate(names[cls]):
            is_test = i % 5 == 4
            bad = name == "0_bad.jpg" or "trunc" in name
            if not bad and (split == "all" or is_test == (split == "test")):
                expected.append((str(root / cls / name), label))
    return expected


def _check_examples(ds, expected):
    """Images decoded like PIL decodes the file, labels and order as expected."""
    examples = list(ds.as_numpy_iterator())
    assert len(examples) == len(expected)
    for (image, label), (path, expected_label) in zip(examples, expected):
        assert label == expected_label
        with PIL.Image.open(path) as source:
            reference = np.asarray(source.convert("RGB"))
            lossy = source.format == "JPEG"
        assert image.dtype == np.uint8 and image.shape == reference.shape
        # Two JPEG decoders may differ by a level or two (IDCT, upsampling).
        if lossy:
            assert np.mean(np.abs(image.astype(int) - reference)) < 2
        else:
            np.testing.assert_array_equal(image, reference)


def test_folder_splits_labels_and_one_warning(image_folder):
    root, names = image_folder
    name = f"folder:{root}"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train = data.load(name, "train")
        test = data.load(name, "test")
        meta = data.info(name)
    assert len(caught) == 1, [str(w.message) for w in caught]
    message = str(caught[0].message)
    assert "3 unreadable" in message
    assert all(bad in message for bad in ("0_bad.jpg", "b5_trunc.png", "b6_trunc.jpg"))

    assert meta.class_names == ("bird", "cat", "dog") and meta.num_classes == 3
    assert meta.image_shape == (None, None, 3)
    # 19 image files, 3 bad. The 5th of each class is a test file: bird's
    # b5_trunc.png (bad), cat's e.gif, dog's d4.png (0_bad.jpg sorts first).
    assert meta.splits == {"train": 14, "test": 2, "all": 16}
    _check_examples(train, _expected_split(root, names, "train"))
    _check_examples(test, _expected_split(root, names, "test"))
    _check_examples(data.load(name, "all"), _expected_split(root, names, "all"))
    with pytest.raises(ValueError, match="'validation'"):
        data.load(name, "validation")


def test_folder_file_broken_after_the_scan_is_dropped_not_fatal(image_folder):
    root, names = image_folder
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = data.load(f"folder:{root}", "train")
    (root / "cat" / "a.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    expected = [e for e in _expected_split(root, names, "train") if not e[0].endswith("a.png")]
    _check_examples(ds, expected)


def test_folder_with_split_subfolders(tmp_path):
    root = tmp_path / "explicit"
    layout = {
        "train": {"b": 3, "a": 2, "c": 1},
        "val": {"a": 1, "b": 2},
    }
    expected = {}
    size = 8
    for split, classes in layout.items():
        expected[split] = []
        for cls in sorted(classes):
            (root / split / cls).mkdir(parents=True)
            for i in range(classes[cls]):
                size += 1
                path = root / split / cls / f"{i}.png"
                _save(path, (size, size), "PNG")
                expected[split].append((str(path), "abc".index(cls)))
    name = f"folder:{root}"
    meta = data.info(name)
    assert meta.class_names == ("a", "b", "c")
    assert meta.splits == {"train": 6, "val": 3, "all": 9}
    _check_examples(data.load(name, "train"), expected["train"])
    _check_examples(data.load(name, "test"), expected["val"])  # no test/: val stands in
    _check_examples(data.load(name, "all"), expected["train"] + expected["val"])


def test_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        data.load(f"folder:{tmp_path / 'missing'}")
    with pytest.raises(FileNotFoundError, match="no class sub-folders"):
        data.info(f"folder:{tmp_path}")


# A class folder without images is an error when the folder is read, naming it,
# rather than an empty dataset that fails later in training.

_EXTENSIONS = ".jpg, .jpeg, .png, .bmp, .gif"


def _classes(root, layout):
    """Creates root/<class>/ folders: "img" files get an image, other names the given bytes."""
    for cls, files in layout.items():
        (root / cls).mkdir(parents=True)
        for i, (name, content) in enumerate(files.items()):
            if content == "img":
                _save(root / cls / name, (6 + i, 7), "PNG")
            else:
                (root / cls / name).write_bytes(content)


def test_folder_whose_class_folders_hold_no_images(tmp_path):
    root = tmp_path / "empty"
    _classes(root, {"a": {}, "b": {"notes.txt": b"text"}})
    for fn in (data.info, data.load):
        with pytest.raises(ValueError) as error:
            fn(f"folder:{root}")
        assert str(error.value) == (
            f"Image folder {str(root)!r} has class folders ['a', 'b'] but no images in them "
            f"(looked for {_EXTENSIONS}, any case)."
        )


def test_folder_whose_only_images_are_unreadable_says_so(tmp_path):
    root = tmp_path / "broken"
    _classes(root, {"a": {"x.png": b"not a png"}, "b": {"y.jpg": b"nor a jpeg"}})
    with pytest.warns(UserWarning, match="2 unreadable"):
        with pytest.raises(ValueError) as error:
            data.info(f"folder:{root}")
    assert str(error.value).endswith(
        f"(looked for {_EXTENSIONS}, any case); its 2 file(s) with those extensions are "
        f"unreadable: {os.path.join('a', 'x.png')}, {os.path.join('b', 'y.jpg')}."
    )


@pytest.mark.parametrize("files, why", [
    ({}, "empty"),
    ({"notes.txt": b"text"}, "no image files, only 1 other file(s): notes.txt"),
    ({"0.png": b"truncated", "1.JPG": b"junk"}, "2 unreadable image file(s): 0.png, 1.JPG"),
])
def test_folder_with_one_class_folder_without_images_names_it(tmp_path, files, why):
    root = tmp_path / "images"
    _classes(root, {"a": {"1.png": "img"}, "b": files, "c": {"1.png": "img", "2.png": "img"}})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the unreadable files' own warning
        with pytest.raises(ValueError) as error:
            data.load(f"folder:{root}")
    assert str(error.value) == (
        f"Image folder {str(root)!r}: class folder(s) without images: "
        f"{str(root / 'b')!r} ({why}). A class needs at least one image "
        f"(looked for {_EXTENSIONS}, any case): remove its folder or add images."
    )


def test_folder_with_one_class_loads(tmp_path):
    # A one-class folder is a dataset; it is the training library that refuses it.
    root = tmp_path / "one"
    _classes(root, {"only": {"1.png": "img", "2.png": "img"}})
    assert data.info(f"folder:{root}").class_names == ("only",)
    assert [label for _, label in data.load(f"folder:{root}", "all").as_numpy_iterator()] == [0, 0]


def test_folder_split_layout_needs_an_image_per_class_in_some_split(tmp_path):
    root = tmp_path / "splits"
    # b is missing from val/ and c has an empty val/c: both have training images.
    _classes(root / "train", {"a": {"1.png": "img"}, "b": {"1.png": "img"}, "c": {"1.png": "img"}})
    _classes(root / "val", {"a": {"1.png": "img"}, "c": {}})
    meta = data.info(f"folder:{root}")
    assert meta.class_names == ("a", "b", "c")
    assert meta.splits == {"train": 3, "val": 1, "all": 4}
    _, labels = _arrays(data.load(f"folder:{root}", "test"))
    assert labels.tolist() == [0]

    # d has folders in both splits and no image in either.
    (root / "train" / "d").mkdir()
    (root / "val" / "d").mkdir()
    with pytest.raises(ValueError) as error:
        data.info(f"folder:{root}")
    assert (f"class folder(s) without images: {str(root / 'train' / 'd')!r} and "
            f"{str(root / 'val' / 'd')!r} (empty). A class needs at least one image") in str(error.value)
