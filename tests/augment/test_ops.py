"""kerascnn.augment.ops: the uint8 / level / seed contract, PIL parity, the random transforms."""

import colorsys
import math

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image, ImageEnhance, ImageFilter, ImageOps

from kerascnn.augment import ops, random_ops
from kerascnn.data import stats

NAMES = list(ops.OPS)
RANDOM_OPS = ("gaussian_noise", "pca_lighting", "cutout")
AFFINE_OPS = ("rotate", "shear_x", "shear_y", "translate_x", "translate_y")
# A level at which each op visibly changes IMAGE.
LEVELS = {
    "identity": 0.7,
    "auto_contrast": 1.0,
    "equalize": 0.8,
    "rotate": 30.0,
    "solarize": 128.0,
    "color": 0.6,
    "posterize": 4.0,
    "contrast": -0.4,
    "brightness": 0.5,
    "sharpness": 0.9,
    "shear_x": 0.3,
    "shear_y": -0.25,
    "translate_x": 7.0,
    "translate_y": -5.0,
    "invert": 1.0,
    "hue": 0.25,
    "grayscale": 0.5,
    "gaussian_noise": 20.0,
    "pca_lighting": 1.0,
    "cutout": 10.0,
}
SEED = (3, 7)
SIGNATURE = [
    tf.TensorSpec([None, None, 3], tf.uint8),
    tf.TensorSpec([], tf.float32),
    tf.TensorSpec([2], tf.int32),
]


def random_image(h, w, low=0, high=256, seed=0):
    return np.random.default_rng(seed).integers(low, high, (h, w, 3)).astype(np.uint8)


def smooth_image(h=32, w=48, seed=0):
    """Gradients and a ripple plus a little noise: neighbours differ, so shifts show."""
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([x * 255 / (w - 1), y * 255 / (h - 1), 127 + 100 * np.sin(x / 3 + y / 5)], -1)
    img += np.random.default_rng(seed).integers(-10, 10, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


IMAGE = random_image(24, 40, 30, 200)  # non-square, not spanning 0..255
SMOOTH = smooth_image()

_GRAPH = {}


def graph_op(name):
    """The op as a tf.function with unknown H and W (one trace per op)."""
    if name not in _GRAPH:
        _GRAPH[name] = tf.function(ops.OPS[name], input_signature=SIGNATURE)
    return _GRAPH[name]


def run_graph(name, image, level, seed=SEED):
    return graph_op(name)(
        image, tf.constant(level, tf.float32), tf.constant(seed, tf.int32)
    ).numpy()


def as_array(x):
    return np.asarray(x)


# --- the contract, for every op --------------------------------------------------------


def test_ops_table_order_and_names():
    assert NAMES == [
        "identity",
        "auto_contrast",
        "equalize",
        "rotate",
        "solarize",
        "color",
        "posterize",
        "contrast",
        "brightness",
        "sharpness",
        "shear_x",
        "shear_y",
        "translate_x",
        "translate_y",
        "invert",
        "hue",
        "grayscale",
        "gaussian_noise",
        "pca_lighting",
        "cutout",
    ]
    for name, fn in ops.OPS.items():
        assert fn is getattr(ops, name)


@pytest.mark.parametrize("name", NAMES)
def test_uint8_shape_and_level_zero_identity(name):
    op = ops.OPS[name]
    for zero in (0.0, 0, tf.constant(0.0), tf.constant(0.0, tf.float64)):
        out = op(IMAGE, zero, SEED)
        assert out.dtype == tf.uint8
        np.testing.assert_array_equal(as_array(out), IMAGE)
    out = op(IMAGE, LEVELS[name], SEED)
    assert out.dtype == tf.uint8 and out.shape == (24, 40, 3)
    if name != "identity":
        assert not np.array_equal(as_array(out), IMAGE), "the test level should change the image"
    # (levels unknown at trace time take another code path: see the graph tests)
    np.testing.assert_array_equal(as_array(op(IMAGE, tf.constant(LEVELS[name]), SEED)), out)
    if name not in RANDOM_OPS:  # deterministic ops may be called without a seed
        np.testing.assert_array_equal(as_array(op(IMAGE, LEVELS[name])), out)


@pytest.mark.parametrize("name", NAMES)
def test_graph_and_tf_data_match_eager(name):
    level = LEVELS[name]
    eager = as_array(ops.OPS[name](IMAGE, level, SEED))
    # tf.function with unknown H and W
    concrete = graph_op(name).get_concrete_function()
    assert concrete.structured_outputs.shape.as_list() == [None, None, 3]
    assert concrete.structured_outputs.dtype == tf.uint8
    np.testing.assert_array_equal(run_graph(name, IMAGE, 0.0), IMAGE)
    np.testing.assert_array_equal(run_graph(name, IMAGE, level), eager)
    # tiny and one-pixel-wide images keep their shape too
    for h, w in ((1, 1), (2, 3), (1, 5)):
        tiny = random_image(h, w, seed=h * 10 + w)
        assert run_graph(name, tiny, level).shape == (h, w, 3)
        np.testing.assert_array_equal(run_graph(name, tiny, 0.0), tiny)
    # a static input shape stays static
    static = tf.function(lambda x, l, s: ops.OPS[name](x, l, s)).get_concrete_function(
        tf.TensorSpec([24, 40, 3], tf.uint8), SIGNATURE[1], SIGNATURE[2]
    )
    assert static.structured_outputs.shape.as_list() == [24, 40, 3]
    # a tf.data map, per-element seeds
    images = np.stack([IMAGE] + [random_image(24, 40, 30, 200, seed=i) for i in range(2)])
    seeds = np.array([SEED, [3, 4], [5, 6]], np.int64)
    ds = tf.data.Dataset.from_tensor_slices((images, seeds))
    ds = ds.map(lambda x, s: ops.OPS[name](x, level, s), num_parallel_calls=2, deterministic=True)
    outs = list(ds)
    np.testing.assert_array_equal(outs[0].numpy(), eager)
    for out, image, seed in zip(outs[1:], images[1:], seeds[1:]):
        assert out.shape == (24, 40, 3)
        np.testing.assert_array_equal(out.numpy(), as_array(ops.OPS[name](image, level, seed)))


def test_all_ops_inside_switch_case():
    # as a policy uses them: one branch per op, magnitudes unknown at trace time
    levels = tf.constant([LEVELS[name] for name in NAMES])
    index_spec, levels_spec = tf.TensorSpec([], tf.int32), tf.TensorSpec([len(NAMES)])

    @tf.function(input_signature=[SIGNATURE[0], index_spec, levels_spec, SIGNATURE[2]])
    def apply(image, index, levels, seed):
        branches = [
            (lambda op=op, i=i: op(image, levels[i], seed)) for i, op in enumerate(ops.OPS.values())
        ]
        return tf.switch_case(index, branches)

    for index, name in enumerate(NAMES):
        out = apply(IMAGE, index, levels, SEED).numpy()
        np.testing.assert_array_equal(out, as_array(ops.OPS[name](IMAGE, LEVELS[name], SEED)))


@pytest.mark.parametrize("name", RANDOM_OPS)
def test_random_ops_follow_the_seed(name):
    op = ops.OPS[name]
    first = as_array(op(IMAGE, LEVELS[name], (1, 2)))
    np.testing.assert_array_equal(first, as_array(op(IMAGE, LEVELS[name], tf.constant([1, 2]))))
    np.testing.assert_array_equal(first, run_graph(name, IMAGE, LEVELS[name], (1, 2)))
    assert not np.array_equal(first, as_array(op(IMAGE, LEVELS[name], (9, 4))))
    assert not np.array_equal(first, as_array(op(IMAGE, LEVELS[name], (2, 2))))


def test_batches_with_one_level_per_image():
    # [B, H, W, 3] with levels [B]: image b gets exactly what it would alone
    # (the ops that draw: a batch of one gives the single image's draw).
    batch = np.stack([random_image(12, 20, seed=20 + b) for b in range(4)])
    batch_spec = [
        tf.TensorSpec([None, None, None, 3], tf.uint8),
        tf.TensorSpec([None]),
        SIGNATURE[2],
    ]
    for name, op in ops.OPS.items():
        levels = np.array([0.0, 1.0, 0.5, 0.3], np.float32) * LEVELS[name]
        levels[3] *= -1 if name in ("rotate", "color", "contrast", "shear_x", "hue") else 1
        out = as_array(op(batch, levels, SEED))
        assert out.shape == batch.shape and out.dtype == np.uint8
        graph = tf.function(op, input_signature=batch_spec)
        np.testing.assert_array_equal(graph(batch, levels, SEED).numpy(), out, err_msg=name)
        np.testing.assert_array_equal(out[0], batch[0], err_msg=name)  # level 0
        if name in RANDOM_OPS:
            alone = as_array(op(batch[1], float(levels[1]), SEED))
            np.testing.assert_array_equal(as_array(op(batch[1:2], levels[1:2], SEED))[0], alone)
            twins = as_array(op(np.stack([batch[1]] * 2), levels[1], SEED))
            assert not np.array_equal(twins[0], twins[1]), f"{name}: one draw per image"
            continue
        for b in range(4):
            alone = as_array(op(batch[b], float(levels[b]), SEED))
            np.testing.assert_array_equal(out[b], alone, err_msg=f"{name} image {b}")


def test_level_shape_must_fit_the_images():
    with pytest.raises(ValueError, match="level"):
        ops.brightness(IMAGE, [0.1, 0.2])  # per-image levels need a batch
    with pytest.raises(ValueError, match="level"):
        ops.brightness(IMAGE[None], [[0.1]])


@pytest.mark.parametrize("transform, kwargs", [
    (random_ops.random_rotation, dict(max_degrees=30.0)),
    (random_ops.random_translation, dict(max_fraction=0.3)),
    (random_ops.color_jitter, dict(brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1)),
    (random_ops.random_erasing, dict(probability=0.7)),
    (random_ops.random_cutout, dict(size=9)),
])
def test_random_transforms_draw_per_image_in_a_batch(transform, kwargs):
    rng = np.random.default_rng(5)
    batch = rng.integers(0, 256, (6, 20, 28, 3), dtype=np.uint8)
    out = transform(tf.constant(batch), SEED, **kwargs).numpy()
    assert out.shape == batch.shape and out.dtype == np.uint8
    # A batch of one draws what the single image draws.
    np.testing.assert_array_equal(
        transform(tf.constant(batch[:1]), SEED, **kwargs).numpy()[0],
        transform(tf.constant(batch[0]), SEED, **kwargs).numpy())
    # Images draw independently: the same image six times comes out differently.
    same = np.repeat(batch[:1], 6, axis=0)
    outs = transform(tf.constant(same), SEED, **kwargs).numpy()
    assert len({o.tobytes() for o in outs}) > 1


# --- exact small cases -----------------------------------------------------------------


def test_rotate_multiples_of_90_match_rot90():
    ramp = np.arange(27, dtype=np.uint8).reshape(3, 3, 3)
    for degrees, k in ((90, 1), (-90, -1), (180, 2), (270, 3), (360, 0)):
        np.testing.assert_array_equal(as_array(ops.rotate(ramp, degrees)), np.rot90(ramp, k))
        np.testing.assert_array_equal(run_graph("rotate", ramp, degrees), np.rot90(ramp, k))
    wide = random_image(4, 6)
    np.testing.assert_array_equal(as_array(ops.rotate(wide, 180.0)), np.rot90(wide, 2))


def test_posterize_keeps_high_bits():
    image = np.full((2, 2, 3), 0b10110111, np.uint8)
    for level, expected in (
        (4, 0b10110000),
        (1, 0b10110110),
        (3.6, 0b10110000),
        (8, 0),
        (0.4, 0b10110111),
    ):
        np.testing.assert_array_equal(as_array(ops.posterize(image, level)), expected)
        np.testing.assert_array_equal(run_graph("posterize", image, level), expected)


def test_solarize_threshold():
    values = np.array([0, 100, 127, 128, 200, 255], np.uint8)
    image = np.repeat(values[None, :, None], 3, axis=2)
    expected = {
        128.0: [0, 100, 127, 127, 55, 0],  # threshold 128: 128 and up flip
        127.5: [0, 100, 127, 128, 55, 0],  # threshold 128.5: 128 stays
        1.0: [0, 100, 127, 128, 200, 0],  # threshold 255
        256.0: list(255 - values),  # threshold 0: everything
    }
    for level, want in expected.items():
        np.testing.assert_array_equal(as_array(ops.solarize(image, level))[0, :, 0], want)
        np.testing.assert_array_equal(run_graph("solarize", image, level)[0, :, 0], want)
    pil = ImageOps.solarize(Image.fromarray(SMOOTH), 100)
    np.testing.assert_array_equal(as_array(ops.solarize(SMOOTH, 156.0)), np.asarray(pil))


def test_invert_and_its_blend_weight():
    np.testing.assert_array_equal(as_array(ops.invert(IMAGE, 1.0)), 255 - IMAGE)
    np.testing.assert_array_equal(np.asarray(ImageOps.invert(Image.fromarray(IMAGE))), 255 - IMAGE)
    x = IMAGE.astype(np.float64)
    expected = np.floor(x + 0.25 * (255 - 2 * x) + 0.5)  # round(x + w (invert(x) - x))
    np.testing.assert_array_equal(as_array(ops.invert(IMAGE, 0.25)), expected)
    np.testing.assert_array_equal(run_graph("invert", IMAGE, 0.25), expected)


def test_brightness_scales():
    image = np.array([[[10, 100, 200], [11, 0, 255]]], np.uint8)
    np.testing.assert_array_equal(
        as_array(ops.brightness(image, 0.5)), [[[15, 150, 255], [17, 0, 255]]]
    )
    np.testing.assert_array_equal(
        as_array(ops.brightness(image, -0.5)), [[[5, 50, 100], [6, 0, 128]]]
    )
    np.testing.assert_array_equal(as_array(ops.brightness(image, -1.0)), np.zeros_like(image))


def test_grayscale_uses_pil_luma():
    primaries = np.array(
        [[[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255], [0, 0, 0]]], np.uint8
    )
    # (299 R + 587 G + 114 B) / 1000, rounded: 76.2, 149.7, 29.1
    np.testing.assert_array_equal(
        as_array(ops.grayscale(primaries, 1.0))[0, :, 0], [76, 150, 29, 255, 0]
    )
    image = random_image(16, 24, seed=5)
    gray = as_array(ops.grayscale(image, 1.0))
    pil = np.asarray(Image.fromarray(image).convert("L"))
    for c in range(3):
        np.testing.assert_array_equal(gray[..., c], pil)
    half = np.floor(image + 0.5 * (pil[..., None].astype(np.float64) - image) + 0.5)
    np.testing.assert_array_equal(as_array(ops.grayscale(image, 0.5)), half)


def test_auto_contrast_stretches_each_channel():
    image = np.zeros((2, 3, 3), np.uint8)
    image[..., 0] = [[50, 100, 150], [60, 70, 80]]  # stretched: 50 -> 0, 150 -> 255
    image[..., 1] = 77  # constant: left alone
    image[..., 2] = [[0, 255, 128], [1, 2, 3]]  # already full range
    out = as_array(ops.auto_contrast(image, 1.0))
    np.testing.assert_array_equal(out[..., 0], [[0, 127, 255], [25, 51, 76]])  # int(2.55 (x - 50))
    np.testing.assert_array_equal(out[..., 1], 77)
    np.testing.assert_array_equal(out[..., 2], image[..., 2])
    for img in (IMAGE, SMOOTH // 3 + 40, random_image(20, 20, 7, 9, seed=3)):
        pil = np.asarray(ImageOps.autocontrast(Image.fromarray(img)))
        np.testing.assert_array_equal(as_array(ops.auto_contrast(img, 1.0)), pil)
        np.testing.assert_array_equal(run_graph("auto_contrast", img, 1.0), pil)


def test_equalize_matches_pil():
    two_valued = np.zeros((8, 8, 3), np.uint8)
    two_valued[:3] = 200
    constant_channel = SMOOTH.copy()
    constant_channel[..., 2] = 9
    images = [
        SMOOTH,
        IMAGE,
        random_image(17, 9, seed=2),
        SMOOTH // 4 + 100,
        two_valued,
        constant_channel,
    ]
    for img in images:
        pil = np.asarray(ImageOps.equalize(Image.fromarray(img)))
        np.testing.assert_array_equal(as_array(ops.equalize(img, 1.0)), pil)
        np.testing.assert_array_equal(run_graph("equalize", img, 1.0), pil)


@pytest.mark.parametrize(
    "name, enhancer",
    [
        ("color", ImageEnhance.Color),
        ("contrast", ImageEnhance.Contrast),
        ("brightness", ImageEnhance.Brightness),
        ("sharpness", ImageEnhance.Sharpness),
    ],
)
def test_enhance_ops_match_pil_within_one_level(name, enhancer):
    # PIL's blend truncates, ours rounds: at most one grey level apart.
    for img in (SMOOTH, random_image(9, 13, seed=4)):
        for factor in (0.0, 0.1, 0.5, 1.5, 1.9, 3.0):
            ours = as_array(ops.OPS[name](img, factor - 1.0)).astype(int)
            pil = np.asarray(enhancer(Image.fromarray(img)).enhance(factor)).astype(int)
            assert np.abs(ours - pil).max() <= 1, (name, factor)


def test_sharpness_degenerate_is_pils_smooth_filter():
    img = random_image(10, 12, seed=6)
    smooth = np.asarray(Image.fromarray(img).filter(ImageFilter.SMOOTH))
    np.testing.assert_array_equal(as_array(ops.sharpness(img, -1.0)), smooth)
    np.testing.assert_array_equal(run_graph("sharpness", img, -1.0), smooth)


@pytest.mark.parametrize("depthwise", [False, True])
def test_smooth_filter_both_ways_is_pils(depthwise):
    """The two SMOOTH implementations (oneDNN CPUs take the convolution for batches)."""
    images = np.stack([random_image(9, 13, seed=s) for s in range(3)])
    pil = np.stack([np.asarray(Image.fromarray(i).filter(ImageFilter.SMOOTH)) for i in images])
    x = tf.constant(images, tf.float32)
    batch = ops.smooth_filter(x, depthwise=depthwise).numpy()
    single = ops.smooth_filter(x[1], depthwise=depthwise).numpy()
    # PIL copies the 1-pixel border unfiltered; inside, the filter is exact.
    np.testing.assert_array_equal(batch[:, 1:-1, 1:-1], pil[:, 1:-1, 1:-1])
    np.testing.assert_array_equal(single, batch[1])
    as_batch = ops.sharpness(tf.constant(images), -1.0).numpy()
    np.testing.assert_array_equal(as_batch, pil)


def hsv_hue_shift(image, delta):
    out = np.empty(image.shape, np.float64)
    for (i, j), _ in np.ndenumerate(image[..., 0]):
        h, s, v = colorsys.rgb_to_hsv(*(image[i, j] / 255.0))
        out[i, j] = colorsys.hsv_to_rgb((h + delta) % 1.0, s, v)
    return out * 255.0


def test_hue_matches_hsv_reference():
    img = random_image(8, 8, seed=8)
    img[0, :6] = [[5, 5, 5], [5, 5, 9], [9, 5, 5], [5, 9, 5], [9, 9, 5], [0, 0, 255]]  # ties
    for delta in (0.5, -0.25, 0.1, 1 / 6):
        ours = as_array(ops.hue(img, delta))
        assert np.abs(ours.astype(int) - hsv_hue_shift(img, delta)).max() <= 1, delta
        tf_float = tf.image.adjust_hue(img.astype(np.float32) / 255.0, delta).numpy() * 255.0
        assert np.abs(ours - tf_float).max() <= 1, delta
        # per-image levels take a written-out copy of the kernel: the same bits
        both = as_array(ops.hue(np.stack([img, img]), [delta, -delta]))
        np.testing.assert_array_equal(both[0], ours)
        np.testing.assert_array_equal(both[1], as_array(ops.hue(img, -delta)))


def test_gaussian_noise_statistics():
    image = np.full((128, 128, 3), 128, np.uint8)
    noise = as_array(ops.gaussian_noise(image, 10.0, (5, 6))).astype(np.float64) - 128
    assert abs(noise.mean()) < 0.2
    assert 9.8 < noise.std() < 10.2
    assert np.all(noise == np.round(noise))


@pytest.mark.parametrize("side", [6, 7])
def test_cutout_square(side):
    image = np.full((40, 40, 3), 100, np.uint8)
    inside = 0
    for seed in range(30):
        out = as_array(ops.cutout(image, float(side), (seed, 1), fill=(0, 1, 2)))
        cut = np.all(out == [0, 1, 2], axis=-1)
        assert np.all(out[~cut] == 100)
        rows, cols = np.nonzero(cut)
        top, bottom, left, right = rows.min(), rows.max(), cols.min(), cols.max()
        assert cut[top : bottom + 1, left : right + 1].all()  # a filled rectangle
        assert bottom - top + 1 <= side and right - left + 1 <= side
        if top > 0 and left > 0 and bottom < 39 and right < 39:  # not clipped by a border
            assert cut.sum() == side * side
            inside += 1
    assert inside > 10


def test_pca_lighting_adds_the_eigenvector_shift():
    image = np.full((6, 5, 3), 128, np.uint8)
    level, seed = 0.5, tf.constant([11, 12], tf.int32)
    alpha = tf.random.stateless_normal([3], seed).numpy() * level
    eigval = np.array(ops.IMAGENET_PCA_EIGENVALUES)
    eigvec = np.array(ops.IMAGENET_PCA_EIGENVECTORS)
    shift = eigvec @ (alpha * eigval) * 255.0
    expected = np.clip(np.floor(128 + shift + 0.5), 0, 255)
    out = as_array(ops.pca_lighting(image, level, seed))
    np.testing.assert_array_equal(out, np.broadcast_to(expected, out.shape))
    # a custom basis: one eigenvector along green only
    vec = np.eye(3)[:, [1, 0, 2]]
    out = as_array(
        ops.pca_lighting(image, level, seed, eigenvalues=(0.2, 0.0, 0.0), eigenvectors=vec)
    )
    green = np.clip(np.floor(128 + alpha[0] * 0.2 * 255 + 0.5), 0, 255)
    np.testing.assert_array_equal(out[0, 0], [128, green, 128])


def test_pca_lighting_basis_matches_numpy():
    rng = np.random.default_rng(9)
    mixing = np.array([[1.0, 0.8, 0.6], [0.0, 0.5, -0.3], [0.0, 0.0, 0.2]])
    latent = rng.uniform(0, 1, (6, 8, 10, 3)) @ mixing
    images = np.clip(latent / latent.max() * 255, 0, 255).astype(np.uint8)
    labels = np.arange(6)

    def reference(imgs):
        pixels = imgs.reshape(-1, 3) / 255.0
        values, vectors = np.linalg.eigh(np.cov(pixels.T, bias=True))
        return values[::-1], vectors[:, ::-1]

    def check(got, want):
        np.testing.assert_allclose(got[0], want[0], rtol=1e-6, atol=1e-12)
        assert got[0][0] >= got[0][1] >= got[0][2]
        # eigenvectors up to sign: |<got_k, want_k>| = 1
        np.testing.assert_allclose(np.abs(np.sum(got[1] * want[1], axis=0)), 1.0, rtol=1e-6)

    want = reference(images)
    check(stats.pca_lighting_basis(tf.data.Dataset.from_tensor_slices(images)), want)
    check(stats.pca_lighting_basis(tf.data.Dataset.from_tensor_slices((images, labels))), want)
    check(stats.pca_lighting_basis(tf.data.Dataset.from_tensor_slices(images).batch(4)), want)
    check(
        stats.pca_lighting_basis(
            tf.data.Dataset.from_tensor_slices({"image": images, "label": labels})
        ),
        want,
    )
    check(
        stats.pca_lighting_basis(
            tf.data.Dataset.from_tensor_slices((images, labels)), max_examples=2
        ),
        reference(images[:2]),
    )
    values, vectors = stats.pca_lighting_basis(tf.data.Dataset.from_tensor_slices(images))
    out = ops.pca_lighting(IMAGE, 0.1, SEED, eigenvalues=values, eigenvectors=vectors)
    assert out.dtype == tf.uint8


# --- the affine ops against PIL --------------------------------------------------------

AFFINE_CASES = (
    [("rotate", d) for d in (30.0, -45.0, 17.5, 90.0, -90.0, 180.0, 123.4, 0.001)]
    + [("shear_x", s) for s in (0.3, -0.25, 1 / 3, 0.7, -1.0)]
    + [("shear_y", s) for s in (0.3, -0.25, 1 / 3, 0.7, 0.05)]
    + [("translate_x", t) for t in (3.0, -7.0, 2.5, 13.7, 0.4)]
    + [("translate_y", t) for t in (5.0, -4.5, 0.5, -31.0, 40.0)]
)


def pil_affine(image, name, level, fill):
    pil = Image.fromarray(image)
    if name == "rotate":
        return np.asarray(pil.rotate(level, resample=Image.NEAREST, fillcolor=fill))
    matrix = {
        "shear_x": (1, level, 0, 0, 1, 0),
        "shear_y": (1, 0, 0, level, 1, 0),
        "translate_x": (1, 0, level, 0, 1, 0),
        "translate_y": (1, 0, 0, 0, 1, level),
    }[name]
    return np.asarray(
        pil.transform(pil.size, Image.AFFINE, matrix, resample=Image.NEAREST, fillcolor=fill)
    )


@pytest.mark.parametrize("fill", [0, (10, 200, 30)])
def test_affine_ops_match_pil_exactly(fill):
    # Exact, not within a tolerance: the ops quantize the matrix to PIL's 16.16
    # fixed point and floor like PIL, ties (x_in exactly an integer, as with
    # shear 1/3 or a half-pixel translation) included.
    for name, level in AFFINE_CASES:
        want = pil_affine(SMOOTH, name, level, fill)
        np.testing.assert_array_equal(
            as_array(ops.OPS[name](SMOOTH, level, fill=fill)), want, err_msg=f"{name} {level}"
        )
    for name in AFFINE_OPS:  # the dynamic-shape path, through a tf.function
        fn = tf.function(
            lambda x, l, name=name: ops.OPS[name](x, l, fill=fill), input_signature=SIGNATURE[:2]
        )
        for case, level in AFFINE_CASES:
            if case == name:
                want = pil_affine(SMOOTH, name, level, fill)
                np.testing.assert_array_equal(
                    fn(SMOOTH, level).numpy(), want, err_msg=f"{name} {level}"
                )


def test_bilinear_interpolation():
    image = random_image(6, 8, seed=12)
    np.testing.assert_array_equal(as_array(ops.rotate(image, 0.0, interpolation="bilinear")), image)
    # Half a pixel: each output pixel is the mean of two input neighbours.
    out = as_array(ops.translate_x(image, 0.5, interpolation="bilinear"))
    mean = np.floor((image[:, :-1].astype(np.float64) + image[:, 1:]) / 2 + 0.5)
    np.testing.assert_array_equal(out[:, :-1], mean)
    # Entirely outside: all fill, a colour fill included.
    out = as_array(ops.translate_y(image, 100.0, fill=(1, 2, 3), interpolation="BILINEAR"))
    np.testing.assert_array_equal(out, np.broadcast_to([1, 2, 3], image.shape))
    out = as_array(ops.rotate(image, 33.0, interpolation="bilinear", fill=(1, 2, 3)))
    assert out.dtype == np.uint8 and out.shape == image.shape


# --- the random transforms -------------------------------------------------------------


def test_random_rotation_draws_a_uniform_angle():
    image = smooth_image(20, 30)
    np.testing.assert_array_equal(as_array(random_ops.random_rotation(image, SEED, 0.0)), image)
    angles = []
    for i in range(12):
        seed = tf.constant([i, 4])
        angle = float(tf.random.stateless_uniform([], seed, -20.0, 20.0))
        angles.append(angle)
        out = as_array(random_ops.random_rotation(image, seed, 20.0, fill=5))
        np.testing.assert_array_equal(out, as_array(ops.rotate(image, angle, fill=5)))
    assert min(angles) < -5 and max(angles) > 5 and max(map(abs, angles)) <= 20


def test_random_translation_shifts_by_whole_pixels_in_range():
    h, w = 20, 40
    y, x = np.mgrid[0:h, 0:w]
    image = np.stack([x * 6 + 10, y * 12 + 10, np.zeros_like(x)], -1).astype(
        np.uint8
    )  # unique pixels
    shifts = set()
    for i in range(25):
        out = as_array(random_ops.random_translation(image, (i, 9), 0.25, fill=0)).astype(int)
        kept = out[..., 0] > 0
        assert kept.any()
        dx = (out[..., 0][kept] - 10) // 6 - x[kept]
        dy = (out[..., 1][kept] - 10) // 12 - y[kept]
        assert len(set(dx)) == 1 and len(set(dy)) == 1  # one rigid whole-pixel shift
        assert abs(dx[0]) <= 10 and abs(dy[0]) <= 5  # 0.25 * W, 0.25 * H
        assert (~kept).sum() == h * w - (w - abs(dx[0])) * (h - abs(dy[0]))
        shifts.add((int(np.sign(dx[0])), int(np.sign(dy[0]))))
    assert len(shifts) >= 3


def test_color_jitter():
    image = IMAGE
    np.testing.assert_array_equal(as_array(random_ops.color_jitter(image, SEED)), image)
    # brightness alone on a flat image: a factor in [0.5, 1.5]
    flat = np.full((4, 4, 3), 100, np.uint8)
    values = {
        int(as_array(random_ops.color_jitter(flat, (i, 0), brightness=0.5))[0, 0, 0]) for i in range(20)
    }
    assert min(values) >= 50 and max(values) <= 150 and len(values) > 5
    # saturation and contrast leave a flat grey image alone
    grey = np.full((4, 4, 3), 90, np.uint8)
    np.testing.assert_array_equal(
        as_array(random_ops.color_jitter(grey, SEED, contrast=0.8, saturation=0.8)), grey
    )
    # all four: seeded, and the same in a tf.function with unknown shape
    kwargs = dict(brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1)
    first = as_array(random_ops.color_jitter(image, (1, 2), **kwargs))
    np.testing.assert_array_equal(first, as_array(random_ops.color_jitter(image, (1, 2), **kwargs)))
    assert not np.array_equal(first, as_array(random_ops.color_jitter(image, (1, 3), **kwargs)))
    fn = tf.function(
        lambda x, s: random_ops.color_jitter(x, s, **kwargs), input_signature=[SIGNATURE[0], SIGNATURE[2]]
    )
    np.testing.assert_array_equal(fn(image, tf.constant([1, 2])).numpy(), first)


def test_color_jitter_applies_the_drawn_factors_in_the_drawn_order():
    # The draws are documented (seeds = tf.random.split(seed, 5), ...), so
    # the test can rebuild each output from brightness and contrast.
    image = smooth_image(8, 8)
    orders, order_matters = set(), False
    for i in range(10):
        seed = tf.constant([i, 5])
        seeds = tf.random.split(seed, 5)
        b = float(tf.random.stateless_uniform([], seeds[1], 0.1, 1.9)) - 1.0
        c = float(tf.random.stateless_uniform([], seeds[2], 0.1, 1.9)) - 1.0
        order = tuple(np.argsort(tf.random.stateless_uniform([2], seeds[0]).numpy()))
        b_then_c = as_array(ops.contrast(ops.brightness(image, b), c))
        c_then_b = as_array(ops.brightness(ops.contrast(image, c), b))
        want = b_then_c if order == (0, 1) else c_then_b
        out = as_array(random_ops.color_jitter(image, seed, brightness=0.9, contrast=0.9))
        np.testing.assert_array_equal(out, want)
        orders.add(order)
        order_matters |= not np.array_equal(b_then_c, c_then_b)
    assert orders == {(0, 1), (1, 0)} and order_matters


def test_random_erasing():
    image = random_image(24, 40, 0, 200, seed=13)
    area = 24 * 40
    for i in range(5):
        np.testing.assert_array_equal(
            as_array(random_ops.random_erasing(image, (i, 0), probability=0.0)), image
        )
    erased = 0
    for i in range(25):
        out = as_array(random_ops.random_erasing(image, (i, 1), probability=1.0, fill=255))
        box = np.all(out == 255, axis=-1)
        np.testing.assert_array_equal(out[~box], image[~box])
        if not box.any():
            continue  # none of the 10 draws fitted
        erased += 1
        rows, cols = np.nonzero(box)
        h, w = rows.max() - rows.min() + 1, cols.max() - cols.min() + 1
        assert box.sum() == h * w and h < 24 and w < 40
        # h = round(sqrt(a r)), w = round(sqrt(a / r)) with a / area in [0.02, 1/3], r in [0.3, 3.3]
        assert (h - 0.5) * (w - 0.5) <= area / 3 and (h + 0.5) * (w + 0.5) >= 0.02 * area
        assert (h + 0.5) / (w - 0.5) >= 0.3 and (h - 0.5) / (w + 0.5) <= 3.3
    assert erased >= 20
    # the default fill is per-pixel noise, in the same box
    box = np.all(as_array(random_ops.random_erasing(image, (0, 1), 1.0, fill=255)) == 255, axis=-1)
    noisy = as_array(random_ops.random_erasing(image, (0, 1), probability=1.0))
    changed = np.any(noisy != image, axis=-1)
    assert box.sum() > 0 and not changed[~box].any() and changed[box].mean() > 0.9
    # probability 0.5 erases about half the time
    flat = np.zeros((16, 16, 3), np.uint8)
    hits = [as_array(random_ops.random_erasing(flat, (i, 2), fill=9)).any() for i in range(40)]
    assert 10 <= sum(hits) <= 30
    fn = tf.function(
        lambda x, s: random_ops.random_erasing(x, s, 1.0), input_signature=[SIGNATURE[0], SIGNATURE[2]]
    )
    np.testing.assert_array_equal(fn(image, tf.constant([0, 1])).numpy(), noisy)


def test_random_cutout_is_cutout():
    for i in range(3):
        np.testing.assert_array_equal(
            as_array(random_ops.random_cutout(IMAGE, (i, 2), 8, fill=3)),
            as_array(ops.cutout(IMAGE, 8.0, (i, 2), fill=3)),
        )
    np.testing.assert_array_equal(as_array(random_ops.random_cutout(IMAGE, SEED, 0)), IMAGE)


# --- argument validation ---------------------------------------------------------------


BAD_CALLS = [
    (lambda: ops.rotate(IMAGE, 10.0, fill=300), "300"),
    (lambda: ops.rotate(IMAGE, 10.0, fill=(1, 2)), r"\(1, 2\)"),
    (lambda: ops.shear_x(IMAGE, 0.0, fill=-1), "-1"),
    (lambda: ops.cutout(IMAGE, 4.0, SEED, fill=256), "256"),
    (lambda: ops.rotate(IMAGE, 10.0, interpolation="cubic"), "cubic"),
    (lambda: random_ops.random_rotation(IMAGE, SEED, -1.0), "-1.0"),
    (lambda: random_ops.random_translation(IMAGE, SEED, 1.5), "1.5"),
    (lambda: random_ops.random_erasing(IMAGE, SEED, probability=1.5), "1.5"),
    (lambda: random_ops.random_erasing(IMAGE, SEED, probability=-0.1), "-0.1"),
    (lambda: random_ops.random_erasing(IMAGE, SEED, area=(0.5, 0.1)), r"\(0.5, 0.1\)"),
    (lambda: random_ops.random_erasing(IMAGE, SEED, ratio=(0.0, 1.0)), r"\(0.0, 1.0\)"),
    (lambda: random_ops.random_erasing(IMAGE, SEED, fill="noise"), "noise"),
    (lambda: random_ops.color_jitter(IMAGE, SEED, brightness=-0.1), "-0.1"),
    (lambda: random_ops.color_jitter(IMAGE, SEED, hue=0.6), "0.6"),
    (lambda: random_ops.random_cutout(IMAGE, SEED, -1), "-1"),
    (lambda: ops.pca_lighting(IMAGE, 0.1, SEED, eigenvalues=(1.0, 2.0)), r"\(2,\)"),
]


def test_bad_arguments_raise_naming_the_value():
    for call, match in BAD_CALLS:
        with pytest.raises(ValueError, match=match):
            call()


def test_bad_types_raise():
    with pytest.raises(TypeError, match="float32"):
        ops.invert(IMAGE.astype(np.float32), 1.0)
    with pytest.raises(TypeError, match="seed"):
        ops.gaussian_noise(IMAGE, 1.0, (0.5, 1.5))
    with pytest.raises(ValueError, match="shape"):
        ops.invert(IMAGE[..., :2], 1.0)
