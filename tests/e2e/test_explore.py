"""End to end in Chromium: your own images, the time-lapse of a running run, Grad-CAM from a
mistake, a run shared as a link, a recipe and a Keras script, and its epochs one by one."""

import io
import json
import re
import zipfile

import pytest
from browser_support import (
    TITLES,
    VIEWPORT,
    Watched,
    choose,
    click_in_expander,
    go,
    number,
    open_train,
    press_start,
    press_until,
    set_number,
    wait_idle,
)
from PIL import Image
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

pytestmark = pytest.mark.slow  # a real server, Chromium and trainings

COLOURS = {"red": (220, 30, 30), "green": (30, 200, 60), "blue": (40, 60, 220)}


def class_folders_zip(per_class=40):
    """A .zip of three class folders of 40×40 PNGs: a coloured square on grey noise."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for i in range(per_class * len(COLOURS)):
            name, colour = list(COLOURS.items())[i % len(COLOURS)]
            image = Image.effect_noise((40, 40), 30).convert("RGB")
            image.paste(colour, (4 + i % 7, 4 + i % 5, 24 + i % 7, 24 + i % 5))
            png = io.BytesIO()
            image.save(png, format="PNG")
            archive.writestr(f"shapes/{name}/{i:03d}.png", png.getvalue())
        archive.writestr("shapes/red/notes.txt", "not a picture")
    return buf.getvalue()


def test_own_images_time_lapse_grad_cam_and_sharing(browser, dashboard):
    url = dashboard.url
    page = browser.new_page(viewport=VIEWPORT, accept_downloads=True)
    w = Watched(page, "explore", replaced_images=True)
    page.goto(url)
    page.get_by_role("heading", name="Convolutional networks on CIFAR-10").wait_for(timeout=60_000)

    # Your own images: a zip of class folders becomes a dataset, selected at once.
    go(page, "Data")
    page.get_by_text("Sample images").wait_for(timeout=60_000)
    page.get_by_text("Your own images: a .zip of class folders").click()
    page.locator('input[type="file"]').set_input_files(
        {"name": "shapes.zip", "mimeType": "application/zip", "buffer": class_folders_zip()})
    page.get_by_text(re.compile(r"Imported shapes")).wait_for(timeout=60_000)
    page.get_by_text(re.compile(r"1 file that is not an image was")).first.wait_for()
    page.get_by_text("Sample images").wait_for(timeout=60_000)
    wait_idle(page)
    w.assert_clean()
    w.audit("Data with an uploaded set")
    w.shot("1_upload")

    # A long run on it: the time-lapse grows on Feature maps while it trains.
    open_train(page)
    choose(page, "Dataset", "shapes (32×32)")
    wait_idle(page)
    set_number(page, TITLES["batch_size"], 16)
    set_number(page, TITLES["epochs"], 200)
    press_start(page, dashboard.runs)
    page.get_by_text(re.compile(r"Epoch ([3-9]|\d\d+) of 200")).first.wait_for(timeout=180_000)
    # The link the Home page gives: Feature maps of this run (others of the shared server finished).
    w.open(f"{url}/feature_maps?run={dashboard.newest_run().name}")
    page.get_by_role("heading", name="Filters forming, epoch by epoch").wait_for(timeout=120_000)
    page.get_by_text(re.compile(r"Still training: epochs appear here")).wait_for(timeout=60_000)
    # New epochs join the slider without a click (its fragment reads the run's folder every 3 s).
    epochs = page.get_by_test_id("stSlider").filter(has=page.get_by_text("before training"))  # not ε's slider
    ends = epochs.get_by_test_id("stSliderTickBar").text_content()  # "before training…after epoch N"
    assert ends.startswith("before training"), ends
    page.wait_for_function("""t => [...document.querySelectorAll('[data-testid=stSliderTickBar]')]
                                    .some(e => e.textContent.startsWith('before training') && e.textContent !== t)""",
                           arg=ends, timeout=60_000)
    epochs.get_by_role("slider").focus()
    page.keyboard.press("Home")
    page.get_by_text("First-layer filters before training").wait_for(timeout=30_000)
    page.get_by_role("img", name=re.compile(r"^Grad-CAM before training over the probe image")).first.wait_for()
    wait_idle(page)
    # A focused slider shows its end labels in Streamlit's faded grey, below 4.5:1 contrast (its
    # own style, as on every slider); the audit looks at the page as it rests.
    page.evaluate("document.activeElement.blur()")
    page.wait_for_timeout(800)
    w.assert_clean()
    w.audit("Feature maps of a running run")
    w.shot("2_time_lapse_running")
    open_train(page)
    stopped = page.get_by_text(re.compile(r"— stopped"))
    press_until(page, page.get_by_role("button", name="Stop").first, lambda: stopped.count() > 0, attempts=12)

    # A short CIFAR-10 run, then a mistake opened into Grad-CAM.
    open_train(page)
    folded = page.get_by_text("Settings for another run")
    if folded.count() and not page.get_by_label(TITLES["train_size"], exact=True).is_visible():
        folded.click()
    choose(page, "Dataset", "CIFAR-10")
    wait_idle(page)
    set_number(page, TITLES["batch_size"], 64)
    set_number(page, TITLES["train_size"], 400)
    set_number(page, TITLES["epochs"], 2)
    cifar_run = press_start(page, dashboard.runs)
    page.get_by_text(re.compile(r"— completed")).wait_for(timeout=300_000)
    go(page, "Evaluate")
    page.get_by_text("Test accuracy", exact=True).wait_for(timeout=120_000)
    wait_idle(page)
    page.get_by_text("Only mistakes", exact=True).click()
    wait_idle(page)
    page.get_by_role("link", name=re.compile(r"Why\?")).first.click()
    page.get_by_role("heading", name="Where the network looked").wait_for(timeout=120_000)
    page.get_by_text(re.compile(r"^True class: ")).wait_for(timeout=60_000)
    page.get_by_text(re.compile(r"^Predicted: ")).wait_for()
    wait_idle(page)
    assert page.get_by_role("img", name=re.compile(r"^Grad-CAM heatmap over test image")).count() == 2
    w.assert_clean()
    w.audit("Grad-CAM")
    w.shot("3_grad_cam")

    # The same image nudged against its true class, and what the last convolution's filters look for.
    page.get_by_role("button", name=re.compile(r"Find the smallest ε$")).click()
    page.get_by_text(re.compile(r"is the smallest nudge that changes the prediction|changes this prediction: "
                                r"the network is sure")).wait_for(timeout=60_000)
    page.get_by_role("img", name=re.compile(r"after a nudge of ε = ")).wait_for(timeout=30_000)
    page.get_by_role("button", name=re.compile(r"Show what they look for$")).click()
    page.get_by_text(re.compile(r"The first 16 filters of block3_conv2")).wait_for(timeout=60_000)
    wait_idle(page)
    assert page.get_by_role("img", name=re.compile(r"^The input pattern that excites filter")).count() == 16
    w.assert_clean()
    w.audit("Feature maps: the nudge and the filters' patterns")
    w.shot("3b_nudge_and_patterns")

    # Evaluate: calibration, a confused pair's images, the projector, the model for ONNX Runtime.
    go(page, "Evaluate")
    page.get_by_text("Expected calibration error").wait_for(timeout=120_000)
    page.get_by_test_id("stButtonGroup").locator("button", has_text=re.compile(r" taken for .+: \d+$")).first.click()
    page.get_by_text(re.compile(r"test images of .+ the network called")).wait_for(timeout=30_000)
    page.get_by_text(re.compile(r"test images\. PCA keeps")).wait_for(timeout=60_000)
    wait_idle(page)
    converted = page.get_by_role("button", name=re.compile(r"Download .+\.onnx \("))
    for attempt in range(3):  # a press during a rerun may be lost: pressed again if no conversion showed
        click_in_expander(page, "Use the model elsewhere: ONNX, TFLite, SavedModel",
                          page.get_by_role("button", name=re.compile(r"Convert$")))
        try:
            page.get_by_text(re.compile(r"^Converting to onnx")).or_(converted).first.wait_for(timeout=30_000)
            break
        except PlaywrightTimeout:
            if attempt == 2:
                raise
    converted.wait_for(timeout=180_000)
    with page.expect_download(timeout=120_000) as download:
        converted.click()
    assert download.value.path().stat().st_size > 10_000
    wait_idle(page)
    w.assert_clean()
    w.audit("Evaluate: calibration, confused pairs, projector, export")
    w.shot("3c_evaluate_inside")

    # Share the run: its recipe, its Keras script and a link that fills the Train page.
    go(page, "Evaluate")
    page.get_by_text("Test accuracy", exact=True).wait_for(timeout=120_000)
    page.get_by_text("Share this run").click()
    with page.expect_download() as download:
        page.get_by_role("button", name=re.compile("Recipe \\(JSON\\)")).click()
    recipe = json.loads(download.value.path().read_text())
    assert (recipe["dataset"], recipe["arch"], recipe["training"]["train_size"]) == ("cifar10", "seed_cnn", 400)
    with page.expect_download() as download:
        page.get_by_role("button", name=re.compile("Export as a Keras script")).click()
    script = download.value.path().read_text()
    compile(script, "exported.py", "exec")
    assert "import keras" in script and not re.search(r"^\s*(import|from)\s+cifar_core", script, re.M)
    w.shot("4_share")
    page.get_by_role("link", name=re.compile("Train it again")).click()
    page.get_by_text(re.compile(r"Settings from a shared recipe")).wait_for(timeout=90_000)
    wait_idle(page)
    # The boxes show the recipe once the run that fills them has drawn them (retried, not timed).
    expect(number(page, TITLES["train_size"])).to_have_value("400", timeout=30_000)
    expect(number(page, TITLES["epochs"])).to_have_value("2", timeout=30_000)
    w.assert_clean()
    w.audit("Train from a shared recipe")
    w.shot("5_recipe_link")

    # Epoch by epoch on the run's Evaluate page: the slider moves the validation matrix back; Play
    # steps on to the last epoch. (Comparing two runs and the learning-rate search have page tests.)
    w.open(f"{url}/evaluate?run={cifar_run}")
    page.get_by_text("Test accuracy", exact=True).wait_for(timeout=120_000)
    wait_idle(page)
    page.get_by_role("heading", name="Epoch by epoch").scroll_into_view_if_needed()
    page.get_by_text("Validation accuracy after epoch 2").wait_for(timeout=60_000)
    page.get_by_role("slider").last.focus()
    page.keyboard.press("Home")
    page.get_by_text("Validation accuracy before training").wait_for(timeout=30_000)
    page.get_by_role("button", name=re.compile(r"Play$")).click()
    page.get_by_text("Validation accuracy after epoch 1").wait_for(timeout=30_000)
    page.get_by_text("Validation accuracy after epoch 2").wait_for(timeout=30_000)
    page.get_by_role("button", name=re.compile(r"Play$")).wait_for(timeout=30_000)  # it ended on the last
    page.evaluate("document.activeElement.blur()")
    wait_idle(page)
    w.assert_clean()
    w.audit("Evaluate, epoch by epoch")
    w.shot("6b_epochs")
