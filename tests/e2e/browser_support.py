"""A real `streamlit run app.py` on a free localhost port, and Debian's Chromium driven by Playwright."""

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from cifar_core.config.hparams import TRAINING_HPARAMS
from cifar_core.runs.store import RUN_ID

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT.parent / "shared" / "data" / "cifar-10-python-subset.tar.gz"
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).parent / "artifacts"
AXE = Path(__file__).parent / ".axe" / "node_modules" / "axe-core" / "axe.min.js"  # npm's axe-core (.ci/run)
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(runs_dir, log_path, port=None, **env):
    """`env`: more environment variables for the server (a teacher's password)."""
    restart, port = port is not None, port or free_port()
    # Its workers' TensorFlow computes on one thread: a run watched in the browser leaves a core to
    # Chromium and to the other test process (the browser tests check what is shown, not how fast).
    env = dict(os.environ, CIFAR_CORE_RUNS=str(runs_dir), CIFAR10_PATH=str(SAMPLE), PYTHONUNBUFFERED="1",
               TF_NUM_INTRAOP_THREADS="1", **env)
    log = open(log_path, "ab" if restart else "wb")  # a restart on the same port appends
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                             "--server.address", "127.0.0.1", "--server.headless", "true"],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.3)
        if proc.poll() is not None:
            break
    proc.kill()
    raise RuntimeError(f"streamlit did not become healthy; see {log_path}")


def choose(page, label, option):
    """Pick `option` in the selectbox or multiselect labelled `label`. A rerun that redraws the widget
    closes a list that was just opened, so opening is tried again; a multiselect may open on the
    keyboard only."""
    box = page.locator(f'input[role="combobox"][aria-label="{label}"]')
    multi = box.get_attribute("aria-multiselectable") == "true" or page.get_by_test_id("stMultiSelect").filter(
        has=box).count() > 0
    for attempt in range(4):
        box.click()
        if box.get_attribute("aria-expanded") != "true":
            box.press("ArrowDown")
        try:
            page.get_by_role("option", name=option, exact=True).click(timeout=5_000)
            break
        except Exception:  # Playwright's TimeoutError: the list closed under us
            if attempt == 3:
                raise
            page.wait_for_timeout(500)
    if multi:  # a multiselect's list stays open; Escape in a clearable selectbox would clear it
        page.keyboard.press("Escape")


def stop_server(proc):
    """SIGTERM, and SIGKILL if the server has not stopped within 30 s (a busy 2-core machine)."""
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=30)


class Watched:
    """A page that records console errors and uncaught exceptions, and takes named screenshots."""

    def __init__(self, page, prefix, replaced_images=False):
        """`replaced_images`: a test that changes an image grid and leaves at once may see Streamlit
        drop the old grid's files while the browser still fetches them (404s for /media/ and their
        console lines); the new grid shows. Every other failed response still counts."""
        self.page, self.prefix, self.errors = page, prefix, []
        self.replaced_images = replaced_images
        self.deep_link_probes = 0
        self.started = time.monotonic()
        page.on("console", lambda m: self._error(f"console: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: self._error(f"pageerror: {e}"))
        page.on("response", lambda r: self._error(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)

    def open(self, url):
        """Go to `url`, a deep link such as /evaluate?run=ID. Streamlit's client opened there first
        probes `<page>/_stcore/health` and `host-config` (two 404s, and their two console lines)."""
        self.deep_link_probes = 2
        self.page.goto(url)

    def _error(self, text):
        if re.fullmatch(r"HTTP 404: http://[^/]+/\w+/_stcore/(health|host-config)", text):
            return
        if self.deep_link_probes and text == "console: Failed to load resource: the server responded with a " \
                "status of 404 (Not Found)":
            self.deep_link_probes -= 1
            return
        if self.replaced_images and ("/media/" in text or text == "console: Failed to load resource: the "
                                     "server responded with a status of 404 (Not Found)"):
            return
        self.errors.append(text)

    def shot(self, name):
        """A screenshot of the whole page: Streamlit scrolls inside its main block, not the body,
        so the viewport is stretched to the content's height for the shot."""
        size = self.page.viewport_size
        height = self.page.evaluate("document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
        self.page.set_viewport_size({"width": size["width"], "height": max(size["height"], min(height, 12000))})
        self.page.wait_for_function(  # charts and tables drawn, not placeholders
            """() => [...document.querySelectorAll('[data-testid="stPlotlyChart"]')]
                       .every(c => c.querySelector('.main-svg'))""", timeout=30_000)
        self.page.wait_for_timeout(300)  # the resized layout settles
        self.page.screenshot(path=str(ARTIFACTS / f"{self.prefix}_{name}.png"), full_page=True)
        self.page.set_viewport_size(size)
        # When each step was reached: where a slow test spends its time.
        print(f"{self.prefix}_{name} at {time.monotonic() - self.started:.1f} s")

    def audit(self, name):
        """axe-core over the whole page: no critical or serious violation (images without alternative
        text, contrast, names of controls, ...). Moderate ones are reported in the failure too."""
        if not self.page.evaluate("() => typeof window.axe !== 'undefined'"):
            self.page.add_script_tag(content=AXE.read_text())
        violations = self.page.evaluate("""async () => (await axe.run(document, {resultTypes: ['violations']}))
            .violations.map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.length,
                                   first: v.nodes[0].target.join(' ').slice(-160)}))""")
        bad = [v for v in violations if v["impact"] in ("critical", "serious")]
        assert not bad, f"axe-core on {name}: {violations}"
        return violations

    def assert_clean(self):
        exceptions = self.page.locator('[data-testid="stException"]')
        assert exceptions.count() == 0, exceptions.first.inner_text()
        assert not self.errors, self.errors


VIEWPORT = {"width": 1366, "height": 768}  # a classroom projector
TITLES = {spec.name: spec.title for spec in TRAINING_HPARAMS}  # the widgets' labels: "Training images"
CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def go(page, name):
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=name, exact=True).click()


def click_in_expander(page, title, button, attempts=4):
    """Open the expander titled `title` and click `button` in it, once the page has stopped
    rerunning. A rerun that changes what comes before the expander draws it again, closed, and on a
    loaded machine that rerun may still be under way when the page looks idle: each try opens it
    again."""
    summary = page.locator('[data-testid="stExpander"] summary', has_text=title)
    for attempt in range(attempts):
        wait_idle(page)
        try:
            if not button.is_visible():
                summary.click(timeout=10_000)
            button.click(timeout=10_000)
            return
        except Exception:  # Playwright's TimeoutError: the expander or the button was replaced
            if attempt == attempts - 1:
                raise
            page.wait_for_timeout(1_000)


def press_until(page, button, done, attempts=6):
    """Click `button` until `done()` holds. A live view redraws every second, and on a loaded machine
    a click may find the button replaced or the page too busy to take it within one try; a second
    click on a button whose first click arrived does no harm here (Stop, for one)."""
    for _ in range(attempts):
        if done():
            return
        try:
            button.click(timeout=10_000)
        except Exception:  # Playwright's TimeoutError: tried again below
            pass
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not done():
            page.wait_for_timeout(300)
    assert done(), f"{button} was clicked {attempts} times to no effect"


def select_row(page, row):
    """Tick row `row` (1 = the first) of the Runs table: its cells are drawn on a canvas."""
    table = page.get_by_test_id("stDataFrame").last
    table.scroll_into_view_if_needed()
    box = table.bounding_box()
    page.mouse.click(box["x"] + 14, box["y"] + 35 * row + 17)  # the tick column; rows of 35 px under a header
    wait_idle(page)


def wait_idle(page):
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=120_000)


def number(page, label):
    """A number box of the page as drawn now: while a rerun is under way, Streamlit keeps the previous
    run's elements on screen, marked stale (another architecture's box of the same name)."""
    return page.locator(f'[data-stale="false"] input[type="number"][aria-label="{label}"]')


def set_number(page, label, value):
    box = page.get_by_label(label, exact=True)
    box.fill(str(value))
    box.press("Enter")
    wait_idle(page)


def open_train(page):
    go(page, "Train")
    page.get_by_role("heading", name="Train").wait_for(timeout=90_000)
    wait_idle(page)


def press_start(page, runs):
    """Press Start training until a new run's folder appears in `runs`; its name. A press that lands
    while the page reruns may be lost; it is pressed again only once the page has stayed idle with no
    new run (a press that arrived creates its folder before its rerun ends)."""
    def names():
        return {p.name for p in runs.iterdir() if p.is_dir() and RUN_ID.match(p.name)} if runs.is_dir() else set()
    before = names()
    for _ in range(3):
        page.get_by_role("button", name="Start training").click()
        deadline = time.monotonic() + 20
        while not names() - before and time.monotonic() < deadline:
            page.wait_for_timeout(500)
        for _ in range(2):  # idle twice, a second apart: not the gap between two reruns
            if not names() - before:
                wait_idle(page)
                page.wait_for_timeout(1_000)
        if new := names() - before:
            return max(new)
    shown = " ".join(text for kind in ("stAlertContentError", "stException")
                     for text in page.get_by_test_id(kind).all_inner_texts())
    raise AssertionError(f"Start training was pressed three times and no run was created. The page says: {shown!r}")


def start_run(page, runs, train_size, epochs, queued=False):
    """Set a small run on the Train page and press Start; wait until the page shows it, and return
    its name. While a run trains, the settings are folded under the live view: unfold them first."""
    folded = page.get_by_text("Settings for another run")
    folded.or_(page.get_by_role("button", name="Start training")).first.wait_for(timeout=60_000)
    if folded.count() and not page.get_by_label(TITLES["train_size"], exact=True).is_visible():
        folded.click()
    set_number(page, TITLES["train_size"], train_size)
    set_number(page, TITLES["epochs"], epochs)
    run_id = press_start(page, runs)
    page.get_by_text(re.compile(r"— queued" if queued else r"Run \d{8}-\d{6}-seed_cnn")).first.wait_for(timeout=60_000)
    return run_id


def progress_text(page):
    return page.get_by_test_id("stProgress").first.inner_text(timeout=60_000)


def loss_curve(page):
    """The drawn path of the per-batch training loss in the live loss chart."""
    line = page.locator(".js-plotly-plot").first.locator(".scatterlayer .js-line").first
    line.wait_for(timeout=60_000)
    return line.get_attribute("d")
