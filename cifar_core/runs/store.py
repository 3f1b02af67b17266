"""The runs folder: one folder a run with its config, status, history, models and logs.

Every file is written atomically (temporary file, then rename), so a crash or a full
disk never leaves a half-written config or history behind.
"""

import io
import json
import os
import re
import secrets
import shutil
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from cifar_core.errors import ParamError, RunError
from cifar_core.i18n import _
from cifar_core.runs.evaluation import derive, labels_from_cells
from cifar_core.runs.owners import OPERATOR, owner_of, require_change

STATUSES = ("queued", "running", "completed", "stopped", "failed", "interrupted")
ACTIVE = ("queued", "running")
RUN_ID = re.compile(r"^\d{8}-\d{6}-[a-z0-9_]{1,32}-[0-9a-f]{6}$")

CONFIG, STATUS, HISTORY = "config.json", "status.json", "history.json"
# An evaluation: the arrays it was computed from, as .npy files, and a small JSON of its figures
# that says which model file it is of; the rest is derived when read (`cifar_core.runs.evaluation`).
EVALUATION, EVALUATION_METRICS = "evaluation", "metrics.json"
EVALUATION_ARRAYS = ("labels", "predictions", "probabilities")
EVALUATION_FIGURES = ("stamp", "n", "accuracy", "loss", "tta", "class_names", "seconds", "images_per_second")
# Written before the arrays existed: everything, derived figures included, in one large
# evaluation.json beside a note saying which model it was of. Still read; replaced by the next evaluation.
OLD_EVALUATION, OLD_EVALUATION_NOTE = "evaluation.json", "evaluation.stamp.json"
BEST_MODEL, LAST_MODEL, LOGS = "best.keras", "last.keras", "logs"

# Runs this process is training or holding in its queue: anything else marked active is stale.
_live = set()
_live_lock = threading.Lock()


def default_runs_dir():
    """The runs folder when none is given: $CIFAR_CORE_RUNS, else `runs` in the working directory."""
    return Path(os.environ.get("CIFAR_CORE_RUNS") or "runs")


def best_val_accuracy(epochs):
    """The highest validation accuracy of a history's epoch records, or None if none has one."""
    values = _val_accuracies(epochs)
    return max(values) if values else None


def last_val_accuracy(epochs):
    """The validation accuracy of the last epoch that has one, or None."""
    values = _val_accuracies(epochs)
    return values[-1] if values else None


def _val_accuracies(epochs):
    return [e["val_accuracy"] for e in epochs if e.get("val_accuracy") is not None]


def new_run_id(arch):
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{arch}-{secrets.token_hex(3)}"


def check_run_id(run_id):
    """Refuse anything that is not a generated run id (`../x`, absolute paths, separators)."""
    if not isinstance(run_id, str) or not RUN_ID.match(run_id):
        raise ParamError(_("'{run_id}' is not a run id (they look like 20261122-153000-seed_cnn-1a2b3c).").format(
            run_id=run_id))
    return run_id


def write_json(path, data):
    _write_atomically(path, lambda f: f.write(json.dumps(data, indent=1).encode()))


def write_bytes(path, data):
    """Write a file whole or not at all (a reader never sees half a model); makes its folder."""
    _write_atomically(path, lambda f: f.write(data), make_parent=True)


def _write_atomically(path, write, make_parent=False):
    path = Path(path)
    try:
        if make_parent:
            path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except OSError as exc:
        if "tmp" in locals() and os.path.exists(tmp):
            os.unlink(tmp)
        raise RunError(_("Cannot write {path} ({error}). Free disk space or make the runs folder writable; earlier "
                         "runs are untouched.").format(path=path, error=exc.strerror or exc)) from None


def read_json(path, default=None):
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return default
    except (OSError, ValueError) as exc:
        raise RunError(_("{path} is unreadable ({error}).").format(path=path, error=exc)) from None


def _file_version(path):
    """[inode, mtime_ns, size] of a file, or None if it is missing: a rewrite (a new file renamed
    over it) changes the inode."""
    try:
        return _version(os.stat(path))
    except FileNotFoundError:
        return None


def _version(info):
    return [info.st_ino, info.st_mtime_ns, info.st_size]


def _read_record(path):
    """A small JSON object, or None if it is missing, damaged or not an object."""
    try:
        record = read_json(path)
    except RunError:
        return None
    return record if isinstance(record, dict) else None


def _same_model(stored, stamp):
    """Whether the stamp an evaluation was stored with names the model file version `stamp` (the
    old evaluation.json's stamps have no size)."""
    return (isinstance(stored, dict) and stored.get("model") == stamp["model"]
            and stored.get("mtime_ns") == stamp["mtime_ns"] and stored.get("size", stamp["size"]) == stamp["size"])


def _array_versions(record):
    """{array name: file version} that an evaluation's figures name ({} if damaged)."""
    files = record.get("files")
    return files if isinstance(files, dict) else {}


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, TypeError, OverflowError):
        return pid is not None
    return True


class RunStore:
    """Reads and writes run folders under one runs directory."""

    def __init__(self, root=None):
        self.root = Path(root) if root is not None else default_runs_dir()

    def path(self, run_id):
        return self.root / check_run_id(run_id)

    def create(self, config, **status):
        """A new run folder for `config`, queued; `status` adds to its status record."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            run_id = new_run_id(config["arch"])
            folder = self.root / run_id
            folder.mkdir()
        except OSError as exc:
            raise RunError(_("Cannot create a run in {folder} ({error}). Set CIFAR_CORE_RUNS to a writable "
                             "folder.").format(folder=self.root, error=exc.strerror or exc)) from None
        write_json(folder / CONFIG, config)
        write_json(folder / HISTORY, {"epochs": [], "batches": []})
        self.set_status(run_id, "queued", **status)
        return run_id

    def exists(self, run_id):
        return (self.path(run_id) / CONFIG).is_file()

    def require(self, run_id):
        if not self.exists(run_id):
            raise RunError(_("There is no run '{run_id}' in {folder}.").format(run_id=run_id, folder=self.root))
        return self.path(run_id)

    def config(self, run_id):
        return read_json(self.require(run_id) / CONFIG)

    def history(self, run_id):
        return read_json(self.require(run_id) / HISTORY, {"epochs": [], "batches": []})

    def write_history(self, run_id, history):
        write_json(self.path(run_id) / HISTORY, history)

    def set_status(self, run_id, status, reason="", **extra):
        assert status in STATUSES, status
        path = self.path(run_id) / STATUS
        record = read_json(path, {}) if path.exists() else {}
        record.update(extra, status=status, reason=reason, pid=os.getpid(), updated=time.time())
        record.setdefault("created", record["updated"])
        if status == "running":
            record.setdefault("started", record["updated"])
        if status not in ACTIVE:
            record["ended"] = record["updated"]
        write_json(path, record)
        with _live_lock:
            (_live.add if status in ACTIVE else _live.discard)(run_id)

    def status(self, run_id):
        """The run's status record; an active run whose process is gone reads as interrupted (the reasons
        added here, never stored, are in the reader's language)."""
        record = read_json(self.require(run_id) / STATUS, {"status": "interrupted", "reason": _("no status")})
        if record.get("status") in ACTIVE:
            pid = record.get("pid")
            gone = not _pid_alive(pid) if pid != os.getpid() else run_id not in _live
            if gone:
                record = dict(record, status="interrupted",
                              reason=_("The process training it stopped before the run finished."))
        return record

    def model_path(self, run_id, which="best"):
        """The best model if there is one, else the last; None when the run saved neither."""
        folder = self.require(run_id)
        order = (BEST_MODEL, LAST_MODEL) if which == "best" else (LAST_MODEL, BEST_MODEL)
        for name in order:
            if (folder / name).is_file():
                return folder / name
        return None

    def model_stamp(self, run_id, which="best"):
        """Which model file `model_path` picks and its version: {"model": file name, "mtime_ns", "size"}."""
        path = self.model_path(run_id, which)
        try:
            if path is not None:
                info = path.stat()
                return {"model": path.name, "mtime_ns": info.st_mtime_ns, "size": info.st_size}
        except FileNotFoundError:
            pass  # deleted between the two looks: as if it had never been saved
        raise RunError(_("Run {run_id} has no saved model yet: it has not finished an epoch. Wait for its first "
                         "epoch, or train it again.").format(run_id=run_id))

    # ---- evaluations: written by the worker, read by anyone; reading never writes --------------

    def write_evaluation(self, run_id, labels, probabilities, figures):
        """Store an evaluation: true labels, class probabilities (N, classes) and `figures` (see
        EVALUATION_FIGURES; `stamp` says which model file it is of). Returns the figures as stored.

        The arrays go first and the figures last, naming each array file's version: a reader never
        pairs them with the arrays of a racing writer (an evaluation of another model version)."""
        run_folder = self.require(run_id)
        folder = run_folder / EVALUATION
        probabilities = np.asarray(probabilities, dtype=np.float32)
        arrays = {"labels": np.asarray(labels, dtype=np.int32),
                  "predictions": probabilities.argmax(axis=1).astype(np.int32),
                  "probabilities": probabilities}
        files = {}
        for name, array in arrays.items():
            buffer = io.BytesIO()
            np.save(buffer, array, allow_pickle=False)
            write_bytes(folder / f"{name}.npy", buffer.getvalue())
            files[name] = _file_version(folder / f"{name}.npy")
        record = {**{key: figures[key] for key in EVALUATION_FIGURES if key in figures}, "files": files}
        write_json(folder / EVALUATION_METRICS, record)
        for old in (OLD_EVALUATION, OLD_EVALUATION_NOTE):  # the older format's, now outdated
            (run_folder / old).unlink(missing_ok=True)
        return record

    def has_evaluation(self, run_id, stamp=None):
        """Whether an evaluation of the model `stamp` names (default: the run's current best, see
        `model_stamp`) is stored; decided from small files only, and writes nothing."""
        folder = self.require(run_id)
        try:
            stamp = stamp or self.model_stamp(run_id)
        except RunError:
            return False
        note = _read_record(folder / OLD_EVALUATION_NOTE)
        if (not (folder / EVALUATION / EVALUATION_METRICS).exists() and note is not None
                and note.get("file") is not None and note["file"] == _file_version(folder / OLD_EVALUATION)):
            return _same_model(note.get("stamp"), stamp)  # the older format, without parsing its large file
        return self.evaluation_figures(run_id, stamp) is not None

    def evaluation_figures(self, run_id, stamp=None):
        """The stored evaluation's figures (EVALUATION_FIGURES) if it is of the model `stamp` names
        (default: the current best), else None."""
        folder = self.require(run_id)
        stamp = stamp or self.model_stamp(run_id)
        record = _read_record(folder / EVALUATION / EVALUATION_METRICS)
        if record is not None:
            current = _same_model(record.get("stamp"), stamp) and self._arrays_unchanged(folder, record)
            return record if current else None
        old = self._old_evaluation(folder, stamp)
        return {key: old[key] for key in EVALUATION_FIGURES if key in old} if old is not None else None

    def evaluation(self, run_id, stamp=None):
        """The stored evaluation of the model `stamp` names (default: the current best) with all it
        implies: its figures, `labels`, `predictions`, `confidence`, `probabilities` (None for the older
        format, which kept the confidence only) and, derived here, the confusion
        matrix (plain and row-normalised), the per-class `report` and `cells` (cells[t][p]: the indices
        of the images of true class t predicted as p). None if there is none, or of another model.

        A damaged evaluation counts as none: evaluating again replaces it."""
        folder = self.require(run_id)
        stamp = stamp or self.model_stamp(run_id)
        record = _read_record(folder / EVALUATION / EVALUATION_METRICS)
        if record is not None:
            arrays = self._arrays(folder, record) if _same_model(record.get("stamp"), stamp) else None
            if arrays is None:
                return None
            labels, predictions, probabilities = arrays["labels"], arrays["predictions"], arrays["probabilities"]
            confidence = probabilities.max(axis=1)
        else:
            record = self._old_evaluation(folder, stamp)
            if record is None:
                return None
            try:
                labels = labels_from_cells(record["cells"], record["n"])
                predictions = np.asarray(record["predictions"], dtype=np.int64)
                confidence = np.asarray(record.get("confidence", np.ones(len(labels))), dtype=np.float32)
                probabilities = None  # the older format kept the predicted class's confidence only
            except (KeyError, TypeError, ValueError, IndexError):
                return None
            record = {key: record[key] for key in EVALUATION_FIGURES if key in record}
        try:
            derived = derive(labels, predictions, record["class_names"])
        except (KeyError, TypeError, ValueError, IndexError):
            return None
        return {**record, "labels": labels, "predictions": predictions, "confidence": confidence,
                "probabilities": probabilities, **derived}

    def require_evaluation(self, run_id, stamp):
        """`evaluation`, or a one-line error when it is missing (another writer replaced it meanwhile)."""
        result = self.evaluation(run_id, stamp)
        if result is None:
            raise RunError(_("The evaluation of run {run_id} changed while it was read (a newer model?): evaluate it "
                             "again.").format(run_id=run_id))
        return result

    def _arrays_unchanged(self, folder, record):
        files = _array_versions(record)
        return all(files.get(name) is not None and files[name] == _file_version(folder / EVALUATION / f"{name}.npy")
                   for name in EVALUATION_ARRAYS)

    def _arrays(self, folder, record):
        """The evaluation's arrays, each checked to be the file version its figures name; None if not."""
        arrays = {}
        for name in EVALUATION_ARRAYS:
            try:
                with open(folder / EVALUATION / f"{name}.npy", "rb") as f:
                    if _version(os.fstat(f.fileno())) != _array_versions(record).get(name):  # replaced meanwhile
                        return None
                    arrays[name] = np.load(f, allow_pickle=False)
            except (OSError, ValueError):
                return None
        return arrays

    def _old_evaluation(self, folder, stamp):
        """The older format's evaluation.json if it is of the model `stamp` names, else None."""
        old = _read_record(folder / OLD_EVALUATION)
        return old if old is not None and _same_model(old.get("stamp"), stamp) else None

    def list(self):
        """Summaries of every run, newest first."""
        if not self.root.is_dir():
            return []
        rows = []
        for folder in sorted(self.root.iterdir(), reverse=True):
            if not RUN_ID.match(folder.name) or not (folder / CONFIG).is_file():
                continue
            try:
                rows.append(self.summary(folder.name))
            except RunError:
                continue  # a damaged folder does not hide the others
        return rows

    def statuses(self):
        """{run_id: status record} of every run, reading only the status files (cheap enough to poll)."""
        if not self.root.is_dir():
            return {}
        found = {}
        for folder in sorted(self.root.iterdir()):
            if RUN_ID.match(folder.name) and (folder / CONFIG).is_file():
                try:
                    found[folder.name] = self.status(folder.name)
                except RunError:
                    continue
        return found

    def summary(self, run_id):
        config, status, history = self.config(run_id), self.status(run_id), self.history(run_id)
        epochs = history.get("epochs", [])
        started, ended = status.get("started"), status.get("ended")
        return {
            "run_id": run_id, "status": status["status"], "reason": status.get("reason", ""),
            "owner": owner_of(config).get("name"), "owner_id": owner_of(config).get("id"),
            "dataset": config["dataset"], "arch": config["arch"],
            "epochs": f"{len(epochs)}/{config['training']['epochs']}",
            "batch_size": config["training"]["batch_size"], "optimizer": config["training"]["optimizer"],
            "learning_rate": config["training"]["learning_rate"],
            "train_size": config.get("n_train"),
            "best_val_accuracy": best_val_accuracy(epochs),
            "seconds": round((ended or time.time()) - started, 1) if started else None,
            "has_model": self.model_path(run_id) is not None,
        }

    def delete(self, run_id, caller=OPERATOR):
        """Delete a run that has ended. A student may delete only their own runs; the teacher any."""
        require_change(caller, run_id, self.config(run_id), "delete")
        status = self.status(run_id)["status"]
        if status == "queued":
            raise RunError(_("Run {run_id} is queued: stop it before deleting it.").format(run_id=run_id))
        if status in ACTIVE:
            raise RunError(_("Run {run_id} is running: stop it before deleting it.").format(run_id=run_id))
        shutil.rmtree(self.require(run_id), ignore_errors=True)
