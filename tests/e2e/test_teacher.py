"""What a teacher does first, on a projector (1366×768): a deep link, settings edited, the page left
and re-entered, an impossible value, a run started and watched without scrolling."""

import json
import re

import pytest
from browser_support import ARTIFACTS, Watched, choose, go, number, open_train, press_start, wait_idle
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from cifar_core.config.architectures import ARCHITECTURES
from cifar_core.config.hparams import TRAINING_HPARAMS
from cifar_core.config.presets import PRESETS

pytestmark = pytest.mark.slow  # a real server, Chromium and trainings

PROJECTOR = {"width": 1366, "height": 768}

# The widgets' labels are the settings' titles ("Training images"), never their names.
LABELS = {spec.name: spec.title for spec in (*ARCHITECTURES["seed_cnn"].hparams, *ARCHITECTURES["vgg16_transfer"].hparams,
                                             *TRAINING_HPARAMS)}
# Every Train setting of the plain CNN, changed from its default: (label, kind, new value).
EDITS = [(LABELS[name], kind, value) for name, kind, value in (
    ("width", "number", "0.50"), ("dense_units", "number", "64"), ("dropout", "number", "0.20"),
    ("epochs", "number", "4"), ("batch_size", "number", "32"), ("optimizer", "select", "sgd"),
    ("learning_rate", "slider", "0.003"), ("train_size", "number", "400"), ("val_split", "number", "0.20"),
    ("augment", "multi", "flip"), ("patience", "number", "3"), ("seed", "number", "5"),
)]


def edit(page, label, kind, value):
    if kind == "number":
        box = number(page, label)
        box.fill(value)
        box.press("Enter")
    elif kind in ("select", "multi"):
        choose(page, label, value)
    else:  # a select slider (the learning rate): step right until it shows the value
        for _ in range(12):
            if shown(page, label, kind) == value:
                break
            slider(page, label).press("ArrowRight")
            settle(page)
    settle(page)


def settle(page):
    """Let the rerun a change triggers begin, then wait for it to end."""
    page.wait_for_timeout(400)
    wait_idle(page)


def combobox(page, label):
    return page.locator(f'input[role="combobox"][aria-label="{label}"]')


def slider(page, label):
    return page.locator(f'input[type="range"][aria-label="{label}"]')


def shown(page, label, kind):
    """What the widget shows in the browser, not what the server holds."""
    if kind == "number":
        return number(page, label).input_value()
    if kind == "select":
        return combobox(page, label).input_value()
    if kind == "slider":
        return slider(page, label).get_attribute("aria-valuetext")
    tags = page.get_by_test_id("stMultiSelect").filter(has=combobox(page, label))
    return tags.get_by_test_id("stMultiSelectTagsContainer").inner_text().strip()


def test_settings_survive_leaving_the_page_and_train_as_shown(browser, dashboard):
    url = dashboard.url
    # The first visitor arrives on a deep link: the page comes with app.py's navigation. (Streamlit's
    # client first probes /train/_stcore/... and gets 404s, so this page is not watched for errors.)
    first = browser.new_page(viewport=PROJECTOR)
    first.goto(url + "/train")
    first.get_by_role("heading", name="Train").wait_for(timeout=120_000)
    first.get_by_test_id("stSidebarNav").get_by_role("link", name="Feature maps").wait_for(timeout=30_000)
    first.close()

    page = browser.new_page(viewport=PROJECTOR)
    w = Watched(page, "teacher", replaced_images=True)  # the Data page's grid is reseeded
    page.goto(url)
    open_train(page)

    for label, kind, value in EDITS:
        edit(page, label, kind, value)
    go(page, "Data")
    page.get_by_text("Sample images").wait_for(timeout=60_000)
    wait_idle(page)
    page.wait_for_load_state("networkidle")  # the images loaded before the grid is redrawn
    edit(page, "Seed", "number", "5")
    page.wait_for_load_state("networkidle")
    open_train(page)
    wanted = {label: value for label, _, value in EDITS}
    for _ in range(20):  # what the browser shows, once the page has settled
        seen = {label: shown(page, label, kind) for label, kind, _ in EDITS}
        if seen == wanted:
            break
        page.wait_for_timeout(500)
    assert seen == wanted
    w.shot("1_settings_kept")

    # An impossible value: named with its range, and Start refuses.
    edit(page, LABELS["epochs"], "number", "600")
    page.get_by_text(f"{LABELS['epochs']} must be between 1 and 500, got 600.").wait_for(timeout=30_000)
    expect(page.get_by_role("button", name="Start training")).to_be_disabled()
    w.shot("2_refused")
    edit(page, LABELS["epochs"], "number", "40")  # still training when it is watched, on any machine
    expect(page.get_by_role("button", name="Start training")).to_be_enabled(timeout=30_000)

    go(page, "Data")  # the Data page's seed came back too
    page.get_by_text("Sample images").wait_for(timeout=60_000)
    wait_idle(page)
    expect(number(page, "Seed")).to_have_value("5")
    page.wait_for_load_state("networkidle")
    open_train(page)
    press_start(page, dashboard.runs)

    # On a projector the run's progress and both curves are in view without scrolling.
    page.get_by_text(re.compile(r"batch [1-9]\d*/\d+")).wait_for(timeout=120_000)
    page.wait_for_timeout(2_000)
    for _ in range(20):  # the live view redraws about every 1.5 s: measure it between two redraws
        boxes = [box.bounding_box() for box in (page.get_by_test_id("stProgress").first,
                                                 *page.locator('[data-testid="stPlotlyChart"]').all()[:2])]
        if len(boxes) == 3 and all(boxes):
            break
        page.wait_for_timeout(300)
    for area in boxes:
        assert area and area["y"] >= 0 and area["y"] + area["height"] <= PROJECTOR["height"], boxes
    page.screenshot(path=str(ARTIFACTS / "teacher_3_projector.png"))  # the screen as the class sees it
    # Chart text is readable from the back of the room: at least 14 px.
    for _ in range(20):  # a redraw may have removed the axes' text for a moment
        sizes = page.evaluate("""() => [...document.querySelectorAll('.js-plotly-plot .xtick text, .js-plotly-plot .ytick text, .js-plotly-plot .g-xtitle text')]
                                 .map(t => parseFloat(getComputedStyle(t).fontSize))""")
        if sizes:
            break
        page.wait_for_timeout(300)
    assert sizes and min(sizes) >= 14, sizes

    # Stopped now, unless early stopping (patience 3) ended it first: either way it has ended.
    try:
        page.get_by_role("button", name="Stop").first.click(timeout=5_000)
    except PlaywrightTimeout:
        pass
    page.get_by_text(re.compile(r"— (stopped|completed)")).wait_for(timeout=120_000)
    wait_idle(page)
    w.assert_clean()
    run_dir = dashboard.newest_run()
    config = json.loads((run_dir / "config.json").read_text())
    assert config["hparams"] == {"width": 0.5, "dense_units": 64, "dropout": 0.2}
    training = config["training"]
    assert (training["epochs"], training["batch_size"], training["optimizer"], training["train_size"],
            training["val_split"], training["augment"], training["patience"], training["seed"]) == \
        (40, 32, "sgd", 400, 0.2, ["flip"], 3, 5)
    assert abs(training["learning_rate"] - 3e-3) < 1e-12
    w.shot("4_done")


def test_a_preset_then_an_edit_keeps_the_preset(browser, dashboard):
    url = dashboard.url
    page = browser.new_page(viewport=PROJECTOR)
    # Each preset and edit redraws the augmentation preview: the browser may still fetch a grid the
    # server has already replaced (a 404 for /media/; the new grid shows).
    w = Watched(page, "preset", replaced_images=True)
    page.goto(url)
    open_train(page)
    # The notebook's full run: its own settings, with no time budget to fit.
    choose(page, "Preset (one click reproduces a notebook)", PRESETS["vgg16_full"]["title"])
    expect(number(page, LABELS["epochs"])).to_have_value("10", timeout=30_000)
    settle(page)
    edit(page, LABELS["train_size"], "number", "300")
    for name, value in (("dense_units", "256"), ("epochs", "10"), ("patience", "3"), ("train_size", "300")):
        expect(number(page, LABELS[name])).to_have_value(value, timeout=30_000)
    # Offline, the ImageNet weights cannot come: random initialisation is one click away.
    page.get_by_role("button", name="Use random initialisation").click()
    expect(page.get_by_label(LABELS["weights"], exact=True)).to_have_value("none")
    w.assert_clean()
