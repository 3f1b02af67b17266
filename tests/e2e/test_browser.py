"""End to end in Chromium: what a user does, from Home to Feature maps. Several users at once are
in test_class.py."""

import io
import re
import shutil
import time
from pathlib import Path

import pytest
from browser_support import (
    CLASSES,
    VIEWPORT,
    Watched,
    choose,
    go,
    loss_curve,
    open_train,
    press_until,
    progress_text,
    select_row,
    start_run,
    wait_idle,
)
from PIL import Image
from playwright.sync_api import expect

from cifar_core import i18n
from cifar_core.runs.store import RunStore, new_run_id

pytestmark = pytest.mark.slow  # a real server, Chromium and trainings


def test_a_user_goes_through_every_page(browser, dashboard, tmp_path):
    url = dashboard.url
    page = browser.new_page(viewport=VIEWPORT)
    w = Watched(page, "user")
    page.goto(url)
    page.get_by_role("heading", name="Convolutional networks on CIFAR-10").wait_for(timeout=60_000)
    w.assert_clean()
    w.audit("Home")
    w.shot("1_home")

    go(page, "Data")
    page.get_by_text("Sample images").wait_for(timeout=60_000)
    page.get_by_text(re.compile(r"Ready: 4,660 training")).wait_for()
    wait_idle(page)
    page.get_by_test_id("stImage").nth(36).wait_for(timeout=30_000)  # the 6×6 sample grid and the enlarged one
    chart = page.locator(".js-plotly-plot").first
    chart.scroll_into_view_if_needed()
    chart.locator(".xtick").first.wait_for(timeout=30_000)
    assert chart.locator(".xtick text").all_text_contents() == CLASSES  # the class-count bars
    w.assert_clean()
    w.audit("Data")
    w.shot("2_data")

    open_train(page)
    # Far more epochs than it trains: the live view is watched, then the run stopped, on any machine.
    run_id = start_run(page, dashboard.runs, 400, 300)
    # The live view moves without a click: the progress text and the per-batch loss curve change.
    page.get_by_text(re.compile(r"batch [1-9]\d*/\d+")).wait_for(timeout=120_000)
    first, curve = progress_text(page), loss_curve(page)
    page.wait_for_function("t => !document.body.innerText.includes(t)", arg=first, timeout=60_000)
    deadline = time.monotonic() + 60  # the chart redraws on its own clock: wait for it, never a fixed time
    while loss_curve(page) == curve and time.monotonic() < deadline:
        page.wait_for_timeout(500)
    assert progress_text(page) != first and loss_curve(page) != curve
    # The Runs table below moves too, without a click: the run's row was drawn at 0/300 when it started.
    page.get_by_test_id("stDataFrame").last.scroll_into_view_if_needed()
    page.wait_for_function("""() => [...document.querySelectorAll('[data-testid=stDataFrame] [role=gridcell]')]
                                    .some(c => /^[1-9]\\d*\\/300$/.test(c.textContent))""", timeout=120_000)
    w.shot("3_training")

    go(page, "Data")  # leave while it trains, then come back
    page.get_by_test_id("stImage").nth(36).wait_for(timeout=60_000)
    page.wait_for_load_state("networkidle")
    go(page, "Train")
    page.get_by_text(re.compile(r"Run \d{8}-\d{6}-seed_cnn-\w+\*\* — |Run \d{8}")).first.wait_for(timeout=60_000)
    page.get_by_text(re.compile(r"Epoch ([3-9]|\d\d+) of 300")).first.wait_for(timeout=300_000)  # two saved
    stopped = page.get_by_text(re.compile(r"— stopped"))
    press_until(page, page.get_by_role("button", name="Stop").first, lambda: stopped.count() > 0, attempts=12)
    wait_idle(page)
    w.assert_clean()
    w.audit("Train")
    w.shot("4_trained")

    # A run that appears meanwhile (another student's) moves the rows under a selection: the selection
    # is dropped, never moved onto a run nobody chose.
    watch = page.get_by_role("button", name="Watch this run")
    select_row(page, 1)
    watch.wait_for(timeout=30_000)
    shutil.copytree(dashboard.runs / run_id, dashboard.runs / new_run_id("seed_cnn"))
    page.get_by_text("My runs only").click()  # a full run of the page: the table is listed again
    wait_idle(page)
    page.get_by_text("Select rows to compare their curves").wait_for(timeout=30_000)
    expect(watch).to_have_count(0)
    page.get_by_text("My runs only").click()
    wait_idle(page)

    w.open(f"{url}/evaluate?run={run_id}")
    page.get_by_text("Test accuracy", exact=True).wait_for(timeout=120_000)
    wait_idle(page)
    before = page.get_by_text(re.compile(r"^\d+ test images of")).inner_text()
    # Click the cell (true cat, predicted dog) of the matrix: row 4, column 6 of 10.
    matrix = page.locator(".js-plotly-plot").first
    matrix.locator(".scatterlayer .points").first.wait_for(timeout=30_000)
    matrix.scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    area = matrix.locator(".nsewdrag").first.bounding_box()
    page.mouse.click(area["x"] + area["width"] * 5.5 / 10, area["y"] + area["height"] * 3.5 / 10)
    page.wait_for_function("t => !document.body.innerText.includes(t)", arg=before, timeout=30_000)
    wait_idle(page)
    assert "test images of cat predicted as dog" in page.inner_text("body")
    w.assert_clean()
    w.audit("Evaluate")
    w.shot("5_evaluate")

    # The fullest cell of the matrix: its images come 30 a page, and the count says so.
    cells = RunStore(dashboard.runs).evaluation(run_id)["cells"]  # derived from the stored arrays
    sizes = {(t, p): len(cell) for t, row in enumerate(cells) for p, cell in enumerate(row)}
    (true, pred), size = max(sizes.items(), key=lambda item: item[1])
    assert size > 30, sizes  # 932 test images in 100 cells after a short run: one holds more than 30
    for label, index in (("True class", true), ("Predicted class", pred)):
        choose(page, label, CLASSES[index])
        page.wait_for_timeout(400)
        wait_idle(page)
    page.get_by_text(f"{size} test images of {CLASSES[true]} predicted as {CLASSES[pred]}").wait_for()
    page.get_by_text(f"Images 1–30 of {size}.").wait_for(timeout=30_000)
    page.get_by_role("button", name="Page 2", exact=True).click()
    page.get_by_text(f"Images 31–{min(60, size)} of {size}.").wait_for(timeout=30_000)
    wait_idle(page)
    w.assert_clean()
    w.shot("5b_cell_page_2")

    w.open(f"{url}/feature_maps?run={run_id}")
    page.get_by_text("block1_conv1").first.wait_for(timeout=120_000)
    wait_idle(page)
    w.assert_clean()
    w.audit("Feature maps")
    w.shot("6_feature_maps")
    page.get_by_text("Upload a photo").click()
    wait_idle(page)
    buf = io.BytesIO()
    photo = Image.new("RGB", (300, 200), (40, 120, 200))  # sky, a green field and a red roof
    photo.paste((60, 160, 60), (0, 130, 300, 200))
    photo.paste((200, 40, 30), (110, 70, 190, 130))
    photo.save(buf, format="PNG")
    page.locator('input[type="file"]').set_input_files(
        {"name": "sky.png", "mimeType": "image/png", "buffer": buf.getvalue()})
    page.get_by_text("your photo sky.png").wait_for(timeout=60_000)
    wait_idle(page)
    page.locator('[data-testid="stSidebar"] .js-plotly-plot .gtitle', has_text="Top-5 predictions").wait_for(timeout=30_000)
    page.get_by_text("block1_conv1").first.wait_for(timeout=60_000)  # the layers of the photo
    w.assert_clean()
    w.audit("Feature maps with a photo")
    w.shot("7_upload")
    # Every page was used with a trained run: the server process never loaded TensorFlow.
    assert "libtensorflow" not in Path(f"/proc/{dashboard.proc.pid}/maps").read_text()

    korean_class_walk(browser, url, run_id)


def korean_class_walk(browser, url, run_id):
    """Every page again in Korean, in a browser set to Korean, as a Korean class sees it: the headings,
    the document's language for screen readers, the charts' words, and the audit."""
    korean = i18n.translations("ko").gettext
    page = browser.new_context(viewport=VIEWPORT, locale="ko-KR").new_page()
    w = Watched(page, "korean")
    # (address, page title, whether its first chart names the classes)
    walk = [("", "Convolutional networks on CIFAR-10", False), ("data", "Data", True), ("train", "Train", False),
            (f"evaluate?run={run_id}&", "Evaluate", True), (f"feature_maps?run={run_id}&", "Feature maps", False),
            ("class_board", "Class board", False)]
    for step, (path, title, classes) in enumerate(walk, 1):
        w.open(f"{url}/{path}{'' if path.endswith('&') else '?'}lang=ko")
        page.get_by_role("heading", name=korean(title), exact=True).wait_for(timeout=120_000)
        wait_idle(page)
        page.wait_for_function("() => document.documentElement.lang === 'ko'", timeout=30_000)
        assert re.search("[가-힣]", page.inner_text("[data-testid='stSidebarNav']"))
        if classes:  # the chart's axes name CIFAR-10's classes in Korean
            airplane = page.locator(".xtick text", has_text=korean("airplane"))
            chart = page.locator(".js-plotly-plot", has=airplane).first
            chart.scroll_into_view_if_needed(timeout=60_000)
            assert chart.locator(".xtick text").all_text_contents() == [korean(name) for name in CLASSES]
        w.assert_clean()
        w.audit(f"{title} in Korean")
        w.shot(f"{step}_{title.lower().replace(' ', '_')}")

