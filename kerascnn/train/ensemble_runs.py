"""Ensembles of run folders: checkpoints of one run, several runs, Monte Carlo dropout.

    evaluate_ensemble("runs/digits", "last:5")           # the 5 latest kept checkpoints
    evaluate_ensemble("runs/digits", "best:3")           # the 3 of highest validation top-1
    evaluate_ensemble("runs/a", "runs:runs/b,runs/c")    # a's, b's and c's final models
    evaluate_ensemble("runs/digits", "mc_dropout:30")    # 30 passes with dropout sampling

What `tools/evaluate.py --ensemble=SPEC` runs. Each run is read through
`train_lib.load_run` and evaluated on its config's evaluation pipeline; the
numbers are those of `kerascnn.evaluate.ensemble` (softmax averaging, ECE in
15 bins, predictive entropy).
"""

import pathlib

from kerascnn import _checks
from kerascnn.evaluate import ensemble
from kerascnn.train import callbacks, train_lib

# The kinds of SPEC = KIND:VALUE. last / best: checkpoints kept by
# config.train.keep_checkpoints; runs: other run folders; mc_dropout: T passes.
KINDS = ("last", "best", "runs", "mc_dropout")


def parse_ensemble(spec):
    """(kind, value) of an ensemble SPEC: ("last" | "best" | "mc_dropout", int >= 1) or
    ("runs", [folder, ...])."""
    kind, sep, value = str(spec).partition(":")
    if kind not in KINDS or not sep or not value.strip():
        raise ValueError(f"Ensemble {spec!r} is not one of last:K, best:K, runs:DIR[,DIR...] or "
                         f"mc_dropout:T (kinds {KINDS}).")
    if kind == "runs":
        folders = [v.strip() for v in value.split(",") if v.strip()]
        if not folders:
            raise ValueError(f"Ensemble {spec!r}: runs needs run folders after the colon, "
                             "e.g. runs:runs/b,runs/c.")
        return kind, folders
    if not value.strip().isdigit() or int(value) < 1:
        raise ValueError(f"Ensemble {spec!r}: {kind} needs an integer >= 1 after the colon, "
                         f"got {value!r}.")
    return kind, int(value)


def evaluate_ensemble(workdir, spec, split=None, checkpoint=None, seed=0, reliability_png=None):
    """The ensemble SPEC (`parse_ensemble`) of the run in `workdir`, on a split.

    Args:
        workdir: a run folder written by `train_and_evaluate`.
        spec: "last:K", "best:K", "runs:DIR,..." (workdir's model and those
            runs' models) or "mc_dropout:T".
        split: default the config's test split.
        checkpoint: mc_dropout: a .keras file instead of workdir/model.keras.
        seed: mc_dropout: the seed of the dropout masks.
        reliability_png: also draw the reliability diagram (the single model, or the
            best member, against the ensemble) to this PNG path, or, when it is a
            folder, to reliability_<split>_<kind>.png in it.

    Returns:
        A JSON-able report: {"split", "ensemble", ...} with the scores of each
        member (or of the deterministic model) and of the ensemble (`checkpoint_ensemble`,
        `run_ensemble`, `mc_dropout_run`).
    """
    kind, value = parse_ensemble(spec)
    if checkpoint and kind != "mc_dropout":
        raise ValueError(f"--checkpoint picks the model of mc_dropout; ensemble {spec!r} picks "
                         "its own members.")
    if kind in ("last", "best"):
        report, curves = checkpoint_ensemble(workdir, kind, value, split)
    elif kind == "runs":
        report, curves = run_ensemble([workdir, *value], split)
    else:
        report, curves = mc_dropout_run(workdir, value, checkpoint, split, seed)
    if reliability_png:
        from kerascnn.evaluate.plots import plot_reliability

        path = pathlib.Path(reliability_png)
        if path.is_dir():
            path = path / f"reliability_{report['split']}_{kind}.png"
        plot_reliability(curves, path, title=f"{report['split']}, ensemble {spec}",
                         num_bins=report["ece_bins"])
        report["reliability_png"] = str(path)
    return report


def checkpoint_ensemble(workdir, which, k, split=None):
    """The softmax average of `k` checkpoints that `KeepCheckpoints` kept in `workdir`.

    Args:
        which: "last" (the k latest epochs) or "best" (the k of highest
            validation top-1).

    Returns:
        (report, curves): the `ensemble.ensemble_report` with each member's
        epoch and validation top-1, and the (name, probabilities, labels) of
        the best member and of the ensemble for `plot_reliability`.
    """
    folder = pathlib.Path(workdir) / callbacks.CHECKPOINTS_DIR
    paths = callbacks.choose_checkpoints(folder, which, k)
    index = callbacks.read_checkpoint_index(folder)
    recorded = {e["file"]: e for e in index["checkpoints"]}
    runs = [train_lib.load_run(workdir, path) for path in paths]
    cfg = runs[0][0]
    split = split or cfg["data"]["test_split"]
    dataset = train_lib.eval_dataset(cfg, train_lib.dataset_info(cfg), split)
    logits, labels = ensemble.member_logits([model for _, model in runs], dataset)
    report = ensemble.ensemble_report(logits, labels, names=[p.name for p in paths])
    for member in report["members"]:
        entry = recorded[member["name"]]
        member.update(epoch=entry["epoch"], **{index["monitor"]: entry.get(index["monitor"])})
    report = {"split": split, "ensemble_kind": f"{which}:{k}", **report}
    return report, _curves(report, logits, labels)


def run_ensemble(workdirs, split=None):
    """The softmax average of the final models of several runs of one dataset.

    Each run's images come through its own config's evaluation pipeline (the
    runs may differ in image size), in the split's order.

    Returns:
        (report, curves) as `checkpoint_ensemble`.
    """
    workdirs = [pathlib.Path(w) for w in workdirs]
    if len(workdirs) < 2:
        raise ValueError(f"An ensemble of runs needs at least 2 run folders, got {workdirs}.")
    if len(set(w.resolve() for w in workdirs)) != len(workdirs):
        raise ValueError(f"A run folder is listed twice: {[str(w) for w in workdirs]}.")
    runs = [train_lib.load_run(w) for w in workdirs]
    first = runs[0][0]["data"]
    split = split or first["test_split"]
    for workdir, (cfg, _) in zip(workdirs[1:], runs[1:]):
        if cfg["data"]["name"] != first["name"]:
            raise ValueError(f"Run {workdir} trained on {cfg['data']['name']!r}, run "
                             f"{workdirs[0]} on {first['name']!r}: an ensemble's members must "
                             "predict the same dataset.")
    datasets = [train_lib.eval_dataset(cfg, train_lib.dataset_info(cfg), split) for cfg, _ in runs]
    logits, labels = ensemble.member_logits([model for _, model in runs], datasets,
                                            per_member=True)
    report = ensemble.ensemble_report(logits, labels, names=[str(w) for w in workdirs])
    for member, (cfg, _) in zip(report["members"], runs):
        member["model"] = cfg["model"]["name"]
    report = {"split": split, "ensemble_kind": "runs", **report}
    return report, _curves(report, logits, labels)


def mc_dropout_run(workdir, passes, checkpoint=None, split=None, seed=0):
    """Monte Carlo dropout of a run's model: `passes` passes with its dropout sampling.

    Returns:
        (report, curves): `ensemble.mc_dropout_report` (the deterministic model as
        "single", the mean of the passes as "mc_dropout", with the mean predictive
        entropy and mutual information), and the two for `plot_reliability`.
    """
    _checks.check_int("passes", passes, minimum=1)
    cfg, model = train_lib.load_run(workdir, checkpoint)
    split = split or cfg["data"]["test_split"]
    dataset = train_lib.eval_dataset(cfg, train_lib.dataset_info(cfg), split)
    result = ensemble.mc_dropout_predict(model, dataset, passes=passes, seed=seed)
    report = {"split": split, "ensemble_kind": f"mc_dropout:{passes}", "model": cfg["model"]["name"],
              **ensemble.mc_dropout_report(result)}
    curves = [("single model (dropout off)", ensemble.softmax(result.deterministic_logits),
               result.labels),
              (f"MC dropout, {passes} passes", result.mean_probs, result.labels)]
    return report, curves


def _curves(report, logits, labels):
    best = max(range(len(logits)), key=lambda i: report["members"][i]["top1"])
    return [(f"best member ({report['members'][best]['name']})", ensemble.softmax(logits[best]),
             labels),
            (f"ensemble of {len(logits)}", ensemble.average_softmax(logits), labels)]
