"""The job manager: every training runs as a Dask task on a worker process; the server's runs folder
is written here, from what the worker sends.

A caller submits a run and returns at once, then polls `progress(run_id)` and may `stop(run_id)`.
Runs queue on the scheduler; a worker takes one at a time. One manager per process and runs folder;
the dashboard shares it between sessions, so every method here is thread-safe. Two processes on one
scheduler and one runs folder see the same runs and the same queue: both read the folder.
"""

import collections
import dataclasses
import threading
import time
import uuid
from concurrent import futures

import numpy as np
from distributed import Event, Queue

from cifar_core import worker
from cifar_core.config.hparams import TRAINING_HPARAMS
from cifar_core.config.run_config import make_config
from cifar_core.data.datasets import load_dataset
from cifar_core.errors import CoreError, ParamError, RunError
from cifar_core.i18n import N_, SOURCE, _, current_language, ngettext, speaking
from cifar_core.protocol import INTERRUPTED, lr_search_stop_name, names, shared_data_name
from cifar_core.runs.classroom import read_controls
from cifar_core.runs.curves import batch_series, fractional_epoch
from cifar_core.runs.owners import OPERATOR, require_change, require_teacher
from cifar_core.runs.store import ACTIVE, HISTORY, RunStore, write_bytes, write_json
from cifar_core.server import cluster, estimate

# A reason stored in status.json (data, in English): a page shows it with `_()`.
STOPPED_BEFORE_START = N_("Stopped before it started.")
MAX_LIVE_BATCHES = 2000  # per-batch points kept in memory for live charts
POLL_SECONDS = 0.2  # how often the server takes a run's messages
LOST_SCHEDULER_SECONDS = 20  # a run whose scheduler stays unreachable this long is interrupted
PULL_SECONDS = 300  # an epoch's files not pulled by then are asked for again after the next epoch
WORKER_LOOK_SECONDS = 1.0  # how often a pull that waits asks whether its worker is still there
# Reads of pulled files: each ends with its bytes, or when its pull is cancelled.
_PULL_READERS = futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="pull-read")
SHARE_SECONDS = 120  # to hand a dataset to a lab's worker (CIFAR-10: 180 MB)
MAX_SEARCHES = 64  # learning-rate searches remembered (their curves are small)
CAP_MARGIN = 1.25  # a student run is fitted to the class's time cap, and stopped past it by this factor
TEACHER_PRIORITY = 100  # the teacher's runs go first; a student's n-th waiting run goes after everyone's (n-1)-th


class LiveProgress:
    """Live state of one run, from its worker's messages, read as snapshots."""

    def __init__(self, run_id, epochs):
        self._lock = threading.Lock()
        self.run_id = run_id
        self.status, self.reason, self.worker = "queued", "", None
        self.epochs, self.steps_per_epoch, self.n_train = epochs, None, None
        self.epoch, self.batch = 0, 0
        self.batches = collections.deque(maxlen=MAX_LIVE_BATCHES)  # (fractional epoch, loss, accuracy)
        self.epoch_records = []
        self.started = self.ended = None
        self._moment = None  # the snapshot of the current moment, without the clock

    def on_start(self, info, worker):
        with self._lock:
            self.status, self.started, self.worker = "running", time.time(), worker
            self.steps_per_epoch, self.n_train = info["steps_per_epoch"], info["n_train"]
            self._moment = None

    def on_batches(self, points):
        with self._lock:
            for epoch, batch, loss, accuracy in points:
                self.epoch, self.batch = epoch, batch + 1
                self.batches.append((fractional_epoch(epoch, batch, self.steps_per_epoch), loss, accuracy))
            self._moment = None

    def on_epoch(self, record):
        with self._lock:
            self.epoch_records.append(record)
            self.epoch, self.batch = record["epoch"], 0
            self._moment = None

    def on_end(self, status, reason):
        with self._lock:
            self.status, self.reason, self.ended = status, reason, time.time()
            self._moment = None

    def snapshot(self):
        """A plain dict: fraction done, seconds left, per-batch and per-epoch series. Every viewer of
        one moment gets the same copy of the series (a class watching one run copies them once); only
        the clock is read anew. Callers must not change it."""
        with self._lock:
            if self._moment is None:
                total = (self.steps_per_epoch or 0) * self.epochs
                done = (self.steps_per_epoch or 0) * self.epoch + self.batch
                self._moment = {
                    "run_id": self.run_id, "status": self.status, "reason": self.reason, "worker": self.worker,
                    "epoch": self.epoch, "epochs": self.epochs, "batch": self.batch,
                    "steps_per_epoch": self.steps_per_epoch, "fraction": min(done / total if total else 0.0, 1.0),
                    "batches": list(self.batches), "epoch_records": list(self.epoch_records)}
            moment, started, ended = self._moment, self.started, self.ended
        elapsed = (ended or time.time()) - started if started else 0.0
        fraction = moment["fraction"]
        return {**moment, "elapsed": elapsed,
                "seconds_left": elapsed * (1 - fraction) / fraction if 0 < fraction < 1 else None}


def _inside(folder, name):
    """`folder / name` for a file a worker sent, refusing any name that leaves the run's folder."""
    path = (folder / name).resolve()
    if not path.is_relative_to(folder.resolve()):
        raise RunError(f"A worker sent a file outside its run folder ({name!r}); it was not written.")
    return path


class RunLink:
    """The Dask side of one run this manager follows: the run's message queue, the address of the
    worker training it (from its start message), and the files its notes named that the server's
    folder does not have yet. Files never pass through the queue: they are pulled from the worker."""

    def __init__(self, run_id, client):
        self.run_id, self.client = run_id, client
        self.queue = Queue(names(run_id)["queue"], client=client)
        self.address = None
        self.wanted = {}  # relative name -> [size, mtime_ns], from the worker's notes

    def pull(self, training):
        """The wanted files, straight from the training worker: {name: bytes}, without those the
        worker no longer has (it left, or the run ended and its result brings the whole folder)."""
        if not self.wanted or self.address is None or training.done():
            return {}
        pull = self.client.submit(worker.run, "pull_files_task", self.run_id, sorted(self.wanted),
                                  workers=[self.address], pure=False)
        try:
            files = self.collect(pull, training)
        finally:
            pull.cancel()  # done with it either way: the scheduler forgets the task and its bytes
        for name in files:
            self.wanted.pop(name, None)
        return files

    def collect(self, pull, training):
        """The pull's files, or {} once the training has ended, its worker has left, or PULL_SECONDS
        have passed. A worker that dies leaves its pull waiting for it, also after the pull has
        finished (its bytes were on that worker), while its training may be tried again elsewhere for
        minutes: so the bytes are read in a thread of their own (a checkpoint may take many seconds to
        travel), and the scheduler is asked for the worker every WORKER_LOOK_SECONDS meanwhile."""
        deadline = time.monotonic() + PULL_SECONDS
        look = time.monotonic() + WORKER_LOOK_SECONDS
        reading = None
        while not training.done() and time.monotonic() < deadline:
            if reading is None and pull.status == "finished":
                reading = _PULL_READERS.submit(pull.result, timeout=PULL_SECONDS)
            elif pull.status not in ("pending", "finished"):  # failed, cancelled or lost
                return {}
            if reading is not None and futures.wait([reading], timeout=WORKER_LOOK_SECONDS).done:
                try:
                    return reading.result()
                except Exception:  # the worker or the scheduler went away meanwhile
                    return {}
            if reading is None:
                time.sleep(0.02)
            if time.monotonic() >= look:
                if not self._worker_present():
                    return {}  # the pull is cancelled, which ends its reading too
                look = time.monotonic() + WORKER_LOOK_SECONDS
        return {}

    def _worker_present(self):
        """Whether the scheduler still knows the training's worker (a fresh look, not a cached one)."""
        try:
            return self.address in self.client.scheduler_info(n_workers=-1)["workers"]
        except Exception:  # the scheduler went away: the run's follower sees it and ends the run
            return False

    def close(self, worker_died=False):
        """Release the run's queue and clear its events, so the scheduler holds nothing of it. A queue
        lives while any handle is open: a worker killed mid-run never released its own."""
        try:
            for _handle in range(2 if worker_died else 1):
                self.queue.close()
            for event in ("started", "stop"):  # a cleared event that nobody waits for is deleted
                Event(names(self.run_id)[event], client=self.client).clear()
        except Exception:
            pass  # the scheduler went away, and its objects with it


class JobManager:
    def __init__(self, runs_dir=None):
        self.store = RunStore(runs_dir)
        self._lock = threading.Lock()
        self._progress = {}  # run_id -> LiveProgress, for every run this manager has submitted
        self._futures = {}  # run_id -> distributed.Future, while active
        self._shared = {}  # (client id, dataset) -> the future of the copy sent to a lab's workers
        self._stopping = set()  # runs whose stop was asked for here
        self._searches = collections.OrderedDict()  # search id -> its state, oldest first (see find_learning_rate)
        self._held = {}  # run_id -> what it is dispatched with, while the class's queue is paused
        self._releaser = None  # the thread that dispatches them when the teacher resumes
        self._capped = {}  # run_id -> the reason it was stopped by the class's time cap

    @property
    def max_jobs(self):
        """Trainings the workers take at once."""
        return max(1, cluster.training_capacity(cluster.training_client()))

    def submit(self, dataset, arch, hparams=None, *, preset=None, caller=OPERATOR, **training):
        """Check the config and the class's limits, create the run folder and queue the run. Returns
        the run id at once. `preset` names the preset it came from (`prepare` finds its runs by it);
        `caller` (see `cifar_core.runs.owners`) becomes the run's owner."""
        return self._submit_all(dataset, arch, [(hparams, training)], preset, caller)[0]

    def _submit_all(self, dataset, arch, settings, preset, caller):
        """Queue one run per (hparams, training), all or none: every check comes before any folder."""
        controls = read_controls(self.store.root)
        mine = self._active_of(caller)
        if not caller.teacher and mine + len(settings) > controls.max_active_per_student:
            cap = controls.max_active_per_student
            if len(settings) > 1:
                message = ngettext("The class allows {cap} run per student queued or training at once, and you have "
                                   "{mine} and asked for {more} more: wait for one to end, or stop one.",
                                   "The class allows {cap} runs per student queued or training at once, and you have "
                                   "{mine} and asked for {more} more: wait for one to end, or stop one.", cap)
            else:
                message = ngettext("The class allows {cap} run per student queued or training at once, and you have "
                                   "{mine}: wait for one to end, or stop one.",
                                   "The class allows {cap} runs per student queued or training at once, and you have "
                                   "{mine}: wait for one to end, or stop one.", cap)
            raise ParamError(message.format(cap=cap, mine=mine, more=len(settings)))
        cap = None if caller.teacher else controls.student_cap_seconds
        configs = []
        for hparams, training in settings:
            if cap:  # fitted as the time budget fits, so that the run ends on its own
                training, _fitted = estimate.fit_to_budget(dataset, arch, hparams, training, cap)
            configs.append(dict(make_config(dataset, arch, hparams, preset=preset, **training), owner=caller.owner()))
        client = self._training_client(dataset)  # refused before a folder exists
        run_ids = []
        for n, config in enumerate(configs):
            priority = TEACHER_PRIORITY if caller.teacher else -(mine + n)
            run_id = self.store.create(config, priority=priority, **({"cap_seconds": cap} if cap else {}))
            with self._lock:
                self._progress[run_id] = LiveProgress(run_id, config["training"]["epochs"])
                self._held[run_id] = (client, config, priority, cap)
            run_ids.append(run_id)
        self._release()
        return run_ids

    def _release(self):
        """Hand the held runs to the workers, unless the teacher paused the queue (then a thread
        looks again every second, so that every process serving the class resumes)."""
        with self._lock:
            if not self._held:
                return
            if read_controls(self.store.root).paused:
                if self._releaser is None or not self._releaser.is_alive():
                    self._releaser = threading.Thread(target=self._release_when_resumed, name="release", daemon=True)
                    self._releaser.start()
                return
            held, self._held = self._held, {}
        for run_id, (client, config, priority, cap) in sorted(held.items(), key=lambda item: -item[1][2]):
            self._dispatch(run_id, client, config, priority, cap)

    def _release_when_resumed(self):
        while True:
            time.sleep(1.0)
            with self._lock:
                if not self._held:
                    return
            if not read_controls(self.store.root).paused:
                self._release()
                return

    def _dispatch(self, run_id, client, config, priority, cap):
        lab = client.cluster is None
        link = RunLink(run_id, client)  # its queue opens before the worker's: no message is lost
        with self._lock:
            self._futures[run_id] = client.submit(
                worker.run, "train_task", run_id, config, None if lab else cluster.local_data_env(), key=f"train-{run_id}",
                resources={"train": 1}, pure=False, retries=0, priority=priority)
        threading.Thread(target=self._follow, args=(run_id, link, cap and cap * CAP_MARGIN),
                         name=f"follow-{run_id}", daemon=True).start()

    def _active_of(self, caller):
        """How many runs of `caller` are queued or training (every process's, from the runs folder)."""
        count = 0
        for run_id in self.active():
            try:
                count += caller.owns(self.store.config(run_id))
            except CoreError:
                continue  # deleted meanwhile
        return count

    def _training_client(self, dataset):
        """The client that queues trainings; a lab's is checked and sent the dataset first."""
        client = cluster.training_client()  # an unreachable scheduler is refused here
        if client.cluster is None:  # a lab that cannot train is refused here, in one line
            cluster.check_lab(client)
            self._share(client, dataset)
        return client

    def sweep(self, dataset, arch, name, values, hparams=None, *, caller=OPERATOR, **training):
        """Queue one run per value of one setting (a training option or an architecture
        hyperparameter); everything else is the same. Returns their run ids, in order."""
        if len(values) < 2:
            raise ParamError(_("A sweep needs at least two values, e.g. learning_rate=1e-4,1e-3,1e-2."))
        is_training = name in {spec.name for spec in TRAINING_HPARAMS}
        settings = []
        for value in values:
            run_training = {**training, name: value} if is_training else training
            run_hparams = hparams if is_training else {**(hparams or {}), name: value}
            settings.append((run_hparams, run_training))
        return self._submit_all(dataset, arch, settings, None, caller)

    def _share(self, client, dataset):
        # Lab workers that have the dataset use their own copy; the others fetch this one. It travels
        # as NumPy arrays and built-in types, so no process of the lab needs the product's classes.
        shared = self._shared.get((client.id, dataset))
        if shared is not None and shared.status == "finished":  # once per connection, while a worker holds it
            return
        loaded = load_dataset(dataset)
        fields = {field.name: getattr(loaded, field.name) for field in dataclasses.fields(loaded)}
        fields = {name: np.asarray(value) if isinstance(value, np.ndarray) else value  # a memory map too
                  for name, value in fields.items()} | {"class_names": [str(c) for c in loaded.class_names]}
        address = cluster.scheduler_address()
        try:
            [future] = client.scatter([fields], hash=False, timeout=SHARE_SECONDS)  # a list: one object
            client.publish_dataset(future, name=shared_data_name(dataset), override=True)
        except Exception as exc:
            raise RunError(_("Cannot send {dataset} to the workers of the scheduler at {address} ({error}: {detail}); "
                             "give each worker its own copy of the dataset (e.g. CIFAR10_PATH when it starts), or "
                             "check the network between them.").format(
                dataset=dataset, address=address, error=type(exc).__name__, detail=exc)) from None
        self._shared[(client.id, dataset)] = future

    # ---- the learning-rate finder: a short training in a training slot; nothing is saved --------

    def find_learning_rate(self, dataset, arch, hparams=None, **training):
        """Start the learning-rate range test of these settings (see `worker.lr_finder`). It queues
        for a training slot like a run. Returns its id at once: `learning_rate_search(id)` follows it,
        `cancel_learning_rate_search(id)` ends it at its next batch."""
        config = make_config(dataset, arch, hparams, **training)
        client = self._training_client(dataset)
        search_id = uuid.uuid4().hex[:12]
        data_env = None if client.cluster is None else cluster.local_data_env()
        future = client.submit(worker.run, "lr_find_task", config, lr_search_stop_name(search_id), data_env,
                               language=current_language(), key=f"lr-find-{search_id}", resources={"train": 1}, pure=False, retries=0)
        with self._lock:
            self._searches[search_id] = {"status": "running", "result": None, "reason": "", "failure": None,
                                         "future": future}
            ended = [k for k, v in self._searches.items() if v["status"] != "running"]
            for old in ended[:max(0, len(self._searches) - MAX_SEARCHES)]:
                del self._searches[old]
        future.add_done_callback(lambda done: self._search_ended(search_id, done))
        return search_id

    def _search_ended(self, search_id, future):
        """Keep a search's outcome and release its event (Dask runs this in a thread of its own)."""
        status, result, reason, failure = "failed", None, "", None
        try:
            result = future.result()
            status = "cancelled" if result["stopped"] == "cancelled" else "done"
        except CoreError as exc:
            reason = str(exc)
        except Exception as exc:  # cancelled, the worker died, or a library error: one line, in words when read
            failure = (type(exc).__name__, str(exc)[:200])
        try:
            Event(lr_search_stop_name(search_id), client=future.client).clear()  # deleted: nobody waits on it
        except Exception:
            pass  # the scheduler went away, and its events with it
        with self._lock:
            if search_id in self._searches:
                self._searches[search_id].update(status=status, result=result, reason=reason, failure=failure,
                                                 future=None)

    def learning_rate_search(self, search_id):
        """{status: running, done, cancelled or failed; result (see `find_learning_rate` in
        `worker.lr_finder`) once done; reason when it failed}."""
        with self._lock:
            state = self._searches.get(search_id)
            if state is None:
                raise RunError(_("This learning-rate search is not known here (the server restarted?): start it "
                                 "again."))
            found = {key: state[key] for key in ("status", "result", "reason")}
            failure = state["failure"]
        if failure is not None:  # in words here, in the asking tab's language (not Dask's thread's)
            found["reason"] = _("The learning-rate search could not finish ({error}: {detail}).").format(
                error=failure[0], detail=failure[1])
        return found

    def cancel_learning_rate_search(self, search_id):
        """End a search at its next batch (one still queued ends as soon as it starts)."""
        if self.learning_rate_search(search_id)["status"] != "running":
            return
        try:
            stop = Event(lr_search_stop_name(search_id), client=cluster.training_client())
            stop.set()
            if self.learning_rate_search(search_id)["status"] != "running":  # it ended meanwhile: leave no event
                stop.clear()
        except Exception as exc:
            raise RunError(_("Cannot reach the workers to cancel the search ({error}).").format(
                error=type(exc).__name__)) from None

    # ---- what the worker sends ---------------------------------------------------------------

    def _follow(self, run_id, link, limit=None):
        """Write the worker's messages into the server's run folder until the run ends; stop it once
        it has trained `limit` seconds. The reasons it records are data: always in English."""
        with speaking(SOURCE):
            self._follow_in_english(run_id, link, limit)

    def _follow_in_english(self, run_id, link, limit):
        progress, future = self._progress[run_id], self._futures[run_id]
        lost_since = None
        while True:
            if limit and run_id not in self._capped and progress.snapshot()["elapsed"] > limit:
                self._capped[run_id] = (f"Stopped by the class's time cap: a student run trains at most "
                                        f"{limit / CAP_MARGIN:.0f} s (and {limit:.0f} s past its estimate).")
                self._request_stop(run_id, future)
            messages = cluster.take_messages(link.queue)
            for message in messages or ():
                self._handle_safely(run_id, progress, message, link, future)
            if messages is None:  # the scheduler is unreachable
                lost_since = lost_since or time.monotonic()
                if time.monotonic() - lost_since > LOST_SCHEDULER_SECONDS:
                    self._end(run_id, progress, "interrupted", self._lost_reason())
                    return
            else:
                lost_since = None
            if future.done():
                for message in cluster.take_messages(link.queue) or ():
                    self._handle_safely(run_id, progress, message, link, future)
                self._finish(run_id, progress, future, link)
                return
            time.sleep(POLL_SECONDS)

    def _handle_safely(self, run_id, progress, message, link, training):
        try:
            self._handle(run_id, progress, message, link, training)
        except RunError:
            pass  # the run was deleted or the folder is unwritable: the final status says so

    def _handle(self, run_id, progress, message, link, training):
        kind = message["kind"]
        if kind == "start":
            link.address = message["address"]
            self.store.set_status(run_id, "running", worker=message["worker"])
            progress.on_start(message["info"], message["worker"])
        elif kind == "batches":
            progress.on_batches(message["points"])
        elif kind == "epoch":
            progress.on_epoch(message["record"])
            link.wanted.update(message["files"])
            folder = self.store.path(run_id)
            for name, data in sorted(link.pull(training).items()):
                write_bytes(_inside(folder, name), data)
            if link.wanted:  # models first: an epoch listed has its checkpoint (else the result brings both)
                return
            write_json(folder / HISTORY, message["history"])
            self.store.set_status(run_id, "running", epochs_completed=message["record"]["epoch"])

    def _finish(self, run_id, progress, future, link):
        try:
            result = future.client.gather(future, direct=True)  # the folder comes from the worker itself
        except Exception as exc:  # taken off the queue, the worker died, or the scheduler went away
            if future.status == "cancelled" and run_id in self._stopping:
                self._end(run_id, progress, "stopped", STOPPED_BEFORE_START, link=link)
            elif future.status == "cancelled":  # the client gave up on a lost scheduler
                self._end(run_id, progress, "interrupted", self._lost_reason())
            else:
                self._end(run_id, progress, "interrupted", f"{INTERRUPTED} ({type(exc).__name__})", link=link,
                          worker_died=True)
            return
        folder = self.store.path(run_id)
        try:
            for name, data in result["files"].items():
                write_bytes(_inside(folder, name), data)
        except RunError as exc:
            result = dict(result, status="failed", reason=str(exc))
        record = result.get("record", {})
        extra = {k: record[k] for k in ("epochs_completed", "best_epoch", "train_seconds",
                                        "images_per_second", "peak_rss_mb", "dtype_policy", "diverged") if k in record}
        # Only a second attempt returns "interrupted": the worker of the first died holding the queue.
        self._end(run_id, progress, result["status"], result["reason"], link=link,
                  worker_died=result["status"] == "interrupted", worker=result.get("worker"), **extra)

    def _end(self, run_id, progress, status, reason, link=None, worker_died=False, **extra):
        """Record how the run ended. `link`: its Dask objects to release (none when the scheduler is
        lost: they went with it)."""
        with self._lock:  # first: a stop asked from now on clears the event it sets (see `stop`)
            self._futures.pop(run_id, None)
        if status == "stopped" and run_id in self._capped:
            reason = self._capped.pop(run_id)
        if link is not None:
            link.close(worker_died)
        try:
            self.store.set_status(run_id, status, reason, **extra)
        except RunError:
            pass  # deleted or unwritable meanwhile; the live view still ends
        progress.on_end(status, reason)

    def _lost_reason(self):
        address = cluster.scheduler_address()
        where = f"the Dask scheduler at {address} ({cluster.SCHEDULER_ENV})" if address else "the local workers"
        return f"The connection to {where} was lost; the history and last checkpoint sent are kept."

    # ---- what callers ask --------------------------------------------------------------------

    def stop(self, run_id, caller=OPERATOR):
        """Stop a run at its next batch, or take it off the queue. Returns True if it was active.
        A student may stop only their own runs; the teacher any."""
        require_change(caller, run_id, self.store.config(run_id), "stop")
        with self._lock:
            future = self._futures.get(run_id)
            held = self._held.pop(run_id, None)
        if held is not None:  # never handed to a worker (the queue is paused)
            self._end(run_id, self._progress[run_id], "stopped", STOPPED_BEFORE_START)
            return True
        if future is None and self.store.status(run_id)["status"] not in ACTIVE:
            return False
        self._request_stop(run_id, future)
        return True

    def _request_stop(self, run_id, future):
        try:
            stop = Event(names(run_id)["stop"], client=cluster.training_client())
            stop.set()
            with self._lock:
                ended = future is not None and run_id not in self._futures
            if ended:  # it ended meanwhile and its events were cleared: leave none behind
                stop.clear()
        except Exception as exc:
            raise RunError(_("Cannot reach the workers to stop run {run_id} ({error}).").format(
                run_id=run_id, error=type(exc).__name__)) from None
        if future is not None and self._progress[run_id].snapshot()["status"] == "queued":
            self._stopping.add(run_id)
            future.cancel()

    def stop_all(self, caller=OPERATOR):
        """Stop every run that is queued or training (the teacher only). Returns how many were."""
        require_teacher(caller, "stop every run")
        stopped = 0
        for run_id in self.active():
            try:
                stopped += self.stop(run_id, caller)
            except CoreError:
                continue  # ended or deleted meanwhile
        return stopped

    def delete(self, run_id, caller=OPERATOR):
        """Delete a run that has ended: its owner or the teacher."""
        self.store.delete(run_id, caller)

    def progress(self, run_id):
        """A snapshot of a run's progress; for runs of other processes, rebuilt from its folder."""
        with self._lock:
            live = self._progress.get(run_id)
        if live is not None:
            snap = live.snapshot()
            return dict(snap, queue_position=self.queue_position(run_id) if snap["status"] == "queued" else None)
        status, history = self.store.status(run_id), self.store.history(run_id)
        config = self.store.config(run_id)
        epochs = history.get("epochs", [])
        return {"run_id": run_id, "status": status["status"], "reason": status.get("reason", ""),
                "worker": status.get("worker"), "epoch": len(epochs), "epochs": config["training"]["epochs"],
                "batch": 0, "steps_per_epoch": None, "fraction": len(epochs) / config["training"]["epochs"],
                "elapsed": status.get("train_seconds") or 0.0, "seconds_left": None,
                "batches": batch_series(history), "epoch_records": epochs,
                "queue_position": self.queue_position(run_id) if status["status"] == "queued" else None}

    def queued(self):
        """Run ids waiting for a worker, first in line first (every process's, from the runs folder)."""
        waiting = {r: record for r, record in self.store.statuses().items() if record["status"] == "queued"}
        return sorted(waiting, key=lambda r: (-waiting[r].get("priority", 0), waiting[r].get("created", 0)))

    def queue_position(self, run_id):
        """1 for the next run to start, None for a run that is not waiting."""
        waiting = self.queued()
        return waiting.index(run_id) + 1 if run_id in waiting else None

    def active(self):
        """Run ids that are running or queued, in this process and (through the folder) in others."""
        with self._lock:
            mine = [*self._futures, *self._held]
        others = [r for r, record in self.store.statuses().items() if record["status"] in ACTIVE and r not in mine]
        return mine + others

    def wait(self, run_id, timeout=None, poll=0.1):
        """Block until the run is no longer queued or running (for the CLI and tests)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                mine = run_id in self._futures or run_id in self._held
            if not mine and self.store.status(run_id)["status"] not in ACTIVE:
                return self.store.status(run_id)
            if deadline is not None and time.monotonic() > deadline:
                raise RunError(_("Run {run_id} did not finish within {timeout} s.").format(run_id=run_id, timeout=timeout))
            time.sleep(poll)
