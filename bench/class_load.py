"""A class watching one run: N sessions on the Train page, each a websocket client that speaks
Streamlit's own protobuf messages as a browser does (its page request, the live fragment's
periodic reruns, the message cache). Thirty real browsers would take this machine's CPU themselves.

    python bench/class_load.py --sessions 30 --json           # one JSON line, the last one
    python bench/class_load.py --sessions 1,10,30,60 --json   # one line per number of sessions
    python bench/class_load.py --calibrate --json             # a Chromium tab against a client, in turns

As in a classroom, the training worker runs on core 0 and the server (and these clients, and
Chromium) on core 1. A fresh server trains the same run (seed_cnn, batch 32, the real CIFAR-10
sample) with nobody watching, then once per N with N sessions; each run is started and stopped
through the protocol, by pressing the page's buttons. For each N:

- `epoch_ratio`: the median epoch (after the first) against the run nobody watched;
- `every_session_moved`: each session saw its progress bar change at least every 3 s;
- `server_cpu_per_session`: the server process's CPU, less what it used with nobody watching, per
  session, as a fraction of one core;
- `first_page_seconds`: a new session's Data page while the others watch, until its images are fetched.

Nothing here asserts a timing.
"""

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT.parent / "shared" / "data" / "cifar-10-python-subset.tar.gz"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
MAX_MESSAGE_AGE = 2  # Streamlit's server.maxCachedMessageAge default: what the browser keeps
MAX_GAP_SECONDS = 3.0  # a session whose progress stood still longer did not "move"
RUN = {"epochs": 500, "train_size": 2000, "batch_size": 32}  # stopped by the bench, never finished
MEASURED_EPOCHS = 2  # at least this many epochs are timed per scenario, however slow the machine


class ProtocolSession:
    """One browser tab, at the protocol level: it asks for a page, applies what comes back as the
    browser would (widget ids by key, progress bars, images), reruns the fragments the server asks to
    rerun on a timer, and reports the messages it has cached so that the server sends references."""

    def __init__(self, url, page):
        self.ws_url = url.replace("http", "ws", 1) + "/_stcore/stream"
        self.http_url, self.page = url, page
        self.widgets = {}  # key -> widget id ("$$ID-…-train_start")
        self.fragment_of = {}  # widget id -> the fragment that drew it ("" for the page itself)
        self.progress = []  # (time, value, text) at each change of the page's first progress bar
        self.media = set()  # image URLs the page showed
        self.alerts = []  # the texts of its messages (st.error, st.info …)
        self.cached = {}  # hash of a cacheable message received -> the script run it was last used in
        self.script_runs = 0
        self.page_hash = ""
        self.finished = asyncio.Event()  # a script run ended: the page's or a fragment's
        self.page_finished = asyncio.Event()  # a run of the whole page ended (a fragment's may end first)
        self.timers = {}  # fragment id -> its rerun task
        self.states = {}  # widget id -> the WidgetState it was set to: sent with every rerun, as a browser does
        self.ws = None

    async def connect(self):
        self.ws = await websockets.connect(self.ws_url, subprotocols=["streamlit"], max_size=None)
        await self.rerun()
        self.reader = asyncio.create_task(self._read())

    async def rerun(self, fragment_id="", widgets=(), auto=False):
        msg = BackMsg()
        state = msg.rerun_script
        # As Chromium sends it: the page by name until its hash is known, the tab's context, and the
        # cached messages' hashes (none, with Streamlit's default settings, as measured).
        state.query_string, state.page_name, state.page_script_hash = "", "" if self.page_hash else self.page, self.page_hash
        state.fragment_id, state.is_auto_rerun = fragment_id, auto
        state.cached_message_hashes.extend(sorted(self.cached))
        context = state.context_info
        context.timezone, context.timezone_offset, context.locale = "UTC", 0, "en-US"
        context.url, context.color_scheme = f"{self.http_url}/{self.page}", "light"
        for widget in [*self.states.values(), *widgets]:
            state.widget_states.widgets.add().CopyFrom(widget)
        await self.ws.send(msg.SerializeToString())

    async def press(self, key):
        """Click the button whose key is `key` (it must be on the page): a button in a fragment reruns
        that fragment only, as in the browser."""
        widget_id = self.widgets[key]
        self.finished.clear()
        self.page_finished.clear()
        await self.rerun(self.fragment_of.get(widget_id, ""), widgets=[WidgetState(id=widget_id, trigger_value=True)])

    async def set_numbers(self, values):
        self.finished.clear()
        self.page_finished.clear()
        for key, value in values.items():
            self.states[self.widgets[key]] = WidgetState(id=self.widgets[key], int_value=value)
        await self.rerun()

    async def _read(self):
        try:
            async for data in self.ws:
                msg = ForwardMsg()
                msg.ParseFromString(data)
                kind = msg.WhichOneof("type")
                if msg.metadata.cacheable and msg.hash:  # (Streamlit's defaults mark none cacheable)
                    self.cached[msg.hash] = self.script_runs
                elif kind == "ref_hash" and msg.ref_hash in self.cached:
                    self.cached[msg.ref_hash] = self.script_runs
                if kind == "navigation":  # the page that ran: its reruns ask for it by its hash
                    self.page_hash = msg.navigation.page_script_hash
                elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
                    self._element(msg.delta.new_element, msg.delta.fragment_id)
                elif kind == "script_finished" and msg.script_finished in (
                        ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY):
                    self.finished.set()
                    if msg.script_finished == ForwardMsg.FINISHED_SUCCESSFULLY:
                        self.page_finished.set()
                    self._age_cache()
                elif kind == "auto_rerun":
                    fragment = msg.auto_rerun.fragment_id
                    if fragment not in self.timers:
                        self.timers[fragment] = asyncio.create_task(self._every(msg.auto_rerun.interval, fragment))
                elif kind == "stop_auto_rerun":
                    for fragment in msg.stop_auto_rerun.fragment_ids:
                        task = self.timers.pop(fragment, None)
                        if task:
                            task.cancel()
        except websockets.ConnectionClosed:
            pass

    def _age_cache(self):
        """As the browser's message cache: a message unused for more than MAX_MESSAGE_AGE runs is dropped."""
        self.script_runs += 1
        self.cached = {h: used for h, used in self.cached.items() if self.script_runs - used <= MAX_MESSAGE_AGE}

    def _element(self, element, fragment_id):
        kind = element.WhichOneof("type")
        inner = getattr(element, kind)
        widget_id = getattr(inner, "id", "")
        if widget_id.startswith("$$ID-"):
            self.widgets[widget_id.split("-", 2)[2]] = widget_id
            self.fragment_of[widget_id] = fragment_id
        if kind == "progress":
            shown = (inner.value, inner.text)
            if not self.progress or self.progress[-1][1:] != shown:
                self.progress.append((time.monotonic(), *shown))
        elif kind == "imgs":
            self.media.update(img.url for img in inner.imgs)
        elif kind == "alert":
            self.alerts.append(inner.body)
        elif kind == "exception":
            self.alerts.append(f"{inner.type}: {inner.message}")

    async def _every(self, interval, fragment):
        while True:  # as the browser's timer does: whether or not the last rerun has ended
            await asyncio.sleep(interval)
            try:
                await self.rerun(fragment, auto=True)
            except websockets.ConnectionClosed:
                return

    async def fetch_media(self):
        def get(url):
            with urllib.request.urlopen(self.http_url + url if url.startswith("/") else url, timeout=60) as r:
                r.read()
        await asyncio.gather(*(asyncio.to_thread(get, url) for url in sorted(self.media)))

    def largest_gap(self, since, until):
        times = [since] + [t for t, *_ in self.progress if since <= t <= until] + [until]
        return max(b - a for a, b in zip(times, times[1:]))

    async def close(self):
        for task in self.timers.values():
            task.cancel()
        await self.ws.close()
        await asyncio.gather(self.reader, return_exceptions=True)


def _port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cpu(process):
    times = process.cpu_times()
    return times.user + times.system


def _runs(runs):
    return sorted(p.name for p in Path(runs).iterdir() if p.is_dir())


def _history(runs):
    folders = sorted(p for p in Path(runs).iterdir() if p.is_dir() and (p / "history.json").is_file())
    return json.loads((folders[-1] / "history.json").read_text()) if folders else {"epochs": []}


class Server:
    """`streamlit run app.py` on core 1, its worker processes moved to core 0 once they start."""

    def __init__(self, pin=True):
        self.runs, self.port, self.pin = tempfile.mkdtemp(prefix="class-load-"), _port(), pin
        env = dict(os.environ, CIFAR_CORE_RUNS=self.runs, CIFAR10_PATH=str(SAMPLE), PYTHONPATH=str(ROOT))
        command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(self.port),
                   "--server.address", "127.0.0.1", "--server.headless", "true"]
        self.proc = subprocess.Popen((["taskset", "-c", "1"] if pin else []) + command, cwd=ROOT, env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.process, self.url = psutil.Process(self.proc.pid), f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(self.url + "/_stcore/health", timeout=1)
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("the dashboard did not start")

    def pin_workers(self):
        """Move every worker process (the children) to core 0."""
        if self.pin:
            for child in self.process.children(recursive=True):
                try:
                    child.cpu_affinity([0])
                except psutil.Error:
                    pass

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


async def start_run(server):
    """Press Start on the Train page with RUN's settings; returns once its first epoch has ended."""
    starter = ProtocolSession(server.url, "train")
    await starter.connect()
    # Each step waits for the whole page's run: a fragment's (the time estimate's line) may end first,
    # and a session closed then would end the page's run before it submits the run.
    await asyncio.wait_for(starter.page_finished.wait(), 300)
    await starter.set_numbers({f"train_{k}": v for k, v in RUN.items()})
    await asyncio.wait_for(starter.page_finished.wait(), 300)
    server.pin_workers()
    before = _runs(server.runs)
    for _ in range(3):  # a press that lands while the page reruns may be lost: pressed again only then
        await starter.press("train_start")
        await asyncio.wait_for(starter.page_finished.wait(), 300)
        deadline = time.monotonic() + 20  # a press that arrived created its folder during that run
        while _runs(server.runs) == before and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        if _runs(server.runs) != before:
            break
    await starter.close()
    if _runs(server.runs) == before:
        raise RuntimeError(f"Start training created no run; the page said: {starter.alerts[-3:]}")
    while len(_history(server.runs)["epochs"]) < 1:  # tracing and the first epoch: not measured
        await asyncio.sleep(0.5)
    server.pin_workers()


async def stop_run(server):
    """Press Stop on the Train page (again if a press was lost in a rerun); the measured epochs'
    durations, the first (tracing) and the stopped one left out."""
    stopper = ProtocolSession(server.url, "train")
    await stopper.connect()
    await asyncio.wait_for(stopper.finished.wait(), 120)  # a press during the page's first run may be lost
    deadline = time.monotonic() + 120
    while "train_stop" not in stopper.widgets:
        assert time.monotonic() < deadline, f"no Stop button on the Train page: {sorted(stopper.widgets)}"
        await asyncio.sleep(0.2)
    epochs = len(_history(server.runs)["epochs"])
    for _ in range(3):
        await stopper.press("train_stop")
        await asyncio.wait_for(stopper.finished.wait(), 120)
        try:
            await wait_idle(server, timeout=30)
            break
        except RuntimeError:
            continue
    else:
        raise RuntimeError("Stop was pressed three times and the run went on")
    await stopper.close()
    return [e["seconds"] for e in _history(server.runs)["epochs"][1:epochs] if not e.get("partial")]


async def scenario(server, sessions, window, baseline=None):
    """One run watched by `sessions` sessions for `window` seconds."""
    await start_run(server)
    clients = [ProtocolSession(server.url, "train") for _ in range(sessions)]
    await asyncio.gather(*(c.connect() for c in clients))
    # Every session has drawn its page once, and its live fragment has started ticking.
    await asyncio.gather(*(asyncio.wait_for(c.finished.wait(), 120) for c in clients))
    await asyncio.sleep(1.5)
    cpu, start = _cpu(server.process), time.monotonic()
    await asyncio.sleep(window)
    used, end = _cpu(server.process) - cpu, time.monotonic()
    await wait_epochs(server, MEASURED_EPOCHS + 1)  # on a slow machine the window may hold none
    newcomer = ProtocolSession(server.url, "data")
    opened = time.monotonic()
    await newcomer.connect()
    await asyncio.wait_for(newcomer.finished.wait(), 120)
    await newcomer.fetch_media()
    first_page = time.monotonic() - opened
    await newcomer.close()
    gaps = [c.largest_gap(start, end) for c in clients]
    await asyncio.gather(*(c.close() for c in clients))
    seconds = await stop_run(server)
    result = {"sessions": sessions, "window_seconds": window, "server_cpu": round(used / (end - start), 4),
              "median_epoch_seconds": round(statistics.median(seconds), 3) if seconds else None,
              "epochs_measured": len(seconds)}
    if sessions:
        result.update(every_session_moved=max(gaps) <= MAX_GAP_SECONDS, largest_gap_seconds=round(max(gaps), 2),
                      first_page_seconds=round(first_page, 2))
    if baseline and sessions:
        result["epoch_ratio"] = round(result["median_epoch_seconds"] / baseline["median_epoch_seconds"], 3)
        result["server_cpu_per_session"] = round((result["server_cpu"] - baseline["server_cpu"]) / sessions, 4)
    return result


async def wait_epochs(server, count, timeout=300):
    """Until the run's history holds `count` epochs: the first (tracing) is never measured."""
    deadline = time.monotonic() + timeout
    while len(_history(server.runs)["epochs"]) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the run did not reach {count} epochs within {timeout} s")
        await asyncio.sleep(0.5)


async def wait_idle(server, timeout=120):
    """Until the stopped run has left the worker (its status is no longer active)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        statuses = [json.loads((p / "status.json").read_text()).get("status")
                    for p in Path(server.runs).iterdir() if (p / "status.json").is_file()]
        if all(s not in ("queued", "running") for s in statuses):
            return
        await asyncio.sleep(0.5)
    raise RuntimeError(f"the run did not stop within {timeout} s of pressing Stop")


def calibrate(window, tabs=1, rounds=3):
    """Server CPU per watching session: `tabs` Chromium tabs against as many protocol sessions,
    measured in turns (`rounds` times each) beside an idle window each, because the server's own
    work grows as the run's history does."""
    from playwright.sync_api import sync_playwright
    server = Server()
    chromium, protocol = [], []
    try:
        asyncio.run(start_run(server))
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for _ in range(rounds):
                idle = _measure_cpu(server, window)
                # A context each: one window per tab, all in view (a hidden tab's timers are throttled).
                pages = [browser.new_context(viewport={"width": 1366, "height": 768}).new_page() for _ in range(tabs)]
                for page in pages:
                    page.goto(server.url + "/train", wait_until="commit", timeout=120_000)
                for page in pages:
                    page.get_by_test_id("stProgress").first.wait_for(timeout=120_000)
                time.sleep(5)
                chromium.append((_measure_cpu(server, window) - idle) / tabs)
                for page in pages:
                    page.context.close()
                idle = _measure_cpu(server, window)
                with ThreadPoolExecutor(1) as thread:  # Playwright's sync API holds this thread's event loop
                    protocol.append(thread.submit(asyncio.run, _protocol_cpu(server, tabs, window)).result() - idle)
            browser.close()
        asyncio.run(stop_run(server))
    finally:
        server.stop()
    browser_cost, client_cost = statistics.mean(chromium), statistics.mean(protocol)
    return {"calibration": True, "sessions": tabs, "chromium_tab": round(browser_cost, 4),
            "protocol_session": round(client_cost, 4), "each_chromium": [round(c, 4) for c in chromium],
            "each_protocol": [round(c, 4) for c in protocol],
            "ratio": round(client_cost / browser_cost, 2) if browser_cost > 0 else None}


async def _protocol_cpu(server, sessions, window):
    clients = [ProtocolSession(server.url, "train") for _ in range(sessions)]
    await asyncio.gather(*(c.connect() for c in clients))
    await asyncio.sleep(5)
    used = await asyncio.to_thread(_measure_cpu, server, window)
    await asyncio.gather(*(c.close() for c in clients))
    return used / sessions


def _measure_cpu(server, window):
    cpu, start = _cpu(server.process), time.monotonic()
    time.sleep(window)
    return (_cpu(server.process) - cpu) / (time.monotonic() - start)


async def run_all(counts, window, pin):
    server = Server(pin)
    try:
        baseline = await scenario(server, 0, window)
        yield baseline
        for n in counts:
            yield await scenario(server, n, window, baseline)
    finally:
        server.stop()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", default="30", help="comma-separated numbers of watching sessions")
    parser.add_argument("--window", type=float, default=30.0, help="seconds measured per number of sessions")
    parser.add_argument("--train-size", type=int, default=RUN["train_size"], help="images the watched run trains on")
    parser.add_argument("--calibrate", action="store_true", help="Chromium tabs against protocol sessions")
    parser.add_argument("--no-pin", action="store_true", help="let everything use every core")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    RUN["train_size"] = args.train_size
    if not args.no_pin:
        os.sched_setaffinity(0, {1})  # the clients and Chromium beside the server, on core 1
    if args.calibrate:
        print(json.dumps(calibrate(args.window)), flush=True)
        return 0

    async def report():
        async for result in run_all([int(n) for n in args.sessions.split(",")], args.window, not args.no_pin):
            line = json.dumps(result)
            print(line if args.json or result["sessions"] else f"nobody watching: {line}", flush=True,
                  file=sys.stderr if args.json and not result["sessions"] else sys.stdout)
    asyncio.run(report())
    return 0


if __name__ == "__main__":
    sys.exit(main())
