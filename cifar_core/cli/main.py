"""Command line: python -m cifar_core {datasets,download,architectures,runs,train,evaluate,presets,prepare,
recipe,export-script}.

Exit codes: 0 done; 1 a data or run problem (one-line reason); 2 bad arguments.
"""

import argparse
import io
import json
import sys
import time
import zipfile
from pathlib import Path

import numpy as np

from cifar_core import i18n
from cifar_core.config.architectures import ARCHITECTURES, parse_sweep
from cifar_core.config.hparams import (
    AUGMENTATIONS,
    LR_SCHEDULES,
    OPTIMIZERS,
    PRECISIONS,
    TRAINING_HPARAMS,
)
from cifar_core.config.presets import PRESETS, get_preset
from cifar_core.config.recipes import read_recipe, recipe_json, recipe_of
from cifar_core.config.run_config import make_config
from cifar_core.data.datasets import (
    DATASETS,
    dataset_info,
    dataset_names,
    fetch_dataset,
    load_dataset,
)
from cifar_core.data.folder_sets import (
    configured_folders,
    describe_folder_set,
    import_configured_folders,
    resolve_argument,
)
from cifar_core.errors import CoreError, DataError, ParamError, RunError
from cifar_core.export.formats import MODEL_FORMATS, check_model_format
from cifar_core.export.script import export_script
from cifar_core.process import configure_process
from cifar_core.runs import timelapse
from cifar_core.runs.compare import compare_runs
from cifar_core.runs.store import (
    ACTIVE,
    RunStore,
    best_val_accuracy,
    check_run_id,
    last_val_accuracy,
)
from cifar_core.server.estimate import (
    describe_duration,
    estimate,
    recipe_run,
    stored_speed,
)
from cifar_core.server.inspection import evaluate, export_model, layer_table
from cifar_core.server.jobs import JobManager
from cifar_core.server.prepare import plan

EXIT_OK, EXIT_PROBLEM, EXIT_USAGE = 0, 1, 2
DEFAULT_RECIPE = {"dataset": "cifar10", "arch": "seed_cnn"}  # train without --preset or --recipe


def _bar(fraction, width=30):
    filled = int(round(width * max(0.0, min(1.0, fraction))))
    return "[" + "#" * filled + "." * (width - filled) + "]"


def _byte_progress(label):
    def report(done, total):
        text = f"{done / 1e6:.1f} MB" + (f" / {total / 1e6:.1f} MB" if total else "")
        bar = _bar(done / total) + " " if total else ""
        print(f"\r{label} {bar}{text}", end="", file=sys.stderr, flush=True)
    return report


def cmd_datasets(args):
    for name in dataset_names():
        info = dataset_info(name)
        state = "available" if info.is_local() else "needs download"
        about = info.description if name in DATASETS else f"{info.title}: {info.description}"
        print(f"{name:14} {state:15} {about}")
    for path, _, error in configured_folders():
        if error:
            print(f"error: CIFAR_CORE_IMAGE_FOLDERS names {path}, which was refused: {error}", file=sys.stderr)
    return EXIT_OK


def cmd_download(args):
    info = dataset_info(args.dataset)
    if info.is_local():
        print(f"{info.name} is already available.")
    else:
        fetch_dataset(args.dataset, _byte_progress(f"Downloading {info.name}"))
        print(file=sys.stderr)
    ds = load_dataset(args.dataset)  # proves the files read correctly
    print(f"{info.name}: {len(ds.y_train)} training and {len(ds.y_test)} test images from {ds.source}.")
    return EXIT_OK


def cmd_architectures(args):
    cifar10 = DATASETS["cifar10"]
    for arch in ARCHITECTURES.values():
        extra = {"weights": "none"} if arch.name == "vgg16_transfer" else {}
        params, _ = layer_table(arch.name, cifar10.image_shape, cifar10.num_classes, extra)
        print(f"{arch.name}: {arch.title}, {params:,} parameters on CIFAR-10\n  {arch.description}")
        for spec in arch.hparams:
            print(f"    {spec.name} = {spec.default!r} ({spec.range_text()}): {spec.help}")
    print("Training options (every architecture):")
    for spec in TRAINING_HPARAMS:
        print(f"    {spec.name} = {spec.default!r} ({spec.range_text()}): {spec.help}")
    return EXIT_OK


def cmd_runs(args):
    rows = RunStore(args.runs_dir).list()
    if args.json:
        print(json.dumps(rows))
        return EXIT_OK
    for r in rows:
        best = f"{r['best_val_accuracy']:.3f}" if r["best_val_accuracy"] is not None else "-"
        print(f"{r['run_id']}  {r['status']:11} {r['dataset']:13} epochs {r['epochs']:7} best val acc {best}")
    if not rows:
        print(f"No runs in {RunStore(args.runs_dir).root}.")
    return EXIT_OK


def _hparams(pairs):
    values = {}
    for pair in pairs or ():
        name, sep, value = pair.partition("=")
        if not sep:
            raise ParamError(f"--hparam takes NAME=VALUE, got '{pair}'.")
        values[name.strip()] = value.strip()
    return values


def _epoch_line(record, epochs, prefix=""):
    def f(v):
        return f"{v if v is not None else float('nan'):.4f}"
    return (f"\r{prefix}epoch {record['epoch']}/{epochs}: loss {f(record['loss'])} acc {f(record['accuracy'])} "
            f"val_loss {f(record['val_loss'])} val_acc {f(record['val_accuracy'])} ({record['seconds']:.1f} s)"
            + " " * 20)


def _follow(manager, run_ids, labels, args):
    """Print each run's epochs (and a live bar for a single run) until all have ended."""
    shown = dict.fromkeys(run_ids, 0)
    out = sys.stderr if args.json else sys.stdout
    while True:
        snaps = {r: manager.progress(r) for r in run_ids}
        for r, snap in snaps.items():
            for record in snap["epoch_records"][shown[r]:]:
                print(_epoch_line(record, snap["epochs"], labels[r]), file=out, flush=True)
                shown[r] += 1
        if all(s["status"] not in ACTIVE for s in snaps.values()) and not set(run_ids) & set(manager.active()):
            return
        snap = snaps[run_ids[0]]
        if len(run_ids) == 1 and snap["steps_per_epoch"] and not args.json:
            left = f" {snap['seconds_left']:.0f} s left" if snap["seconds_left"] else ""
            loss = f" loss {snap['batches'][-1][1]:.4f}" if snap["batches"] else ""
            print(f"\r{_bar(snap['fraction'])} epoch {snap['epoch'] + 1}/{snap['epochs']} batch "
                  f"{snap['batch']}/{snap['steps_per_epoch']}{loss}{left}   ", end="", file=sys.stderr, flush=True)
        time.sleep(0.2)


def _result(manager, run_id):
    status = manager.store.status(run_id)
    epochs = manager.store.history(run_id)["epochs"]
    return {"run_id": run_id, "run_dir": str(manager.store.path(run_id)), "status": status["status"],
            "reason": status.get("reason", ""), "worker": status.get("worker"), "epochs_completed": len(epochs),
            "val_accuracy": last_val_accuracy(epochs), "best_val_accuracy": best_val_accuracy(epochs),
            "train_seconds": status.get("train_seconds"), "images_per_second": status.get("images_per_second")}


def _training_flags(args):
    """Only the flags given: the others come from the preset, or take the training defaults."""
    return {k: v for k, v in {
        "epochs": args.epochs, "batch_size": args.batch_size, "learning_rate": args.lr,
        "optimizer": args.optimizer, "lr_schedule": args.lr_schedule, "train_size": args.train_size,
        "val_split": args.val_split, "augment": args.augment, "label_smoothing": args.label_smoothing,
        "weight_decay": args.weight_decay, "patience": args.patience, "tta": args.tta,
        "precision": args.precision, "seed": args.seed}.items() if v is not None}


def _settings(args):
    """(dataset, arch, hparams, training) of a preset, a recipe file or the defaults, with the flags
    given overriding them, fitted to the time budget (--time-budget, or a class preset's own) when
    there is one."""
    args.dataset = _dataset_argument(args)
    if args.time_budget is not None and args.time_budget <= 0:
        raise ParamError(f"--time-budget must be more than 0 seconds, got {args.time_budget:g}.")
    if args.preset and args.recipe:
        raise ParamError("Give --recipe or --preset, not both: each sets every setting.")
    recipe = get_preset(args.preset) if args.preset else read_recipe(args.recipe) if args.recipe else DEFAULT_RECIPE
    if args.preset and not args.json:
        print(f"Preset {args.preset}: fitting it to this machine where it has a time budget …", file=sys.stderr)
    return recipe_run(recipe, args.time_budget, dataset=args.dataset, arch=args.arch, hparams=_hparams(args.hparam),
                      **_training_flags(args))


def _dataset_argument(args):
    """The --dataset flag as a dataset name: folder:PATH is imported (once) and named by its images."""
    name, imported = resolve_argument(args.dataset, args.image_size)
    if imported:
        print(f"Image folder {name}: {describe_folder_set(imported)}", file=sys.stderr)
    return name


def _run_config(args):
    check_run_id(args.run_id)
    store = RunStore(args.runs_dir)
    store.require(args.run_id)
    return store.config(args.run_id)


def _write(path, text, what):
    """Write a file the user asked for (text, or bytes); a path that cannot be written is a one-line error."""
    try:
        if isinstance(text, bytes):
            Path(path).write_bytes(text)
        else:
            Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise DataError(f"Cannot write the {what} to {path} ({exc.strerror or exc}). Choose a writable path.") from None


def cmd_recipe(args):
    """Write a run's recipe: its dataset, network, hyperparameters and every training setting."""
    text = recipe_json(recipe_of(_run_config(args)))
    if not args.output:
        print(text, end="")
        return EXIT_OK
    _write(args.output, text, "recipe")
    print(f"Wrote {args.output}: train it again with 'python -m cifar_core train --recipe {args.output}'.",
          file=sys.stderr)
    return EXIT_OK


def cmd_export_script(args):
    """Write a run as one standalone Keras script (keras, numpy and the standard library only)."""
    _write(args.output, export_script(_run_config(args), args.run_id), "script")
    print(f"Wrote {args.output}: run it with 'python {args.output} cifar-10-python.tar.gz'.", file=sys.stderr)
    return EXIT_OK


def cmd_export_model(args):
    """Write the run's best model for ONNX Runtime, TFLite or TF Serving (float32, raw pixels in)."""
    check_model_format(args.format)
    _run_config(args)  # an unknown run is refused before a worker is asked
    exported = export_model(RunStore(args.runs_dir), args.run_id, args.format)
    output = Path(args.output)
    if args.format == "saved_model" and output.suffix != ".zip":  # TF Serving reads a folder
        if output.is_file() or (output.is_dir() and any(output.iterdir())):
            raise DataError(f"{output} already exists: choose a new folder for the SavedModel (or a .zip path).")
        try:
            with zipfile.ZipFile(io.BytesIO(exported["data"])) as archive:
                for member in archive.infolist():  # written by the worker as <run_id>/<path>
                    relative = Path(member.filename).relative_to(args.run_id)
                    target = output / relative
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(archive.read(member))
        except OSError as exc:
            raise DataError(f"Cannot write the SavedModel to {output} ({exc.strerror or exc}). Choose a writable "
                            "folder.") from None
    else:
        _write(output, exported["data"], "model")
    size = len(exported["data"])
    print(f"Wrote {output} ({args.format}, {size / 1e6:.1f} MB): float32 pixels 0–255, NHWC, in; class "
          "probabilities out.", file=sys.stderr)
    return EXIT_OK


def cmd_train(args):
    dataset, arch, hparams, training = _settings(args)
    if args.dry_run:
        return _dry_run(args, dataset, arch, hparams, training)
    manager = JobManager(args.runs_dir)
    if not args.json:
        print(f"Loading {dataset} and starting the workers …", file=sys.stderr)
    if args.sweep:
        name, values = parse_sweep(arch, args.sweep)
        run_ids = manager.sweep(dataset, arch, name, values, hparams, **training)
        labels = {r: f"[{name}={v}] " for r, v in zip(run_ids, values)}
    else:
        run_ids = [manager.submit(dataset, arch, hparams, preset=args.preset, **training)]
        labels = {run_ids[0]: ""}
    for r in run_ids:
        print(f"Run {r} in {manager.store.path(r)}", file=sys.stderr)
    try:
        _follow(manager, run_ids, labels, args)
    except KeyboardInterrupt:
        print("\nStopping at the next batch …", file=sys.stderr)
        for r in run_ids:
            manager.stop(r)
        for r in run_ids:
            manager.wait(r)
    results = [_result(manager, r) for r in run_ids]
    if args.json:
        print(json.dumps(results[0] if len(results) == 1 else {"sweep": results}))
    else:
        for r in results:
            print(f"\n{labels[r['run_id']]}Run {r['run_id']}: {r['status']}. {r['reason']}".rstrip())
            print(f"Folder: {r['run_dir']}")
    return train_exit_code(results)


def cmd_lr_find(args):
    dataset, arch, hparams, training = _settings(args)
    manager = JobManager(args.runs_dir)
    if not args.json:
        print(f"Loading {dataset} and training {arch} for about 100 batches at a growing learning rate …",
              file=sys.stderr)
    search_id = manager.find_learning_rate(dataset, arch, hparams, **training)
    try:
        while (state := manager.learning_rate_search(search_id))["status"] == "running":
            time.sleep(0.2)
    except KeyboardInterrupt:
        manager.cancel_learning_rate_search(search_id)
        raise
    if state["status"] != "done":
        raise RunError(state["reason"] or "The learning-rate search was cancelled.")
    result = state["result"]
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{'learning rate':>14} {'loss':>7} {'smoothed':>9}")
        every = max(1, len(result["losses"]) // 12)
        for rate, loss, smoothed in list(zip(result["learning_rates"], result["losses"], result["smoothed"]))[::every]:
            print(f"{rate:>14.2g} {loss:>7.3f} {smoothed:>9.3f}")
    suggested = result["suggested_learning_rate"]
    if suggested is None:
        print(f"error: {result['reason']}", file=sys.stderr)
        return EXIT_PROBLEM
    if not args.json:
        print(f"\nSuggested learning rate: {suggested:g} ({result['rule']}; {len(result['losses'])} batches in "
              f"{result['seconds']:.0f} s). Train with it: add --lr {suggested:g} to the same train command.")
    return EXIT_OK


def train_exit_code(results):
    """0 when every run completed; 1 when one failed, was interrupted (its worker died) or was
    stopped before the end, each named on stderr: a script must not take it for a finished run."""
    unfinished = [r for r in results if r["status"] != "completed"]
    for r in unfinished:
        print(f"error: run {r['run_id']} {r['status']}: {r['reason'] or 'it did not complete'}", file=sys.stderr)
    return EXIT_PROBLEM if unfinished else EXIT_OK


def _dry_run(args, dataset, arch, hparams, training):
    """What the run would be and how long it would take here; nothing is trained."""
    config = make_config(dataset, arch, hparams, **training)
    if stored_speed(config) is None and not args.json:
        print("Measuring a few batches on this machine (once for these settings) …", file=sys.stderr)
    found = estimate(config)
    t = config["training"]
    if args.json:
        print(json.dumps({"dataset": dataset, "arch": arch, "hparams": config["hparams"], "training": t,
                          "n_train": config["n_train"], "n_val": config["n_val"], **found}))
        return EXIT_OK
    print(f"{arch} on {dataset}: {config['n_train']} training and {config['n_val']} validation images, "
          f"{t['epochs']} epochs of batch {t['batch_size']}, {t['optimizer']} at {t['learning_rate']:g} "
          f"({t['lr_schedule']}), {found['dtype_policy']}.")
    print(f"Estimated time on this machine: {describe_duration(found['seconds'])} ({found['per_epoch']:.1f} s per "
          f"epoch after {found['startup']:.1f} s of start-up)"
          + (", or less with early stopping." if t["patience"] else "."))
    print("Nothing was trained (--dry-run).")
    return EXIT_OK


def cmd_presets(args):
    for name, preset in PRESETS.items():
        try:
            dataset, arch, hparams, training = recipe_run(preset)
            found = estimate(make_config(dataset, arch, hparams, **training))
            when = f"{describe_duration(found['seconds'])} ({training['epochs']} epochs" + (
                f", {training['train_size']} images)" if training.get("train_size") else ")")
        except CoreError as exc:
            when = f"no estimate: {exc}"
        print(f"{name:18} {when}\n{'':18} {preset['title']}\n{'':18} {preset['description']}")
    return EXIT_OK


def cmd_prepare(args):
    """Train the class version of every preset that can train here, skipping those already done."""
    manager = JobManager(args.runs_dir)
    to_train, skipped = plan(manager.store, args.preset)
    for name, why in skipped:
        print(f"Skipped {name}: {why}.")
    trained = 0
    for i, name in enumerate(to_train, start=1):
        try:
            dataset, arch, hparams, training = recipe_run(get_preset(name))
            run_id = manager.submit(dataset, arch, hparams, preset=name, **training)
        except CoreError as exc:  # one preset that cannot start leaves the others to train
            print(f"Skipped {name}: {exc}")
            continue
        print(f"[{i}/{len(to_train)}] {name}: run {run_id}", file=sys.stderr)
        try:
            _follow(manager, [run_id], {run_id: f"[{i}/{len(to_train)}] {name} "}, args)
        except KeyboardInterrupt:
            print("\nStopping; run prepare again to resume.", file=sys.stderr)
            manager.stop(run_id)
            manager.wait(run_id)
            return EXIT_PROBLEM
        result = _result(manager, run_id)
        trained += result["status"] == "completed"
        print(f"\n{name}: {result['status']}" + (f", best val acc {result['best_val_accuracy']:.3f}"
                                                  if result["best_val_accuracy"] is not None else "")
              + (f". {result['reason']}" if result["reason"] else "."))
    done = len([s for s in skipped if s[1] == "already trained"])
    print(f"Ready: {trained} trained now, {done} already trained, {len(to_train) + len(skipped) - trained - done} "
          "not ready (see above).")
    return EXIT_OK


def cmd_evaluate(args):
    check_run_id(args.run_id)
    store = RunStore(args.runs_dir)
    store.require(args.run_id)
    progress = None if args.json else _byte_progress_images()
    evaluated = evaluate(store, args.run_id, progress=progress)  # the worker only when none is stored
    result = store.require_evaluation(args.run_id, {**store.model_stamp(args.run_id), **evaluated["stamp"]})
    if args.json:
        print(json.dumps({"run_id": args.run_id, "test_accuracy": result["accuracy"],
                          "test_loss": result["loss"], "class_names": result["class_names"],
                          "confusion_matrix": result["confusion_matrix"].tolist(), "report": result["report"]}))
        return EXIT_OK
    names = result["class_names"]
    print(f"\nTest accuracy {result['accuracy']:.4f}, loss {result['loss']:.4f} on {result['n']} images.")
    width = max(len(n) for n in names) + 1
    print("Confusion matrix (rows: true class, columns: predicted):")
    print(" " * width + " ".join(f"{n[:6]:>6}" for n in names))
    for name, row in zip(names, result["confusion_matrix"]):
        print(f"{name:<{width}}" + " ".join(f"{v:>6}" for v in row))
    print(f"\n{'class':<{width}} precision recall     f1 support")
    for r in result["report"]:
        print(f"{r['class']:<{width}} {r['precision']:9.3f} {r['recall']:6.3f} {r['f1']:6.3f} {r['support']:7}")
    return EXIT_OK


def cmd_compare(args):
    for run_id in (args.run_a, args.run_b):
        check_run_id(run_id)
    result = compare_runs(RunStore(args.runs_dir), args.run_a, args.run_b)
    if args.json:
        print(json.dumps({key: result[key].tolist() if hasattr(result[key], "tolist") else result[key]
                          for key in ("run_a", "run_b", "n", "accuracy_a", "accuracy_b", "class_names", "fixed",
                                      "broken", "both_right", "both_wrong", "difference", "settings")}))
        return EXIT_OK
    fixed, broken = len(result["fixed"]), len(result["broken"])
    print(f"B = {args.run_b} against A = {args.run_a}, on the same {result['n']:,} test images:")
    print(f"test accuracy {result['accuracy_a']:.4f} (A) -> {result['accuracy_b']:.4f} (B); B fixed {fixed} images "
          f"and broke {broken} (net {fixed - broken:+d}); both right {result['both_right']}, "
          f"both wrong {result['both_wrong']}.")
    names = result["class_names"]
    width = max(len(n) for n in names) + 1
    print("\nB's confusion matrix minus A's (rows: true class, columns: predicted; + on the diagonal: "
          "B is right more often):")
    print(" " * width + " ".join(f"{n[:6]:>6}" for n in names))
    for name, row in zip(names, result["difference"]):
        print(f"{name:<{width}}" + " ".join(f"{v:>+6d}" if v else f"{'.':>6}" for v in row))
    differing = [row for row in result["settings"] if row["differs"]]
    print("\nSettings that differ:" if differing else "\nThe two runs have the same settings (only chance differs).")
    for row in differing:
        print(f"  {row['setting']}: {row['a']} (A) -> {row['b']} (B)")
    return EXIT_OK


def cmd_epochs(args):
    check_run_id(args.run_id)
    store = RunStore(args.runs_dir)
    store.require(args.run_id)
    names = store.config(args.run_id)["class_names"]
    summaries = timelapse.epoch_summaries(store.path(args.run_id), len(names))
    if not summaries:
        raise RunError(f"Run {args.run_id} has no validation predictions per epoch: it was trained before "
                       "they were recorded, or has not finished its first epoch. Train it again to get them.")
    if args.epoch is not None:
        timelapse.require_epoch([s["epoch"] for s in summaries], args.epoch)
        summaries = [s for s in summaries if s["epoch"] == args.epoch]
    if args.json:
        print(json.dumps({"run_id": args.run_id, "class_names": names, "epochs": summaries}))
        return EXIT_OK
    print(f"Run {args.run_id}: validation accuracy and the most confused pair, epoch by epoch "
          "(0 is before training).")
    for summary in summaries:
        matrix = np.asarray(summary["val_confusion_matrix"])
        np.fill_diagonal(matrix, 0)
        true, predicted = np.unravel_index(matrix.argmax(), matrix.shape)
        confused = (f"{names[true]} taken for {names[predicted]} {matrix[true, predicted]} times"
                    if matrix.any() else "none")
        print(f"epoch {summary['epoch']:>4}  val accuracy {summary['val_accuracy']:.4f}  most confused: {confused}")
    return EXIT_OK


def _byte_progress_images():
    def report(done, total):
        print(f"\rEvaluating {_bar(done / total)} {done}/{total} images", end="", file=sys.stderr, flush=True)
    return report


def _add_settings_flags(p):
    """The flags that set a run's settings, shared by train and lr-find."""
    p.add_argument("--preset", help="start from a preset's settings (python -m cifar_core presets); "
                                    "the flags given override them")
    p.add_argument("--recipe", metavar="FILE", help="train a recipe (python -m cifar_core recipe RUN_ID); "
                                                    "the flags given override it")
    p.add_argument("--dataset", help=f"{', '.join(DATASETS)} (default {DEFAULT_RECIPE['dataset']}), "
                                     "folder:PATH (a folder of class folders, or a .zip of them) or an imported folder:ID")
    p.add_argument("--image-size", type=int, metavar="N", help="with folder:PATH: images resized to N×N "
                                                                 "(default 32)")
    p.add_argument("--arch", help=f"default {DEFAULT_RECIPE['arch']}")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float, help="learning rate (the peak, with a schedule)")
    p.add_argument("--optimizer", choices=OPTIMIZERS)
    p.add_argument("--lr-schedule", choices=LR_SCHEDULES)
    p.add_argument("--train-size", type=int, help="use only this many training images")
    p.add_argument("--val-split", type=float)
    p.add_argument("--augment", help="comma-separated: " + ",".join(AUGMENTATIONS))
    p.add_argument("--label-smoothing", type=float)
    p.add_argument("--weight-decay", type=float)
    p.add_argument("--tta", choices=("on", "off"), help="test-time flip augmentation in evaluation")
    p.add_argument("--precision", choices=PRECISIONS)
    p.add_argument("--patience", type=int, help="early-stopping patience in epochs (0: off)")
    p.add_argument("--seed", type=int)
    p.add_argument("--hparam", action="append", metavar="NAME=VALUE",
                   help="an architecture hyperparameter, e.g. width=0.5 (repeatable)")


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m cifar_core",
                                     description="Train and inspect CNNs on CIFAR-10 and friends.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("datasets", help="list datasets and whether they are available offline")
    p = sub.add_parser("download", help="fetch a dataset into the Keras cache")
    p.add_argument("dataset", choices=list(DATASETS))
    sub.add_parser("architectures", help="list architectures and their hyperparameters")
    p = sub.add_parser("runs", help="list the runs in the runs folder")
    p.add_argument("--runs-dir")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("train", help="train one run")
    _add_settings_flags(p)
    p.add_argument("--sweep", metavar="NAME=V1,V2,...",
                   help="queue one run per value of one setting, e.g. learning_rate=1e-4,1e-3,1e-2 "
                        "(augmentation sets: 'augment=none;flip,shift')")
    p.add_argument("--time-budget", type=float, metavar="SECONDS",
                   help="choose the number of epochs and training images to fit this many seconds here")
    p.add_argument("--dry-run", action="store_true", help="print the estimated time and train nothing")
    p.add_argument("--runs-dir")
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    p = sub.add_parser("lr-find", help="the learning-rate range test of train's settings: about 100 batches "
                                       "at a growing rate, and the rate it suggests")
    _add_settings_flags(p)
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    p.set_defaults(time_budget=None, runs_dir=None)
    sub.add_parser("presets", help="list the presets, each with its estimated time on this machine")
    p = sub.add_parser("prepare", help="train the class version of every preset ahead of class")
    p.add_argument("--preset", action="append", help="only this preset (repeatable)")
    p.add_argument("--runs-dir")
    p.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    p = sub.add_parser("evaluate", help="evaluate a run on the test set")
    p.add_argument("run_id")
    p.add_argument("--runs-dir")
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    p = sub.add_parser("compare", help="what run B fixed and broke against run A, image by image "
                                       "(both evaluated, on the same test images)")
    p.add_argument("run_a", help="the reference run")
    p.add_argument("run_b", help="the run with the change")
    p.add_argument("--runs-dir")
    p.add_argument("--json", action="store_true", help="print one JSON object: fixed and broken (test-image "
                                                       "indices), both_right, both_wrong, difference, settings")
    p = sub.add_parser("epochs", help="a run's validation accuracy and confusion matrix after each recorded epoch")
    p.add_argument("run_id")
    p.add_argument("--epoch", type=int, help="only this epoch (0: before training)")
    p.add_argument("--runs-dir")
    p.add_argument("--json", action="store_true", help='print one JSON object: {"epochs": [{"epoch", '
                                                       '"val_accuracy", "val_confusion_matrix"}, …]}')
    p = sub.add_parser("recipe", help="write a run's recipe (JSON): train it again with train --recipe")
    p.add_argument("run_id")
    p.add_argument("--runs-dir")
    p.add_argument("-o", "--output", metavar="FILE", help="write it here (default: print it)")
    p = sub.add_parser("export-model", help="write a run's best model for ONNX Runtime, TFLite or TF Serving")
    p.add_argument("run_id")
    p.add_argument("--format", required=True, help=f"one of {', '.join(MODEL_FORMATS)}")
    p.add_argument("--runs-dir")
    p.add_argument("-o", "--output", metavar="PATH", required=True,
                   help="the file to write (a folder for saved_model, or a .zip path)")
    p = sub.add_parser("export-script", help="write a CIFAR-10 run as a standalone Keras script")
    p.add_argument("run_id")
    p.add_argument("--runs-dir")
    p.add_argument("-o", "--output", metavar="FILE", required=True, help="the .py file to write")
    return parser


COMMANDS = {"datasets": cmd_datasets, "download": cmd_download, "architectures": cmd_architectures,
            "runs": cmd_runs, "train": cmd_train, "evaluate": cmd_evaluate, "compare": cmd_compare, "epochs": cmd_epochs,
            "lr-find": cmd_lr_find, "presets": cmd_presets,
            "prepare": cmd_prepare, "recipe": cmd_recipe, "export-script": cmd_export_script,
            "export-model": cmd_export_model}


def main(argv=None):
    configure_process()
    i18n.use_language_source(lambda: i18n.SOURCE)  # the command line speaks English, whatever LANG says
    args = build_parser().parse_args(argv)
    try:
        import_configured_folders()  # the server's image folders are datasets for every command
        return COMMANDS[args.command](args)
    except ParamError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except CoreError as exc:
        print(f"\nerror: {exc}", file=sys.stderr)
        return EXIT_PROBLEM
    except KeyboardInterrupt:
        print("\nInterrupted.", file=sys.stderr)
        return EXIT_PROBLEM
