"""The runs folder: one folder a run with its config, status, history, models and logs.

Every file is written atomically (temporary file, then rename), so a crash or a full
disk never leaves a half-written config or history behind.
"""

import json
import os
import re
import secrets
import shutil
import tempfile
import threading
import time
from pathlib import Path

from cifar_core.errors import ParamError, RunError

STATUSES = ("queued", "running", "completed", "stopped", "failed", "interrupted")
ACTIVE = ("queued", "running")
RUN_ID = re.compile(r"^\d{8}-\d{6}-[a-z0-9_]{1,32}-[0-9a-f]{6}$")

CONFIG, STATUS, HISTORY, EVALUATION = "config.json", "status.json", "history.json", "evaluation.json"
# Which model an evaluation is of, and which evaluation.json it belongs to: readable without
# parsing the evaluation itself (its predictions make it megabytes on CIFAR-10).
EVALUATION_STAMP = "evaluation.stamp.json"
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
        raise ParamError(f"'{run_id}' is not a run id (they look like 20261122-153000-seed_cnn-1a2b3c).")
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
        raise RunError(f"Cannot write {path} ({exc.strerror or exc}). Free disk space or make the "
                       "runs folder writable; earlier runs are untouched.") from None


def read_json(path, default=None):
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return default
    except (OSError, ValueError) as exc:
        raise RunError(f"{path} is unreadable ({exc}).") from None


def _file_version(path):
    """[inode, mtime_ns, size] of a file, or None if it is missing: a rewrite (a new file renamed
    over it) changes the inode."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    return [info.st_ino, info.st_mtime_ns, info.st_size]


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

    def create(self, config):
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            run_id = new_run_id(config["arch"])
            folder = self.root / run_id
            folder.mkdir()
        except OSError as exc:
            raise RunError(f"Cannot create a run in {self.root} ({exc.strerror or exc}). "
                           "Set CIFAR_CORE_RUNS to a writable folder.") from None
        write_json(folder / CONFIG, config)
        write_json(folder / HISTORY, {"epochs": [], "batches": []})
        self.set_status(run_id, "queued")
        return run_id

    def exists(self, run_id):
        return (self.path(run_id) / CONFIG).is_file()

    def require(self, run_id):
        if not self.exists(run_id):
            raise RunError(f"There is no run '{run_id}' in {self.root}.")
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
        """The run's status record; an active run whose process is gone reads as interrupted."""
        record = read_json(self.require(run_id) / STATUS, {"status": "interrupted", "reason": "no status"})
        if record.get("status") in ACTIVE:
            pid = record.get("pid")
            gone = not _pid_alive(pid) if pid != os.getpid() else run_id not in _live
            if gone:
                record = dict(record, status="interrupted",
                              reason="The process training it stopped before the run finished.")
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
        """Which model file `model_path` picks and its version: {"model": file name, "mtime_ns": int}."""
        path = self.model_path(run_id, which)
        try:
            if path is not None:
                return {"model": path.name, "mtime_ns": path.stat().st_mtime_ns}
        except FileNotFoundError:
            pass  # deleted between the two looks: as if it had never been saved
        raise RunError(f"Run {run_id} has no saved model yet: it has not finished an epoch. "
                       "Wait for its first epoch, or train it again.")

    def evaluation(self, run_id, stamp):
        """The stored evaluation if it is of the model `stamp` names (see `model_stamp`), else None.

        A damaged file counts as none: evaluating again replaces it."""
        path = self.require(run_id) / EVALUATION
        try:
            stored = read_json(path)
        except RunError:
            return None
        return stored if isinstance(stored, dict) and stored.get("stamp") == stamp else None

    def write_evaluation(self, run_id, result):
        """Store an evaluation; `result["stamp"]` says which model file it is of."""
        folder = self.require(run_id)
        write_json(folder / EVALUATION, result)
        # The note names the evaluation.json it describes (inode, mtime, size): if two writers
        # race, a note left beside the other's evaluation does not match it.
        version = _file_version(folder / EVALUATION)
        write_json(folder / EVALUATION_STAMP, {"stamp": result["stamp"], "file": version})

    def has_evaluation(self, run_id, which="best"):
        """Whether an evaluation of the run's current model is stored, mostly without reading it."""
        folder = self.require(run_id)
        try:
            stamp = self.model_stamp(run_id, which)
            note = read_json(folder / EVALUATION_STAMP)
        except RunError:
            return False
        version = _file_version(folder / EVALUATION)
        if version is None:
            return False
        if isinstance(note, dict) and note.get("stamp") == stamp and note.get("file") == version:
            return True
        # No note, or one that describes another file (an older product, a copied folder): read the
        # evaluation once and leave a note for next time.
        if self.evaluation(run_id, stamp) is None:
            return False
        try:
            write_json(folder / EVALUATION_STAMP, {"stamp": stamp, "file": version})
        except RunError:
            pass  # a read-only runs folder: the answer stands, only slower next time
        return True

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
            "dataset": config["dataset"], "arch": config["arch"],
            "epochs": f"{len(epochs)}/{config['training']['epochs']}",
            "batch_size": config["training"]["batch_size"], "optimizer": config["training"]["optimizer"],
            "learning_rate": config["training"]["learning_rate"],
            "train_size": config.get("n_train"),
            "best_val_accuracy": best_val_accuracy(epochs),
            "seconds": round((ended or time.time()) - started, 1) if started else None,
            "has_model": self.model_path(run_id) is not None,
        }

    def delete(self, run_id):
        if self.status(run_id)["status"] in ACTIVE:
            raise RunError(f"Run {run_id} is {self.status(run_id)['status']}: stop it before deleting it.")
        shutil.rmtree(self.require(run_id), ignore_errors=True)
