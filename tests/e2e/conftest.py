"""Fixtures for the browser tests: skip where Chromium or the CIFAR-10 sample is absent; one browser, and
one dashboard shared by every test that does not stop it."""

import signal
import time
from pathlib import Path

import psutil
import pytest
from browser_support import ARTIFACTS, AXE, CHROMIUM, CHROMIUM_ARGS, SAMPLE, start_server, stop_server

from cifar_core.runs.store import ACTIVE, RunStore


def pytest_collection_modifyitems(items):
    # One pytest-xdist process runs them all, one after another: they share a browser and a server.
    for item in items:
        if "e2e" in item.path.parts:
            item.add_marker(pytest.mark.xdist_group("browser"))


@pytest.fixture(scope="session")
def e2e_env(tmp_path_factory):
    if not SAMPLE.is_file():
        pytest.skip(f"the real CIFAR-10 sample is absent ({SAMPLE})")
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")
    if not AXE.is_file():
        pytest.skip("axe-core is not installed (npm install --prefix tests/e2e/.axe axe-core@4.14.1)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return tmp_path_factory.mktemp("e2e")


@pytest.fixture(scope="session")
def browser(e2e_env):
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
    print(f"\nscreenshots in {ARTIFACTS}")


class SharedServer:
    """One `streamlit run app.py` for the session: each test's runs are the newest in its folder, and
    each test reads only the part of the server's log written while it ran."""

    def __init__(self, runs, log):
        self.runs, self.log = runs, log
        self.proc, self.url = start_server(runs, log)
        self.unchecked = []  # log spans written by a killed server's orphaned workers


    def log_size(self):
        return self.log.stat().st_size

    def log_since(self, offset):
        """The log written since `offset`, less what a killed server's orphaned workers wrote while
        they lost their scheduler (their tracebacks reach the terminal, never a page)."""
        with open(self.log, "rb") as f:
            f.seek(offset)
            data = f.read()
        for start, end in reversed(self.unchecked):
            start, end = max(start - offset, 0), max(end - offset, 0)
            data = data[:start] + data[end:]
        return data.decode(errors="replace")

    def newest_run(self):
        return max((p for p in self.runs.iterdir() if p.is_dir()), key=lambda p: p.name)

    def wait_for_next_run(self, after, timeout=300):
        """The name of the first run newer than `after`, once it has ended; its status must be completed."""
        store, deadline = RunStore(self.runs), time.monotonic() + timeout
        while time.monotonic() < deadline:
            newest = self.newest_run().name
            if newest > after and store.status(newest)["status"] not in ACTIVE:
                assert store.status(newest)["status"] == "completed", store.status(newest)
                return newest
            time.sleep(0.5)
        raise AssertionError(f"no run after {after} ended within {timeout} s")

    def busy(self):
        """Whether a run is still queued or training (a test that failed half-way left it), as the
        run store reads it: a run whose server died reads as interrupted."""
        store = RunStore(self.runs)
        return any(store.status(path.name)["status"] in ACTIVE for path in self.runs.iterdir() if path.is_dir())

    def restart(self, kill=False):
        """A new server on the same port and runs folder; `kill`: the old one dies at once (SIGKILL)."""
        if kill:
            start, workers = self.log_size(), psutil.Process(self.proc.pid).children(recursive=True)
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)
            _, alive = psutil.wait_procs(workers, timeout=60)  # they notice the lost scheduler and exit
            for worker in alive:
                worker.kill()
            self.unchecked.append((start, self.log_size()))
        else:
            stop_server(self.proc)
        self.proc, self.url = start_server(self.runs, self.log, port=int(self.url.rsplit(":", 1)[1]))


@pytest.fixture(scope="session")
def shared_server(e2e_env):
    server = SharedServer(e2e_env / "runs-shared", ARTIFACTS / "server-shared.log")
    yield server
    stop_server(server.proc)


def close_pages(browser):
    """An open Train page keeps asking its server for updates, and Chromium keeps drawing it, which
    slows the tests after it; a page left open on a server that restarts reconnects to it."""
    for context in browser.contexts:
        context.close()


@pytest.fixture(autouse=True)
def closed_pages(browser):
    """Every test's pages are closed when it ends."""
    yield
    close_pages(browser)


@pytest.fixture
def dashboard(shared_server, browser):
    """The shared dashboard for one test: its pages are closed first, before a restart, and the
    server logged no traceback or warning meanwhile."""
    offset = shared_server.log_size()
    yield shared_server
    close_pages(browser)
    log = shared_server.log_since(offset)
    if shared_server.busy():  # the next test would wait behind it: a restart ends it (interrupted)
        shared_server.restart()
    assert "Traceback" not in log and "Session State API" not in log, log[-3000:]
