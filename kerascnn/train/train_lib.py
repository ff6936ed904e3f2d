"""The training library: a config in, a trained and evaluated model out.

This is the one place where a config becomes keyword arguments.
"""

import contextlib
import dataclasses
import json
import math
import pathlib
import shutil
import time

import keras

from kerascnn import _compat, _io, data, evaluate, models, registry
from kerascnn.augment import crops
from kerascnn.data.datasets import FOLDER_PREFIX
from kerascnn.models import backbone
from kerascnn.train import aux_heads
from kerascnn.train import callbacks as callbacks_lib
from kerascnn.layers import synchronize_batchnorm
from kerascnn.train import (curves, distribute, early_stopping, fault_tolerance, optimizers,
                            precision, sanity, schedules)
from kerascnn.train.run_config import (  # noqa: F401 (train_lib.check_config etc. are public)
    _diff, check_config, config_to_dict, upgrade_config, warmup_epochs)

MODEL_FILE = "model.keras"
CHECKPOINT_FILE = "checkpoint.keras"
CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.json"
CURVES_FILE = "curves.png"


@dataclasses.dataclass
class TrainResult:
    """What `train_and_evaluate` produced."""

    model: keras.Model
    metrics: dict
    workdir: pathlib.Path
    model_path: pathlib.Path
    resumed_from_epoch: int
    already_done: bool


def _check_workdir(cfg, workdir):
    """Whether `workdir` can take this run (reads only): a run of another
    config there is an error. Returns True when config.json is to be written."""
    path = workdir / CONFIG_FILE
    if workdir.exists() and not workdir.is_dir():
        raise ValueError(f"--workdir {workdir} is a file, not a folder.")
    if not path.exists():
        return True
    stored = json.loads(path.read_text())
    previous = upgrade_config(stored)
    if previous != cfg:
        raise ValueError(
            f"{workdir} holds a run of another config (differences: {_diff(previous, cfg)}). "
            "Use a new --workdir, or delete that one to start over."
        )
    return stored != cfg  # the same run, to be saved in today's keys


def _write_config(cfg, workdir):
    workdir.mkdir(parents=True, exist_ok=True)
    _io.write_json_atomic(workdir / CONFIG_FILE, cfg)


def check_classes(cfg, info):
    """A classifier needs two classes; the message names the dataset's one."""
    if info.num_classes >= 2:
        return
    name = cfg["data"]["name"]
    what = f"{info.num_classes} class"
    if info.class_names:
        what += f" ({', '.join(repr(c) for c in info.class_names)})"
    hint = ""
    if name.startswith(FOLDER_PREFIX):
        folder = pathlib.Path(name[len(FOLDER_PREFIX):]).expanduser()
        hint = (f": image folder {folder} has {len(info.class_names)} class sub-folder(s); "
                "add one sub-folder of images per class")
    raise ValueError(
        f"config.data.name={name!r} has {what}, but a classifier needs at least 2{hint}."
    )


def build_model(cfg, info, image_shape, train_raw=None):
    """The config's model for images of `image_shape` (H, W, C) from a dataset
    described by `info`, in config.runtime.precision (`precision.build`)."""
    return precision.build(cfg["runtime"]["precision"], _build_model, cfg, info, image_shape,
                           train_raw)


def _build_model(cfg, info, image_shape, train_raw):
    t = cfg["transfer"]
    if t["backbone"]:  # the backbone's features and a new head (docs/training.md)
        return backbone.replace_head(load_backbone(t["backbone"]), info.num_classes, t["mode"],
                                     t["fine_tune_stages"], t["features"])
    kwargs = dict(cfg["model"]["kwargs"])
    kwargs.setdefault("input_shape", tuple(image_shape))
    given = kwargs.get("classes", kwargs.get("num_classes"))
    if given is not None and given != info.num_classes:
        raise ValueError(
            f"config.model.kwargs sets {given} classes but dataset "
            f"{cfg['data']['name']!r} has {info.num_classes}."
        )
    kwargs.pop("num_classes", None)
    kwargs["classes"] = info.num_classes
    if kwargs.get("preprocessing") == "dataset":
        if train_raw is None:
            raise ValueError("preprocessing='dataset' needs the training data.")
        mean, std = data.compute_mean_std(train_raw, max_examples=10_000)
        kwargs["preprocessing"] = (mean, std)
    elif kwargs.get("preprocessing") == "dataset_mean_image":
        if train_raw is None:
            raise ValueError("preprocessing='dataset_mean_image' needs the training data.")
        import tensorflow as tf

        shape = tuple(int(s) for s in image_shape)
        mean_image = data.compute_mean_image(train_raw, shape, max_examples=10_000)
        # The std of the channels the model sees (1 -> 3 replicates gray, 3 -> 1
        # takes luma), so it has one value per channel of the mean image.
        images = train_raw.map(
            lambda image, _: crops.convert_channels(tf.cast(image, tf.float32), shape[-1])
        )
        _, std = data.compute_mean_std(images, max_examples=10_000)
        kwargs["preprocessing"] = {"mean_image": mean_image, "std": std}
    return registry.create_model(cfg["model"]["name"], **kwargs)


def check_input_fits(model, dataset):
    """Raises if the pipeline's images do not fit the model's input."""
    image_spec = dataset.element_spec[0]
    expected = tuple(model.input_shape[1:])
    got = tuple(image_spec.shape[1:])
    for e, g in zip(expected, got):
        if e is not None and g is not None and e != g:
            raise ValueError(
                f"The data pipeline gives images of shape {got} but model "
                f"{model.name!r} takes {expected}; set config.data.image_size "
                "or config.model.kwargs.input_shape to agree."
            )
    if len(expected) != len(got):
        raise ValueError(f"Images of rank {len(got) + 1} do not fit the model input {model.input_shape}.")


def load_split(cfg, split):
    """The raw (image, label) examples of one split of the config's dataset."""
    d = cfg["data"]
    ds = data.load(d["name"], split, data_dir=d["data_dir"], manual_dir=d["manual_dir"])
    return data.select_classes(ds, d["classes"]) if d["classes"] else ds


def eval_dataset(cfg, info, split=None, batch_size=None):
    """The config's evaluation pipeline on `split` (default: the test split)."""
    return data.eval_pipeline(
        load_split(cfg, split or cfg["data"]["test_split"]),
        batch_size=batch_size or cfg["train"]["batch_size"], image_size=cfg["data"]["image_size"],
        num_classes=info.num_classes, **_kwargs(cfg["eval"]),
    )


def make_pipelines(cfg, info, initial_epoch=0, full_batches=False):
    """(raw training split, training pipeline from `initial_epoch`, test pipeline).

    Every key of config.augment is a keyword argument of `data.train_pipeline`;
    `full_batches` (several replicas) fills each epoch's last batch up.
    """
    t = cfg["train"]
    train_raw = training_examples(cfg, info)
    train_ds = data.train_pipeline(
        train_raw, batch_size=t["batch_size"], image_size=cfg["data"]["image_size"],
        num_classes=info.num_classes, seed=cfg["seed"], epochs=t["epochs"],
        initial_epoch=initial_epoch, shuffle_buffer=t["shuffle_buffer"],
        full_batches=full_batches, **_kwargs(cfg["augment"]),
    )
    return train_raw, train_ds, eval_dataset(cfg, info)


def training_examples(cfg, info, held_out=False):
    """The training split's raw examples less the share config.train.validation_split
    holds out (`data.hold_out`), or, with `held_out`, that share only."""
    split = cfg["data"]["train_split"]
    raw = load_split(cfg, split)
    fraction = cfg["train"]["validation_split"]
    if not fraction:
        if held_out:
            raise ValueError("config.train.validation_split is 0: no examples are held out.")
        return raw
    kept, out = data.hold_out(raw, fraction, num_examples=_num_examples(raw, info, split))
    return out if held_out else kept


def validation_dataset(cfg, info):
    """What `fit` evaluates after each epoch: the held-out share of the training split
    (config.train.validation_split), else the test split (eval_every_epoch), else None."""
    if cfg["train"]["validation_split"]:
        return data.eval_pipeline(
            training_examples(cfg, info, held_out=True), batch_size=cfg["train"]["batch_size"],
            image_size=cfg["data"]["image_size"], num_classes=info.num_classes,
            **_kwargs(cfg["eval"]))
    return eval_dataset(cfg, info) if cfg["train"]["eval_every_epoch"] else None


def _kwargs(section):
    """A config section as keyword arguments (JSON lists back to tuples)."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in section.items()}


def make_schedule(cfg, steps_per_epoch, scale=1.0):
    """The config's learning-rate schedule, its rates times `scale`."""
    t = cfg["train"]
    return schedules.WarmupSchedule(
        base_learning_rate=t["learning_rate"] * scale,
        total_steps=t["epochs"] * steps_per_epoch,
        warmup_steps=int(round(warmup_epochs(cfg) * steps_per_epoch)),
        decay=t["schedule"],
        boundaries=[int(round(e * steps_per_epoch)) for e in t["lr_decay_epochs"]],
        decay_rate=t["lr_decay_rate"],
        final_learning_rate=t["final_learning_rate"] * scale,
        decay_k=t["lr_decay_k"] / steps_per_epoch,
    )


def compile_model(model, cfg, steps_per_epoch, num_classes):
    t = cfg["train"]

    def make(scale=1.0):
        scale *= distribute.learning_rate_scale(cfg)  # the linear scaling rule, when asked
        return optimizers.make_optimizer(
            t["optimizer"], make_schedule(cfg, steps_per_epoch, scale), momentum=t["momentum"],
            nesterov=t["nesterov"], weight_decay=t["weight_decay"], l1=t["l1"],
            clip_norm=t["clip_norm"] or None)

    optimizer = make()
    if cfg["transfer"]["backbone"] and cfg["transfer"]["mode"] == "fine_tune":
        optimizer = optimizers.TwoRateOptimizer(
            optimizer, make(cfg["transfer"]["backbone_lr_multiplier"]))
    metrics = [keras.metrics.CategoricalAccuracy(name="top1")]
    if num_classes > 5:
        metrics.append(keras.metrics.TopKCategoricalAccuracy(k=5, name="top5"))
    # Softmax cross-entropy on logits: Keras computes it with log-softmax
    # (log-sum-exp), so it is stable for large logits.
    loss = keras.losses.CategoricalCrossentropy(from_logits=True,
                                                label_smoothing=t["label_smoothing"])
    model.compile(optimizer=precision.loss_scaled(optimizer, cfg["runtime"]["precision"]),
                  jit_compile=cfg["runtime"]["jit_compile"],
                  **aux_heads.compile_arguments(model, loss, metrics, t["aux_loss_weight"]))


def train_and_evaluate(config, workdir, verbose="auto"):
    """Trains the config's model on its dataset, evaluates and saves it.

    Every check (config keys, model name and arguments, dataset, shapes,
    workdir) runs before the first step. An interrupted run resumes from its
    last finished epoch when called again with the same config and workdir;
    a finished run is loaded and reported, not retrained.

    Writes to `workdir`: config.json (the resolved config), checkpoint.keras
    (each epoch), backup/ (resume state), history.csv, tensorboard/,
    model.keras (final) and metrics.json (top-1, top-5, loss).

    Args:
        config: a ConfigDict (or dict) with the keys of `default_config()`.
        workdir: the run's folder.
        verbose: Keras's verbosity; "auto" is the progress bar (1) when stdout
            is a terminal and one line per epoch (2, no ANSI codes) otherwise.

    Returns:
        A `TrainResult`.
    """
    cfg = config_to_dict(config)
    check_config(cfg)
    workdir = pathlib.Path(workdir)
    # Before TensorFlow runs an op (logical CPU devices, the multi-worker cluster).
    strategy = distribute.make_strategy(cfg["runtime"])
    runtime = distribute.summary(cfg, strategy)  # the global batch splits over the replicas
    distribute.check_jit_compile(cfg, strategy)
    d = cfg["data"]
    info = dataset_info(cfg)
    check_classes(cfg, info)
    model_path = workdir / MODEL_FILE
    metrics_path = workdir / METRICS_FILE
    # Nothing is written into the workdir before every check has passed, so a
    # failed start leaves it as it was and the corrected command runs.
    config_to_write = _check_workdir(cfg, workdir)
    keras.utils.set_random_seed(cfg["seed"])
    if cfg["runtime"]["deterministic"]:
        fault_tolerance.enable_determinism()  # before the model is built

    if model_path.exists() and metrics_path.exists():
        if config_to_write and distribute.is_chief(strategy):
            _write_config(cfg, workdir)
        model = _io.load_model(model_path)
        metrics = json.loads(metrics_path.read_text())
        return TrainResult(model, metrics, workdir, model_path,
                           metrics.get("resumed_from_epoch", 0), True)

    # A non-chief worker of a multi-worker run writes into a scratch folder, removed at the end.
    with distribute.output_folder(workdir, strategy) as out:
        fault_tolerance.check_writable(out)
        backup = callbacks_lib.ResumableBackup(out / "backup")
        latest = backup.latest()
        resumed_from = latest[0] if latest else 0
        several = runtime["replicas"] > 1
        # The pipeline starts at the resumed epoch: epoch e's data depend on
        # (seed, e) alone, so a resumed run trains on what an uninterrupted one would.
        # With several replicas every batch is full: none leaves a replica empty.
        train_raw, train_ds, test_ds = make_pipelines(cfg, info, initial_epoch=resumed_from,
                                                      full_batches=several)
        with strategy.scope():
            model = build_model(cfg, info, train_ds.element_spec[0].shape[1:], train_raw)
        check_input_fits(model, train_ds)
        validation_ds = validation_dataset(cfg, info)
        keras_validation = [validation_ds] if validation_ds is not None and not several else []
        fit_train_ds, *fit_validation_ds = aux_heads.targets_per_head(
            model, train_ds, *keras_validation)
        num_train = _num_examples(train_raw, info, d["train_split"])
        steps_per_epoch = data.steps_per_epoch(num_train, cfg["train"]["batch_size"])
        # The notes' first check: about ln C before training (a resumed model is trained).
        initial = None if resumed_from else sanity.check_initial_loss(
            models.main_head(model), train_ds, info.num_classes)
        with strategy.scope():
            if cfg["runtime"]["sync_bn"]:
                synchronize_batchnorm(model)
            compile_model(model, cfg, steps_per_epoch, info.num_classes)
        if config_to_write and out == workdir:
            _write_config(cfg, workdir)

        t = cfg["train"]
        stopper = early_stopping.EarlyStopping(
            out / "early_stopping", t["early_stopping_monitor"],
            t["early_stopping_patience"]) if t["early_stopping_patience"] else None
        callbacks = [  # the preflight first: it runs before any callback writes
            fault_tolerance.Preflight(out, t["keep_checkpoints"], stopper is not None),
            fault_tolerance.StopOnNonFiniteLoss(backup, out / CHECKPOINT_FILE),
            # Several replicas: validation that takes any batch (Keras's fails on uneven ones).
            *([callbacks_lib.Validation(validation_ds)] if several and validation_ds else []),
            *([stopper] if stopper else []),  # before the backup: see EarlyStopping.on_epoch_end
            backup,
            callbacks_lib.AtomicCheckpoint(out / CHECKPOINT_FILE),
            callbacks_lib.KeepCheckpoints(out / callbacks_lib.CHECKPOINTS_DIR,
                                          t["keep_checkpoints"]),
            callbacks_lib.LearningRateLogger(),
            keras.callbacks.CSVLogger(str(out / curves.HISTORY_FILE), append=True),
            curves.CurvesPNG(out / curves.HISTORY_FILE, out / CURVES_FILE,
                             f"{cfg['model']['name']} on {d['name']}"),
            keras.callbacks.TensorBoard(str(out / "tensorboard"), update_freq="epoch"),
        ]
        start = time.time()
        losses = []
        with strategy.scope(), _compat.multi_worker_keras(model, strategy):
            if not (stopper and stopper.stopped):  # a rerun after the stop trains no more
                losses = model.fit(
                    fit_train_ds, epochs=t["epochs"], steps_per_epoch=steps_per_epoch,
                    callbacks=callbacks, verbose=_verbosity(verbose),
                    shuffle=False,  # the pipeline shuffles, seeded
                    validation_data=fit_validation_ds[0] if fit_validation_ds else None,
                ).history.get("loss", [])
            train_seconds = time.time() - start
            if stopper:
                stopper.restore_best(model)

            model = models.main_head(model)  # auxiliary classifiers are for training only
            synchronize_batchnorm(model, False)  # saved as plain BN, which every backend loads
            _io.save_model_atomic(model, out / MODEL_FILE)
            metrics = evaluate.evaluate(model, test_ds)
        metrics.pop("confusion_matrix")  # C x C: tools/evaluate.py draws it
        metrics.update(
            model=cfg["model"]["name"], dataset=d["name"], split=d["test_split"],
            epochs=cfg["train"]["epochs"], resumed_from_epoch=resumed_from,
            train_seconds_this_run=round(train_seconds, 2),
            trainable_params=int(sum(w.numpy().size for w in model.trainable_weights)),
            final_train_loss=float(losses[-1]) if losses else None,
            initial_loss=initial and round(initial.loss, 4),
            expected_initial_loss=round(math.log(info.num_classes), 4),
        )
        if stopper:
            metrics.update(stopper.summary())
        metrics["runtime"] = runtime
        _io.write_json_atomic(out / METRICS_FILE, metrics)
        shutil.rmtree(out / "backup", ignore_errors=True)
    return TrainResult(model, metrics, workdir, model_path, resumed_from, False)


def _verbosity(verbose):
    if verbose != "auto":
        return verbose
    import sys

    return 1 if getattr(sys.stdout, "isatty", lambda: False)() else 2


def _num_examples(ds, info, split):
    """Examples in a loaded split: its cardinality (TFDS slices, digits), else
    the count `info` has (image folders, whose decode guard hides the size)."""
    n = int(ds.cardinality())
    if n >= 0:
        return n
    if split in info.splits:
        return info.splits[split]
    raise ValueError(f"Cannot count split {split!r}; known sizes: {info.splits}.")


def dataset_info(cfg):
    d = cfg["data"]
    info = data.info(d["name"], data_dir=d["data_dir"], manual_dir=d["manual_dir"])
    return data.subset_info(info, d["classes"]) if d["classes"] else info


def load_backbone(path):
    """The model of a .keras file or of a run folder (`load_run`)."""
    path = pathlib.Path(path).expanduser()
    return load_run(path)[1] if path.is_dir() else _io.load_model(path)


def load_run(workdir, checkpoint=None):
    """(config dict, model) of a run folder, for evaluation and export.

    Args:
        workdir: a folder written by `train_and_evaluate`.
        checkpoint: a .keras file to load instead of workdir/model.keras.
    """
    workdir = pathlib.Path(workdir)
    config_path = workdir / CONFIG_FILE
    if not config_path.exists():
        raise FileNotFoundError(
            f"{config_path} does not exist: {workdir} is not a kerascnn run folder "
            "(train one with tools/train.py --config=... --workdir=...)."
        )
    cfg = upgrade_config(json.loads(config_path.read_text()))
    path = pathlib.Path(checkpoint) if checkpoint else workdir / MODEL_FILE
    if not path.exists():
        fallback = workdir / CHECKPOINT_FILE
        hint = (f" The last epoch checkpoint {fallback} exists; pass it as the checkpoint."
                if fallback.exists() and not checkpoint else "")
        raise FileNotFoundError(
            f"Checkpoint {path} does not exist (has training finished?).{hint}"
        )
    return cfg, models.main_head(_io.load_model(path))


def evaluate_run(workdir, checkpoint=None, split=None, tta="none", scales=None, resize_to=None,
                 flip=False, strategy=None):
    """Top-1, top-5 and loss of a run folder's model on a split of its dataset.

    Args:
        workdir: a folder written by `train_and_evaluate`.
        checkpoint: a .keras file to evaluate instead of workdir/model.keras.
        split: default the config's test split.
        tta: "none" (the evaluation pipeline), or a `kerascnn.evaluate.tta.MODES`
            mode whose views' softmax probabilities are averaged per image.
        scales: short sides of the multi_scale modes (default the ResNet paper's).
        resize_to: short side before the center / ten_crop crops (default
            size / 0.875).
        flip: also average each view's horizontal mirror (with "none", each
            image's; the ten-crop modes hold the mirrors already).
        strategy: a `tf.distribute` strategy to load and run the model under
            (every image counted once, whatever the replicas).

    Returns:
        {"split": split, **metrics}.
    """
    with strategy.scope() if strategy else contextlib.nullcontext():
        cfg, model = load_run(workdir, checkpoint)
        split = split or cfg["data"]["test_split"]
        info = dataset_info(cfg)
        if tta == "none":
            metrics = {**evaluate.evaluate(model, eval_dataset(cfg, info, split), flip=flip),
                       "flip": bool(flip)}
        else:
            extra = {} if scales is None else {"scales": scales}
            metrics = evaluate.evaluate_tta(
                model, load_split(cfg, split), num_classes=info.num_classes, mode=tta,
                image_size=cfg["data"]["image_size"], resize_to=resize_to,
                batch_size=cfg["train"]["batch_size"], flip=flip, **extra)
    return {"split": split, **metrics}
