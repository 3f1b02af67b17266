"""The `class` scenario: one run trains while N browser tabs keep the Train page open.

    python bench/class_scenario.py --tabs 0,1,5,10 --json      # pinned, as in a classroom
    python bench/class_scenario.py --tabs 0,2 --no-pin --json   # everything on both cores

In a classroom the browsers run on the students' devices: with pinning, the workers run on core 0
and the server and Chromium on core 1 (`taskset`). For each N, a fresh server starts a run from the
first tab (seed_cnn, batch 32, Adam 1e-3, the real CIFAR-10 sample), the other tabs open the Train
page, and it measures: the median epoch after the first; whether every tab's progress text moved;
a new tab's Data page until its images show; the server's peak resident memory; and Stop, from the
click until the run's status reads stopped. Nothing here asserts a timing.
"""

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from cifar_core.config.hparams import TRAINING_HPARAMS  # noqa: E402  (after the path)

TITLES = {spec.name: spec.title for spec in TRAINING_HPARAMS}  # the Train page's labels
SAMPLE = ROOT.parent / "shared" / "data" / "cifar-10-python-subset.tar.gz"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]


def _port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children(pid):
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def _rss_mb(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _status(runs):
    folders = sorted(p for p in Path(runs).iterdir() if p.is_dir())
    if not folders:
        return None, {}, {}
    folder = folders[-1]
    read = lambda name: json.loads((folder / name).read_text()) if (folder / name).is_file() else {}  # noqa: E731
    return folder, read("status.json"), read("history.json")


def scenario(tabs, pin, epochs, train_size):
    from playwright.sync_api import sync_playwright
    port, runs = _port(), tempfile.mkdtemp(prefix="class-runs-")
    env = dict(os.environ, CIFAR_CORE_RUNS=runs, CIFAR10_PATH=str(SAMPLE), PYTHONPATH=str(ROOT))
    server_cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                  "--server.address", "127.0.0.1", "--server.headless", "true"]
    server = subprocess.Popen((["taskset", "-c", "1"] if pin else []) + server_cmd, cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    result = {"tabs": tabs, "pinned": pin}
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                urllib.request.urlopen(url + "/_stcore/health", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        # The app starts its workers as the first visitor arrives; wait for their processes.
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)  # on this process's core
            context = browser.new_context(viewport={"width": 1366, "height": 768})
            first = context.new_page()
            first.goto(url + "/train")
            first.get_by_role("heading", name="Train").wait_for(timeout=120_000)
            time.sleep(8)  # the workers start and import TensorFlow
            workers = list(_children(server.pid))
            if pin:
                for pid in workers + [g for w in workers for g in _children(w)]:
                    subprocess.run(["taskset", "-a", "-p", "-c", "0", str(pid)], capture_output=True)
                result["worker_cores"] = sorted({tuple(os.sched_getaffinity(pid)) for pid in workers})
            result["worker_processes"] = len(workers)
            # The first run of these settings measures their speed in the background: let it.
            for name, value in (("epochs", epochs), ("train_size", train_size), ("batch_size", 32)):
                box = first.locator(f'input[aria-label="{TITLES[name]}"]')
                box.fill(str(value))
                box.press("Tab")
                first.wait_for_timeout(800)
            first.get_by_role("button", name="Start training").click()
            first.get_by_role("button", name="Stop").wait_for(timeout=60_000)
            if not tabs:
                first.goto("about:blank")  # nobody watches
            watchers = [first] if tabs else []
            for _ in range(max(0, tabs - 1)):
                page = context.new_page()
                page.goto(url + "/train")
                watchers.append(page)
            peak_rss = 0.0
            # Wait for the second epoch to begin, then check that every tab's progress moves.
            while True:
                peak_rss = max(peak_rss, _rss_mb(server.pid))
                _, status, history = _status(runs)
                if len(history.get("epochs", [])) >= 1:
                    break
                time.sleep(0.5)
            def progress_texts():
                texts = []
                for page in watchers:
                    bar = page.locator('[data-testid="stProgress"] p').first
                    try:
                        texts.append(bar.inner_text(timeout=3000))
                    except Exception:
                        texts.append(None)
                return texts
            cpu_start, wall_start = _cpu_seconds(server.pid), time.perf_counter()
            before = progress_texts() if tabs else []
            time.sleep(4)
            after = progress_texts() if tabs else []
            result["every_tab_moved"] = all(a and b and a != b for a, b in zip(before, after)) if tabs else None
            # A new tab's Data page, while the run trains.
            newcomer = context.new_page()
            started = time.perf_counter()
            newcomer.goto(url + "/data")
            newcomer.locator('[data-testid="stMain"] img').first.wait_for(timeout=120_000)
            result["new_tab_data_seconds"] = round(time.perf_counter() - started, 2)
            newcomer.close()
            while True:
                peak_rss = max(peak_rss, _rss_mb(server.pid))
                _, status, history = _status(runs)
                if len(history.get("epochs", [])) >= min(3, epochs - 1):  # Stop while it still trains
                    break
                time.sleep(0.5)
            # The server's own share of a core while the run trains and the tabs watch.
            result["server_cpu_share"] = round((_cpu_seconds(server.pid) - cpu_start)
                                               / (time.perf_counter() - wall_start), 3)
            control = watchers[0] if tabs else context.new_page()
            if not tabs:
                control.goto(url + "/train")
            stop = control.get_by_role("button", name="Stop")
            stop.wait_for(timeout=180_000)
            started = time.perf_counter()
            stop.click()
            while _status(runs)[1].get("status") not in ("stopped", "completed", "failed", "interrupted"):
                time.sleep(0.05)
            result["stop_seconds"] = round(time.perf_counter() - started, 2)
            result["stopped_as"] = _status(runs)[1].get("status")
            browser.close()
        seconds = [e["seconds"] for e in _status(runs)[2]["epochs"] if not e.get("partial")]
        result["epoch_seconds"] = seconds
        result["median_epoch_seconds"] = round(statistics.median(seconds[1:] or seconds), 2)
        result["server_peak_rss_mb"] = round(peak_rss, 1)
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tabs", default="0,1,5,10", help="comma-separated numbers of watching tabs")
    parser.add_argument("--no-pin", action="store_true", help="let everything use every core")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--train-size", type=int, default=2000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if not args.no_pin:
        os.sched_setaffinity(0, {1})  # this process, Chromium and the server on core 1
    results = []
    for n in [int(t) for t in args.tabs.split(",")]:
        try:
            r = scenario(n, not args.no_pin, args.epochs, args.train_size)
        except Exception as exc:  # a scenario that could not finish is reported, the others still run
            r = {"tabs": n, "pinned": not args.no_pin, "error": f"{type(exc).__name__}: {str(exc)[:300]}"}
        print(json.dumps(r), file=sys.stderr if args.json else sys.stdout, flush=True)
        results.append(r)
    base = next((r["median_epoch_seconds"] for r in results if r["tabs"] == 0), None)
    for r in results:
        if "median_epoch_seconds" in r:
            r["epoch_ratio"] = round(r["median_epoch_seconds"] / base, 3) if base else None
    if args.json:
        print(json.dumps({"class": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
