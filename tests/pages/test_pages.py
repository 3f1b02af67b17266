"""AppTest: every page renders, with no runs and with a finished run; start/stop, matrix, feature maps."""

import io
import re
import shutil
import time

import numpy as np
import pytest
from PIL import Image
from support import evaluated_run, image_captions, open_app, seed_timings, texts, train_in_process, wait_for_estimate

pytestmark = pytest.mark.slow  # every page asks the workers: a cluster starts

PAGES = ["pages/home.py", "pages/data.py", "pages/train.py", "pages/evaluate.py", "pages/feature_maps.py",
         "pages/class_board.py"]
TIMEOUT = 240  # the first page that imports TensorFlow takes a while


@pytest.mark.parametrize("page", [None, *PAGES])
def test_every_page_renders_with_no_runs(page, tmp_path, monkeypatch):
    at = open_app(tmp_path / "runs", monkeypatch, page)
    if page in ("pages/evaluate.py", "pages/feature_maps.py"):
        assert "Train a model first" in texts(at)


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_with_a_finished_run(page, trained_run, monkeypatch):
    store, run_id = trained_run
    open_app(store.root, monkeypatch, page)


HANGUL = re.compile("[가-힣]")
ENGLISH_WORDS = re.compile(r"[A-Za-z]{3,}(?:[ ,'-]+[A-Za-z]{3,}){3,}")  # four English words in a row
WIDGETS = ("button", "selectbox", "multiselect", "slider", "select_slider", "number_input", "text_input", "toggle",
           "checkbox", "radio", "text_area")


def english_left(at):
    """What a Korean page still shows in English: a text with no Hangul and four English words in a row
    outside `code` (a Korean sentence may name FGSM or flip, shift, rotation, zoom)."""
    shown = [str(e.value) for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning",
                                       "error", "success") for e in getattr(at, kind)]
    shown += [w.label for kind in WIDGETS for w in getattr(at, kind)]
    shown += [w.help or "" for kind in WIDGETS for w in getattr(at, kind)]
    return [text[:100] for text in shown
            if not HANGUL.search(text) and ENGLISH_WORDS.search(re.sub(r"`[^`]*`", "", text))]


@pytest.mark.parametrize("page", [None, *PAGES])
def test_every_page_renders_in_korean_with_a_finished_run(page, trained_run, monkeypatch):
    store, run_id = trained_run
    at = open_app(store.root, monkeypatch, page, query={"lang": "ko"})
    assert HANGUL.search(at.title[0].value), at.title[0].value
    assert not english_left(at), english_left(at)


@pytest.mark.parametrize("page", ["pages/evaluate.py", "pages/train.py", "pages/data.py"])
def test_two_tabs_in_two_languages_each_read_their_own(page, trained_run, monkeypatch):
    """The caches every tab shares (figures, evaluations, comparisons) never hand one tab's words to another."""
    store, run_id = trained_run
    open_app(store.root, monkeypatch, page, query={"lang": "ko", "run": run_id})  # fills the caches in Korean
    english = open_app(store.root, monkeypatch, page, query={"lang": "en", "run": run_id})  # then in English
    korean = open_app(store.root, monkeypatch, page, query={"lang": "ko", "run": run_id})
    assert not HANGUL.search(texts(english) + " ".join(w.label for kind in WIDGETS for w in getattr(english, kind)))
    assert HANGUL.search(texts(korean)) and not english_left(korean), english_left(korean)


def test_a_message_from_the_core_reaches_the_page_in_korean(tmp_path, monkeypatch):
    query = {"lang": "ko", "dataset": "cifar10", "arch": "seed_cnn", "epochs": "100000"}  # a shared link's
    at = open_app(tmp_path / "runs", monkeypatch, "pages/train.py", query=query)
    [error] = [e.value for e in at.error if "100000" in e.value]
    assert HANGUL.search(error) and "에포크" in error and "Epochs" not in error, error
    assert at.number_input(key="train_epochs").value == 8  # the form kept its settings


def test_the_language_switch_holds_for_the_tab_across_pages(tmp_path, monkeypatch):
    at = open_app(tmp_path / "runs", monkeypatch, query={"lang": "ko"})
    assert at.selectbox(key="sidebar_lang").value == "ko" and HANGUL.search(at.title[0].value)
    at.selectbox(key="sidebar_lang").set_value("en").run()  # the address still says ko: the switch wins
    assert not at.exception and at.title[0].value == "Convolutional networks on CIFAR-10"
    at.switch_page("pages/train.py").run()
    assert at.title[0].value == "Train" and at.button(key="train_start").label == "Start training"


def test_data_page_filters_and_enlarges(tmp_path, monkeypatch):
    at = open_app(tmp_path, monkeypatch, "pages/data.py")
    at.selectbox(key="data_dataset").set_value("digits").run()
    at.multiselect(key="data_classes").set_value(["3"]).run()
    at.slider(key="data_grid").set_value(4).run()
    assert not at.exception and "Ready: 1,437 training" in texts(at)
    assert sum(c.startswith("3 #") for c in image_captions(at)) == 16
    shown = at.selectbox(key="data_selected").options
    assert len(shown) == 16 and all("· 3" in option for option in shown), shown
    at.button(key="data_reshuffle").click().run()
    assert at.selectbox(key="data_selected").options != shown and not at.exception


def test_missing_dataset_says_what_to_do(tmp_path, monkeypatch, offline_cache):
    at = open_app(tmp_path, monkeypatch, "pages/data.py")
    assert "CIFAR-10 is not on this machine" in texts(at) and "Digits (offline)" in texts(at)
    at.button(key="data_download").click().run()
    deadline = time.monotonic() + 30
    while "Cannot download" not in texts(at) and time.monotonic() < deadline:
        time.sleep(0.5)
        at.run()
    assert not at.exception and "Cannot download" in texts(at)


def test_start_and_stop_a_run_from_the_train_page(tmp_path, monkeypatch):
    at = open_app(tmp_path, monkeypatch, "pages/train.py")
    at.selectbox(key="train_dataset").set_value("digits").run()
    at.selectbox(key="train_arch").set_value("dropout_cnn").run()
    assert "parameters for 8×8×1 images" in " ".join(e.label for e in at.expander)
    at.number_input(key="train_epochs").set_value(50).run()
    at.number_input(key="train_batch_size").set_value(8).run()
    at.button(key="train_start").click().run()
    assert not at.exception
    run_id = at.session_state["train_run_id"]
    from pages.shared import get_manager
    manager = get_manager(str(tmp_path))
    deadline = time.monotonic() + 120
    while manager.progress(run_id)["status"] != "running" and time.monotonic() < deadline:
        time.sleep(0.2)
    at.run()
    assert f"Run {run_id}" in texts(at)
    at.button(key="train_stop").click().run()
    assert manager.wait(run_id, timeout=120)["status"] == "stopped"
    at.run()
    assert not at.exception and "stopped" in texts(at)
    assert at.dataframe(key="train_runs_table") is not None
    at.switch_page("pages/evaluate.py").run()  # a stopped run keeps its checkpoint: it can be evaluated
    assert not at.exception and at.selectbox(key="eval_run").value == run_id
    assert at.metric[0].label == "Test accuracy"


def test_a_diverging_run_fails_and_the_app_carries_on(tmp_path, monkeypatch):
    at = open_app(tmp_path, monkeypatch)
    # Beyond the slider's stops (1e-5 … 0.3), as a preset or the command line may set it: the slider
    # gives the value a stop of its own.
    at.session_state["train_learning_rate"] = 10.0
    at.switch_page("pages/train.py").run()
    assert not at.exception and at.select_slider(key="train_learning_rate").value == 10.0
    at.selectbox(key="train_dataset").set_value("digits").run()
    # seed_cnn at the default seed, as in the core test: a run that overflows every time (batch norm,
    # in fast_cnn, the default, can keep a rate of 10 finite).
    at.selectbox(key="train_arch").set_value("seed_cnn").run()
    at.selectbox(key="train_optimizer").set_value("sgd").run()
    at.selectbox(key="train_lr_schedule").set_value("constant").run()
    at.selectbox(key="train_precision").set_value("float32").run()  # bfloat16 can stay finite at chance level
    at.number_input(key="train_batch_size").set_value(64).run()
    at.number_input(key="train_epochs").set_value(3).run()
    at.button(key="train_start").click().run()
    run_id = at.session_state["train_run_id"]
    from pages.shared import get_manager
    get_manager(str(tmp_path)).wait(run_id, timeout=120)
    at.run()
    assert not at.exception
    assert get_manager(str(tmp_path)).store.status(run_id)["status"] == "failed"
    assert "learning rate is probably too high" in " ".join(e.value for e in at.error)
    at.switch_page("pages/home.py").run()
    assert not at.exception


def test_preset_fills_the_form(tmp_path, monkeypatch):
    at = open_app(tmp_path, monkeypatch, "pages/train.py")
    at.number_input(key="train_label_smoothing").set_value(0.2).run()
    at.selectbox(key="train_preset").set_value("dropout_cnn_full").run()
    assert not at.exception
    assert at.selectbox(key="train_arch").value == "dropout_cnn"
    assert at.selectbox(key="train_optimizer").value == "rmsprop"
    assert at.select_slider(key="train_learning_rate").value == 1e-4
    assert at.number_input(key="train_epochs").value == 30
    assert at.number_input(key="train_dropout_cnn_dropout").value == 0.4
    assert at.number_input(key="train_label_smoothing").value == 0.0  # not the preset's: back to its default
    at.selectbox(key="train_preset").set_value("fast").run()
    assert at.selectbox(key="train_arch").value == "fast_cnn" and at.toggle(key="train_tta").value
    assert at.number_input(key="train_fast_cnn_width").value == 0.5
    assert at.selectbox(key="train_fast_cnn_stem").value == "whiten"
    assert at.multiselect(key="train_augment").value == ["flip", "crop"]
    assert at.number_input(key="train_val_split").value == 0.1


def test_a_class_preset_is_fitted_to_its_time_budget(tmp_path, monkeypatch, cifar_sample):
    from cifar_core.config.presets import PRESETS
    from cifar_core.config.recipes import recipe_settings
    from cifar_core.config.run_config import make_config
    from cifar_core.server import estimate
    monkeypatch.setenv("CIFAR10_PATH", str(cifar_sample))
    # A speed stored for the preset's settings: the fit is arithmetic here (the page measures for real
    # in test_the_train_page_estimates_the_time_and_fits_a_budget). 3 s a batch: 10 epochs do not fit.
    monkeypatch.setenv("CIFAR_CORE_TIMINGS", str(tmp_path / "timings.json"))
    dataset, arch, hparams, training = recipe_settings(PRESETS["plain_cnn"])
    seed_timings(tmp_path / "timings.json", estimate.speed_key(make_config(dataset, arch, hparams, **training)),
                 train_batch=3.0)
    at = open_app(tmp_path, monkeypatch, "pages/train.py")
    at.selectbox(key="train_preset").set_value("plain_cnn").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.selectbox(key="train_arch").value == "seed_cnn"
    epochs = at.number_input(key="train_epochs").value
    assert 1 <= epochs < PRESETS["plain_cnn"]["training"]["epochs"]
    assert "Fitted to 4 min" in texts(at)
    wait_for_estimate(at)


def test_out_of_range_settings_give_a_message(tmp_path, monkeypatch):
    at = open_app(tmp_path, monkeypatch, "pages/train.py")
    at.selectbox(key="train_dataset").set_value("digits").run()
    at.number_input(key="train_train_size").set_value(20).run()
    at.number_input(key="train_batch_size").set_value(64).run()
    at.button(key="train_start").click().run()
    assert not at.exception and "batch size must be between 1 and 20" in texts(at).lower().replace("_", " ")


def test_evaluate_page_matrix_and_cells(trained_run, monkeypatch):
    store, run_id = trained_run
    at = open_app(store.root, monkeypatch, "pages/evaluate.py")
    assert at.metric[0].label == "Test accuracy"
    at.selectbox(key="eval_true").set_value("3").run()
    at.selectbox(key="eval_pred").set_value("3").run()
    assert "test images of **3** predicted as **3** (correct)" in texts(at)
    at.toggle(key="eval_normalize").set_value(True).run()
    at.toggle(key="eval_only_wrong").set_value(True).run()
    assert not at.exception


def test_evaluate_shows_calibration_confused_pairs_and_confident_mistakes(trained_run, monkeypatch):
    from cifar_core.runs.mistakes import most_confused, reliability, top_losses
    store, run_id = trained_run
    at = open_app(store.root, monkeypatch, "pages/evaluate.py")
    result = store.evaluation(run_id)  # evaluated by the page's first visit if not before
    ece = reliability(result["labels"], result["predictions"], result["confidence"])["ece"]
    assert next(m for m in at.metric if m.label == "Expected calibration error").value == f"{ece:.1%}"
    true, predicted, count = most_confused(result["confusion_matrix"], result["class_names"])[0]
    pills = at.pills(key="eval_confused_pair")
    assert pills.options[0] == f"{true} taken for {predicted}: {count}"
    pills.set_value(pills.options[0]).run()
    assert f"of the {count} test images of {true} the network called {predicted}" in texts(at)
    worst = top_losses(result["labels"], result["probabilities"], 1)[0]
    names = result["class_names"]
    assert (f"{names[worst['predicted']]} {worst['confidence']:.0%}, true {names[result['labels'][worst['index']]]} "
            f"{worst['true_probability']:.0%}") in image_captions(at)
    links = [link.proto.query_string for link in at.page_link if link.proto.label == "Why?"]
    assert f"run={run_id}&image={worst['index']}" in links and not at.exception
    assert "360 test images. PCA keeps" in texts(at)  # the projector: every test image of digits
    at.radio(key="eval_projection_method").set_value("tsne").run()
    at.toggle(key="eval_projection_mistakes").set_value(True).run()
    chart = next(c for c in at.get("plotly_chart") if "eval_projection_chart" in c.proto.id)
    assert '"symbol"' in chart.proto.spec and not at.exception
    at.radio(key="eval_export_format").set_value("tflite").run()
    at.button(key="eval_export_convert").click().run()  # converted by the inspection worker
    download = at.get("download_button")
    labels = [d.proto.label for d in download]
    assert any(label.startswith(f"Download {run_id}.tflite (") for label in labels), labels


def test_the_epoch_slider_shows_each_epochs_validation_matrix_and_plays(trained_run, monkeypatch):
    from cifar_core.runs import timelapse
    store, run_id = trained_run
    summaries = timelapse.epoch_summaries(store.path(run_id), 10)
    at = open_app(store.root, monkeypatch, "pages/evaluate.py")
    slider = at.select_slider(key="eval_epochs_epoch")
    assert list(slider.options) == ["before training", "after epoch 1", "after epoch 2"] and slider.value == 2
    slider.set_value(1).run()
    metric = next(m for m in at.metric if m.label.startswith("Validation accuracy"))
    assert metric.label == "Validation accuracy after epoch 1" and metric.value == f"{summaries[1]['val_accuracy']:.1%}"
    at.selectbox(key="eval_epochs_true").set_value("3").run()
    at.selectbox(key="eval_epochs_pred").set_value("3").run()
    chart = next(c for c in at.get("plotly_chart") if "eval_epochs_cell_chart" in c.proto.id)
    counts = [m["val_confusion_matrix"][3][3] for m in summaries]
    assert f'"y":{counts}'.replace(" ", "") in chart.proto.spec.replace(" ", "")  # 3 recognised, per epoch
    # Play steps once a step is due: here only when the test says so, whatever the machine's load.
    monkeypatch.setattr("pages.epochs_ui.PLAY_SECONDS", 3600)
    at.button(key="eval_epochs_play").click().run()
    assert at.select_slider(key="eval_epochs_epoch").value == 1 and at.session_state["eval_epochs_playing"]
    at.session_state["eval_epochs_step_due"] = 0
    at.run()  # one step, to the last epoch, where Play ends
    assert at.select_slider(key="eval_epochs_epoch").value == 2 and not at.session_state["eval_epochs_playing"]
    assert at.button(key="eval_epochs_play").label == "Play"
    at.button(key="eval_epochs_play").click().run()  # Play at the last epoch starts from before training
    assert at.select_slider(key="eval_epochs_epoch").value == 0 and at.button(key="eval_epochs_play").label == "Pause"
    at.session_state["eval_epochs_step_due"] = 0
    at.run()
    assert at.select_slider(key="eval_epochs_epoch").value == 1 and not at.exception


def test_run_in_the_address_is_checked(trained_run, monkeypatch):
    store, run_id = trained_run
    at = open_app(store.root, monkeypatch, "pages/evaluate.py", query={"run": "../../etc"})
    assert "refused" in texts(at)
    at = open_app(store.root, monkeypatch, "pages/evaluate.py", query={"run": run_id})
    assert at.selectbox(key="eval_run").value == run_id


@pytest.mark.slow
def test_a_first_layer_that_does_not_train_is_said_to_stay_as_it_is(tmp_path, monkeypatch):
    from cifar_core.config.run_config import make_config
    from cifar_core.runs.store import RunStore
    store = RunStore(tmp_path)
    run_id = train_in_process(store, make_config("digits", "fast_cnn", {"width": 0.25, "stem": "whiten"},
                                                 epochs=1, train_size=200))
    at = open_app(store.root, monkeypatch, "pages/feature_maps.py", query={"run": run_id})
    assert not at.exception
    assert "weights (2×2 pixels here)" in texts(at) and "Training shaped them" not in texts(at)
    assert "first layer does not train, so its filters stay as they are" in texts(at)


def png_bytes(mode="RGB", size=(64, 48)):
    buf = io.BytesIO()
    Image.new(mode, size, "red" if mode != "L" else 90).save(buf, format="PNG")
    return buf.getvalue()


def test_feature_maps_for_a_test_image_and_an_upload(trained_run, monkeypatch):
    store, run_id = trained_run
    at = open_app(store.root, monkeypatch, "pages/feature_maps.py")
    assert "**block1_conv1** — Conv2D, 8×8×32" in texts(at)
    assert "weights (3×3 pixels here)" in texts(at) and "Training shaped them" in texts(at)
    assert not [c for c in image_captions(at) if c.startswith("Filter ")]  # computed only when asked
    at.button(key="fm_pattern_show").click().run()
    assert [c for c in image_captions(at) if c.startswith("Filter ")][:2] == ["Filter 0", "Filter 1"]
    at.selectbox(key="fm_pattern_layer").set_value("block1_conv1").run()  # what its filters look for
    assert "The first 16 filters of block1_conv1." in texts(at) and not at.exception
    at.selectbox(key="fm_hist_layer").set_value("dense1").run()
    at.radio(key="fm_source").set_value("Upload a photo").run()
    at.file_uploader(key="fm_upload").upload("photo.png", png_bytes("RGBA"), "image/png")
    at.run()
    assert not at.exception and "your photo photo.png, as the model sees it (8×8)" in image_captions(at)
    assert "**block3_pool** — MaxPooling2D, 1×1×128 (first 64 channels)" in texts(at)
    at.file_uploader(key="fm_upload").set_value(("notes.png", b"not an image at all", "image/png"))
    at.run()
    assert not at.exception and "not an image" in texts(at)
    at.radio(key="fm_source").set_value("Take a photo").run()  # the camera's picture is checked the same way
    assert not at.exception and "Take a photo: hold an object of one of the classes up to the camera." in texts(at)


def test_an_adversarial_nudge_and_its_smallest_epsilon(trained_run, monkeypatch):
    store, run_id = trained_run
    at = open_app(store.root, monkeypatch, "pages/feature_maps.py", query={"run": run_id, "epsilon": "99"})
    assert "The address's ε was refused: Epsilon must be a number between 0 and 32" in texts(at)
    assert at.slider(key="fm_adv_epsilon").value == 4.0
    assert "Nudged, ε = 4" in image_captions(at) and "The nudge, at full contrast" in image_captions(at)
    at.button(key="fm_adv_find").click().run()
    epsilon = at.slider(key="fm_adv_epsilon").value
    if "is the smallest nudge that changes the prediction" in texts(at):  # the slider moved there
        assert f"ε = {epsilon:g} is the smallest nudge" in texts(at) and f"Fooled: at ε = {epsilon:g}" in texts(at)
    else:  # 8×8 digits may need more than the range (the worker's test finds one that flips)
        assert "No ε up to 32 changes this prediction" in texts(at) and epsilon == 4.0
    assert not at.exception


def test_a_mistake_opens_in_grad_cam(trained_run, monkeypatch):
    store, run_id = trained_run
    at = open_app(store.root, monkeypatch, "pages/evaluate.py")
    at.toggle(key="eval_only_wrong").set_value(True).run()
    links = [link.proto for link in at.page_link if link.proto.label == "Why?"]
    assert links and all(link.page == "feature_maps" for link in links), links
    query = dict(pair.split("=") for pair in links[0].query_string.split("&"))
    assert query["run"] == run_id
    at = open_app(store.root, monkeypatch, "pages/feature_maps.py", query=query)
    index = int(query["image"])
    assert at.radio(key="fm_source").value == "By index" and at.number_input(key="fm_index").value == index
    captions = [c for c in image_captions(at) if c.startswith(("Predicted:", "True class:"))]
    assert len(captions) == 2, captions  # a mistake: the predicted and the true class side by side
    assert at.selectbox(key="fm_cam_layer").value == "block3_conv2"  # the last convolution
    at.selectbox(key="fm_cam_layer").set_value("block1_conv1").run()
    assert not at.exception and "Layer block1_conv1 sees the image as a 8×8 grid" in texts(at)
    at = open_app(store.root, monkeypatch, "pages/feature_maps.py", query={"run": run_id, "image": "99999"})
    assert "does not have" in texts(at)


def test_the_time_lapse_slider_goes_back_to_before_training(trained_run, monkeypatch):
    from cifar_core.runs import timelapse
    store, run_id = trained_run
    at = open_app(store.root, monkeypatch, "pages/feature_maps.py")
    slider = at.select_slider(key="fm_timelapse_epoch")
    assert list(slider.options) == ["before training", "after epoch 1", "after epoch 2"]
    assert "First-layer filters after epoch 2" in image_captions(at)
    assert any(c.startswith("Grad-CAM: true class, ") for c in image_captions(at))
    slider.set_value(0).run()
    at.radio(key="fm_timelapse_image").set_value(3).run()
    assert not at.exception and "First-layer filters before training" in image_captions(at)
    assert "block1_conv1 before training" in image_captions(at)
    cams = [c for c in image_captions(at) if c.startswith("Grad-CAM: ")]  # the time-lapse's, not the nudge's
    true_class = int(timelapse.read_snapshot(store.path(run_id), 0)["cam_classes"][3][0])  # probe image 3's
    truth = store.config(run_id)["class_names"][true_class]
    assert cams[0] == f"Grad-CAM: true class, {truth}" and "Before training the network was" in texts(at)


def test_a_run_recorded_before_epoch_predictions_says_what_is_missing(trained_run, tmp_path, monkeypatch):
    from cifar_core.runs import timelapse
    from cifar_core.runs.store import RunStore
    store, run_id = trained_run
    runs = RunStore(tmp_path / "runs")
    shutil.copytree(store.path(run_id), runs.path(run_id))
    folder = runs.path(run_id) / timelapse.FOLDER
    (folder / timelapse.VALIDATION).unlink()
    for epoch in timelapse.recorded_epochs(runs.path(run_id)):  # the snapshots of an older recorder
        kept = {k: v for k, v in timelapse.read_snapshot(runs.path(run_id), epoch).items()
                if k not in ("val_predicted", "val_confidence", "cam", "cam_classes")}
        np.savez_compressed(folder / f"epoch_{epoch:04d}.npz", **kept)
    at = open_app(runs.root, monkeypatch, "pages/evaluate.py")
    assert "no validation predictions per epoch: it was trained before they were recorded" in texts(at)
    at.switch_page("pages/feature_maps.py").run()
    assert not at.exception and "First-layer filters after epoch 2" in image_captions(at)
    assert "has no Grad-CAM: it was recorded before Grad-CAM was" in texts(at)


def test_start_refuses_an_out_of_range_value_and_names_it(tmp_path, monkeypatch):
    from cifar_core.config.architectures import ARCHITECTURES
    width = next(spec for spec in ARCHITECTURES["seed_cnn"].hparams if spec.name == "width")
    at = open_app(tmp_path, monkeypatch, "pages/train.py")
    at.selectbox(key="train_dataset").set_value("digits").run()
    at.number_input(key="train_epochs").set_value(600).run()
    at.number_input(key="train_seed_cnn_width").set_value(9.0).run()
    errors = [e.value for e in at.error]
    assert "Epochs must be between 1 and 500, got 600." in errors
    assert f"{width.title} must be between 0.25 and 4, got 9.0." in errors
    assert at.button(key="train_start").disabled
    at.number_input(key="train_epochs").set_value(2).run()
    at.number_input(key="train_seed_cnn_width").set_value(0.5).run()
    assert not at.error and not at.button(key="train_start").disabled


def test_evaluate_opens_on_the_newest_completed_run(trained_run, tmp_path, monkeypatch):
    import shutil

    from cifar_core.runs.store import RunStore
    store, run_id = trained_run
    runs = RunStore(tmp_path / "runs")
    completed = "20000101-000000-seed_cnn-aaaaaa"  # older than the stopped run below
    stopped = "29991231-235959-seed_cnn-bbbbbb"
    for new_id in (completed, stopped):
        shutil.copytree(store.path(run_id), runs.path(new_id))
    runs.set_status(stopped, "stopped", "Stopped by request during epoch 1.")
    at = open_app(runs.root, monkeypatch, "pages/evaluate.py")
    assert at.selectbox(key="eval_run").value == completed
    assert [r["run_id"] for r in runs.list()] == [stopped, completed]  # the stopped run is newer
    # A cell's images: its count, and 30 at most a page.
    cells = runs.evaluation(completed, runs.model_stamp(completed))["cells"]
    size, true, pred = max((len(cell), t, p) for t, row in enumerate(cells) for p, cell in enumerate(row))
    at.selectbox(key="eval_true").set_value(str(true)).run()
    at.selectbox(key="eval_pred").set_value(str(pred)).run()
    assert f"**{size}** test images of **{true}** predicted as **{pred}**" in texts(at)
    shown = [c for c in image_captions(at) if c.startswith("#")]
    assert len(shown) == min(size, 30)


def test_a_sweep_from_the_train_page(tmp_path, monkeypatch):
    at = open_app(tmp_path, monkeypatch, "pages/train.py")
    at.selectbox(key="train_dataset").set_value("digits").run()
    at.number_input(key="train_epochs").set_value(1).run()
    at.number_input(key="train_train_size").set_value(200).run()
    at.selectbox(key="train_sweep_name").set_value("batch_size").run()
    at.text_input(key="train_sweep_values_batch_size").input("16,64").run()
    at.button(key="train_sweep_start").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    run_ids = at.session_state["train_sweep"]
    from pages.shared import get_manager
    manager = get_manager(str(tmp_path))
    # What the page submitted is the test; the core's sweep test trains such runs to the end.
    configs = [manager.store.config(r) for r in run_ids]
    assert [c["training"]["batch_size"] for c in configs] == [16, 64]
    assert {(c["dataset"], c["training"]["epochs"], c["training"]["train_size"]) for c in configs} == {("digits", 1, 200)}
    for run_id in run_ids:
        manager.stop(run_id)
    for run_id in run_ids:
        assert manager.wait(run_id, timeout=240)["status"] in ("stopped", "completed")
    at.run()
    assert not at.exception and "Sweep of batch size: 2 runs" in " ".join(h.value for h in at.subheader)
    at.text_input(key="train_sweep_values_batch_size").input("16").run()
    at.button(key="train_sweep_start").click().run()
    assert "needs at least two different values" in texts(at) and len(manager.store.list()) == 2


WIDGETS = ("number_input", "selectbox", "multiselect", "select_slider", "toggle", "text_input", "button", "radio",
           "slider", "checkbox")


def widgets(at):
    return [w for kind in WIDGETS for w in getattr(at, kind)]


def test_class_mode_hides_the_advanced_settings(tmp_path, monkeypatch):
    at = open_app(tmp_path, monkeypatch, "pages/train.py")
    at.selectbox(key="train_optimizer").set_value("sgd").run()
    at.switch_page("pages/home.py").run()
    assert at.toggle(key="home_class_mode").value is False
    at.toggle(key="home_class_mode").set_value(True).run()
    at.switch_page("pages/train.py").run()
    assert not at.exception
    keys = {w.key for w in widgets(at)}
    assert {"train_dataset", "train_arch", "train_epochs", "train_batch_size", "train_learning_rate",
            "train_augment", "train_train_size", "train_preset", "train_fit_budget"} <= keys, keys
    hidden = {"train_optimizer", "train_lr_schedule", "train_seed", "train_val_split", "train_patience",
              "train_tta", "train_precision", "train_weight_decay", "train_seed_cnn_width"}
    assert not hidden & keys
    assert at.number_input(key="train_epochs").label == "Epochs (passes over the data)"
    at.switch_page("pages/home.py").run()
    at.toggle(key="home_class_mode").set_value(False).run()
    at.switch_page("pages/train.py").run()
    assert at.selectbox(key="train_optimizer").value == "sgd"  # kept while hidden


def test_class_mode_from_the_address(tmp_path, monkeypatch):
    at = open_app(tmp_path, monkeypatch, "pages/train.py", query={"mode": "class"})
    assert at.session_state["class_mode"] is True
    assert "train_optimizer" not in {w.key for w in widgets(at)}
    at.switch_page("pages/home.py").run()
    assert at.toggle(key="home_class_mode").value is True
    at = open_app(tmp_path, monkeypatch, "pages/train.py", query={"mode": "full"})
    assert at.session_state["class_mode"] is False and at.selectbox(key="train_optimizer")


def test_widget_labels_are_words(tmp_path, monkeypatch):
    """No snake_case on any widget, option or column a person reads, in class mode or not."""
    at = open_app(tmp_path, monkeypatch, "pages/train.py")
    for mode in (False, True):
        at.session_state["class_mode"] = mode
        at.run()
        assert not at.exception
        for w in widgets(at):
            assert "_" not in w.label, (w.key, w.label)
        for w in (*at.selectbox, *at.multiselect):
            assert not [o for o in w.options if "_" in o], (w.key, w.options)
    for page in PAGES:
        at.switch_page(page).run()
        assert not [w.label for w in widgets(at) if "_" in w.label], page


def test_home_offers_ready_runs_on_evaluate_and_feature_maps(trained_run, tmp_path, monkeypatch):
    import json
    import shutil

    from cifar_core.config.presets import PRESETS
    from cifar_core.runs.store import RunStore, write_json
    store, run_id = trained_run
    runs = RunStore(tmp_path / "runs")
    at = open_app(runs.root, monkeypatch)
    assert "python -m cifar_core prepare" in texts(at)
    older, newer = "20000101-000000-seed_cnn-aaaaaa", "20000102-000000-seed_cnn-bbbbbb"
    for new_id in (older, newer):
        shutil.copytree(store.path(run_id), runs.path(new_id))
    config = json.loads((runs.path(older) / "config.json").read_text())
    write_json(runs.path(older) / "config.json", {**config, "preset": "plain_cnn"})
    at.run()
    assert not at.exception and PRESETS["plain_cnn"]["title"] in texts(at)
    links = {(link.proto.page, link.proto.query_string) for link in at.page_link if link.proto.query_string}
    assert {page for page, query in links if query == f"run={older}"} == {"evaluate", "feature_maps"}, links
    # The link opens that run even where the tab had chosen another one before.
    at = open_app(runs.root, monkeypatch, "pages/evaluate.py")
    assert at.selectbox(key="eval_run").value == newer
    at.query_params["run"] = older
    at.run()
    assert not at.exception and at.selectbox(key="eval_run").value == older


def test_the_train_page_estimates_the_time_and_fits_a_budget(tmp_path, monkeypatch):
    monkeypatch.setenv("CIFAR_CORE_TIMINGS", str(tmp_path / "timings.json"))  # nothing measured yet
    at = open_app(tmp_path, monkeypatch, "pages/train.py")
    at.selectbox(key="train_dataset").set_value("digits").run()  # measures a few batches, for real
    assert not at.exception and "Measuring a few batches on this machine" in texts(at)  # in the background
    wait_for_estimate(at)
    at.number_input(key="train_epochs").set_value(500).run()
    at.number_input(key="train_budget_minutes").set_value(0.5).run()
    at.button(key="train_fit_budget").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    epochs, size = at.number_input(key="train_epochs").value, at.number_input(key="train_train_size").value
    assert epochs < 500 or size is not None, (epochs, size)
    assert "Fitted to 30 s" in texts(at)


def test_compare_with_a_run_that_is_evaluated_on_request(trained_run, tmp_path, monkeypatch):
    """Run B (on the page) has a stored evaluation; run A, a copy of a trained run, has none: the page
    offers to evaluate it, then shows what B fixed and broke and the settings side by side."""
    from cifar_core.data.datasets import load_dataset
    from cifar_core.runs.store import RunStore
    store, trained_id = trained_run
    shutil.copytree(store.path(trained_id), tmp_path / trained_id, ignore=shutil.ignore_patterns("evaluation*"))
    ours = RunStore(tmp_path)
    ds = load_dataset("digits")
    probabilities = np.full((len(ds.y_test), ds.num_classes), 0.01, np.float32)
    probabilities[np.arange(len(ds.y_test)), ds.y_test] = 0.91  # B labels every test image right
    config = ours.config(trained_id)
    run_b = evaluated_run(ours, {**config, "training": {**config["training"], "augment": ["flip"]}},
                          ds.y_test, probabilities, ds.class_names)
    at = open_app(tmp_path, monkeypatch, "pages/evaluate.py", query={"run": run_b})
    at.selectbox(key="eval_compare_with").set_value(trained_id).run()
    assert "has not been evaluated on the test set yet" in texts(at)
    at.button(key="eval_compare_evaluate").click().run()
    assert not at.exception, [e.value for e in at.exception]
    evaluation = ours.evaluation(trained_id)
    wrong_a = int(np.sum(evaluation["predictions"] != ds.y_test))
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Fixed by B"] == f"{wrong_a:,}" and metrics["Broken by B"] == "0"
    assert "**Settings that differ:** training.augment none → flip" in texts(at)
    at.radio(key="eval_compare_which").set_value("broken").run()
    assert "No test image was broken by run B." in texts(at) and not at.exception


def test_find_a_learning_rate_and_use_it(tmp_path, monkeypatch):
    at = open_app(tmp_path, monkeypatch, "pages/train.py")
    at.selectbox(key="train_dataset").set_value("digits").run()
    at.button(key="train_lr_find").click().run()
    for _ in range(120):  # AppTest does not tick the waiting fragment: rerun until the search has ended
        if "Suggested learning rate" in texts(at) or at.exception:
            break
        time.sleep(1)
        at.run()
    assert not at.exception and "Suggested learning rate" in texts(at), texts(at)
    assert at.get("plotly_chart")  # the loss against the rate
    suggested = float(texts(at).split("Suggested learning rate: **")[1].split("**")[0])
    at.button(key="train_lr_use").click().run()
    assert at.select_slider(key="train_learning_rate").value == suggested and not at.exception
