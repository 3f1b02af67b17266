"""Feature maps: what each layer of a trained network responds to, for a test image or your photo."""

import numpy as np
import streamlit as st

from cifar_core.data.datasets import load_dataset
from cifar_core.data.images import (
    IMAGE_SUFFIXES,
    enlarge,
    heatmap_overlay,
    tile_channels,
    tile_images,
    to_model_image,
)
from cifar_core.errors import CoreError
from cifar_core.runs import timelapse
from cifar_core.runs.classroom import uploads_open
from cifar_core.server import inspection
from pages import figures
from pages.adversarial_ui import adversarial_ui
from pages.epochs_ui import curve_marker_ui, epoch_slider_ui, fragment_every, probe_cams_ui, when
from pages.figures import CAM_LUT, LUT
from pages.filter_patterns_ui import filter_patterns_ui
from pages.identity import caller
from pages.shared import KEEP, USABLE, class_mode, keep_valid, pick_run_ui, runs_dir, show_error, store, with_article

CAM_PIXELS = 256
MAP_PIXELS = 440  # a layer's grid fits one screen, two side by side, at 1366×768

class_mode()  # ?mode=class in the address holds for the whole tab
st.title("Feature maps")
st.caption("Feed one image through a trained network and see every layer's channels light up. Each "
           "small square is one feature map: the output of one filter, bright (yellow) where the pattern "
           "it looks for appears in the image, dark (purple) where it does not.")

run, config = pick_run_ui("fm_run", usable=USABLE + ("running",))  # a running run: from its last epoch
run_id = run["run_id"]
shape = tuple(config["image_shape"])
try:
    with st.spinner("Loading the model …"):
        info = inspection.model_info(store(), run_id)  # the inspection worker keeps recently used models
    ds = load_dataset(config["dataset"])
except CoreError as exc:
    show_error(exc)
    st.stop()
names = config["class_names"]


def follow_image_in_address():
    """`?image=<test index>` (a link from Evaluate's mistakes) opens that test image, once per link."""
    wanted = st.query_params.get("image")
    if wanted is None or wanted == st.session_state.get("fm_image_applied"):
        return
    st.session_state["fm_image_applied"] = wanted
    if not wanted.isdigit() or int(wanted) >= len(ds.y_test):
        show_error(f"The address names test image {wanted!r}, which this run's test set does not have "
                   f"(0 to {len(ds.y_test) - 1}).")
        return
    st.session_state["fm_source"], st.session_state["fm_index"] = "By index", int(wanted)


def image_choice_ui():
    """The image to inspect, as uint8 (H, W, C), a caption and its true class index (None for a
    photo); (None, None, None) if there is none yet."""
    follow_image_in_address()
    sources = ["By index", "By class", "At random"]
    if uploads_open(runs_dir(), caller()):  # the teacher may turn a class's uploads off
        sources += ["Upload a photo", "Take a photo"]
    keep_valid("fm_source", sources, sources[0])
    source = st.radio("Image", sources, key="fm_source", horizontal=True, persist_state=KEEP)
    if source == "By index":
        keep_valid("fm_index", range(len(ds.y_test)), 0)
        index = st.number_input("Test image index", 0, len(ds.y_test) - 1, key="fm_index", persist_state=KEEP)
    elif source == "By class":
        keep_valid("fm_class", names, names[0])
        chosen = st.selectbox("Class", names, key="fm_class", persist_state=KEEP)
        pool = np.flatnonzero(ds.y_test == names.index(chosen))
        if not len(pool):
            st.info(f"The test set has no image of {chosen}: choose another class.", icon=":material/info:")
            return None, None, None
        index = int(pool[st.session_state.get("fm_class_pick", 0) % len(pool)])
        if st.button("Another one", key="fm_class_next"):
            st.session_state["fm_class_pick"] = st.session_state.get("fm_class_pick", 0) + 1
            st.rerun()
    elif source == "At random":
        if (st.button("Pick another", key="fm_random_next")
                or st.session_state.get("fm_random_index", len(ds.y_test)) >= len(ds.y_test)):
            st.session_state["fm_random_index"] = int(np.random.default_rng().integers(len(ds.y_test)))
        index = st.session_state["fm_random_index"]
    else:
        if source == "Upload a photo":
            upload = st.file_uploader("PNG or JPEG photo", type=IMAGE_SUFFIXES, key="fm_upload")
            hint, name = "Upload a photo to see what the network makes of it.", upload and f"your photo {upload.name}"
        else:  # the browser asks for the camera; the picture arrives as a JPEG, checked as an upload is
            upload = st.camera_input("Photo from your camera", key="fm_camera")
            hint, name = ("Take a photo: hold an object of one of the classes up to the camera. (Browsers lend the "
                          "camera to pages served over HTTPS or from this computer only.)"), "your camera photo"
        if upload is None:
            st.info(hint, icon=":material/photo_camera:" if source == "Take a photo" else ":material/upload:")
            return None, None, None
        try:
            return to_model_image(upload.getvalue(), shape), name, None
        except CoreError as exc:
            show_error(exc)
            return None, None, None
    truth = int(ds.y_test[index])
    return ds.x_test[index], f"test image #{index}, {with_article(names[truth])}", truth


image, caption, truth = image_choice_ui()
if image is None:
    st.stop()

# The image and what the network makes of it stay in view in the sidebar while the layers scroll.
with st.sidebar:
    st.image(enlarge(image, size=(224, 224)), caption=f"{caption}, as the model sees it ({shape[0]}×{shape[1]})",
             alt=f"The image being inspected: {caption}")
    try:
        top = inspection.predict_image(store(), run_id, image, names)
    except CoreError as exc:
        show_error(exc)
        st.stop()
    st.plotly_chart(figures.top_predictions(top, height=260), key="fm_predictions")
    st.caption("The five classes the network finds most likely, with its confidence in each (they add up "
               "to 100 % over all classes).")



def grad_cam_ui():
    """Grad-CAM for the predicted class and, on a test image, the true one (else the runner-up)."""
    st.header("Where the network looked")
    st.caption("Grad-CAM: how much each region of the image pushed the network towards a class, measured "
               "at one convolution by how the class's score changes with each feature map. Bright means "
               "strong evidence for that class; dark, none.")
    if not info["cam_layers"]:
        st.info("This network has no convolution to explain.", icon=":material/info:")
        return
    keep_valid("fm_cam_layer", info["cam_layers"], info["cam_layers"][-1])
    layer = st.selectbox("Layer (the last convolution sees whole objects; early ones, edges)", info["cam_layers"],
                         key="fm_cam_layer", persist_state=KEEP)
    predicted = names.index(top[0][0])
    second = truth if truth is not None and truth != predicted else names.index(top[1][0])
    try:
        cam = inspection.grad_cam(store(), run_id, image, [predicted, second], layer)
    except CoreError as exc:
        show_error(exc)
        return
    probs = cam["probabilities"]
    h, w = cam["heatmaps"][predicted].shape
    panels = [(predicted, "predicted")]
    if truth is None or truth != predicted:
        panels.append((second, "true class" if truth is not None else "runner-up"))
    for col, (index, role) in zip(st.columns(2), panels):
        title = f"{role.capitalize()}: {names[index]} ({probs[index]:.0%})"
        col.image(heatmap_overlay(image, cam["heatmaps"][index], CAM_LUT, size=(CAM_PIXELS, CAM_PIXELS)),
                  caption=title, width=CAM_PIXELS,
                  alt=f"Grad-CAM heatmap over {caption}: where layer {layer} found evidence for "
                      f"{names[index]}, the {role}, bright where it is strongest")
    if len(panels) == 1:
        st.caption(f"The network got this one right: the heatmap shows what made it say {names[predicted]}. "
                   f"Layer {layer} sees the image as a {h}×{w} grid, so the heatmap is that coarse.")
    else:
        st.caption(f"Compare the two: a mistake often comes from looking at the background or at a part "
                   f"two classes share. Layer {layer} sees the image as a {h}×{w} grid.")


grad_cam_ui()
adversarial_ui(run_id, image, caption, truth, names.index(top[0][0]), names)

st.header("Layers")
available = info["feature_layers"]
keep_valid("fm_layers", available, [n for n in available if "conv" in n or "pool" in n])
layers = st.multiselect("Layers to show", available, key="fm_layers", persist_state=KEEP)
st.caption("Early layers respond to edges and colours; deeper layers, smaller and with more channels, "
           "respond to parts of objects. Pooling halves the size and keeps the strongest responses.")
try:
    maps = inspection.feature_maps(store(), run_id, image, layers) if layers else []
except CoreError as exc:
    show_error(exc)
    maps = []
for pair in range(0, len(maps), 2):  # two layers side by side: each fits one screen
    for col, fmap in zip(st.columns(2), maps[pair: pair + 2]):
        height, width, channels = fmap["shape"]
        grid = tile_channels(fmap["values"], max_channels=64, lut=LUT)
        col.markdown(f"**{fmap['name']}** — {fmap['type']}, {height}×{width}×{channels}"
                     + (" (first 64 channels)" if channels > 64 else ""))
        col.image(enlarge(grid, scale=max(1, MAP_PIXELS // max(grid.shape[:2]))), output_format="PNG",
                  width="stretch", alt=f"Feature maps of layer {fmap['name']} ({fmap['type']}, "
                                       f"{min(channels, 64)} channels of {height}×{width}) for {caption}")



def timelapse_ui():
    """The run's time-lapse at one epoch: the probe image's maps and Grad-CAM, the first layer's
    filters, and where that epoch lies on the accuracy curve."""
    folder = store().path(run_id)
    epochs, probe = timelapse.recorded_epochs(folder), timelapse.read_probe(folder)
    if not epochs or probe is None:
        st.info("This run has no time-lapse: it was trained before runs recorded one.", icon=":material/info:")
        return
    epoch = epoch_slider_ui("fm_timelapse", epochs)
    indices = probe["indices"]
    keep_valid("fm_timelapse_image", list(range(len(indices))), 0)
    shown = st.radio("Probe image", range(len(indices)), key="fm_timelapse_image", horizontal=True,
                     persist_state=KEEP, format_func=lambda i: f"#{indices[i]} {names[ds.y_test[indices[i]]]}")
    try:
        snap = timelapse.read_snapshot(folder, epoch)
    except CoreError as exc:
        show_error(exc)
        return
    probe_image = ds.x_test[indices[shown]]
    t1, t2, t3, t4 = st.columns([1, 2, 2, 2])
    t1.image(enlarge(probe_image, size=(128, 128)), caption=f"test image #{indices[shown]}",
             alt=f"Probe image: test image #{indices[shown]}, {with_article(names[ds.y_test[indices[shown]]])}")
    if len(snap["filters"]):
        tiles = tile_images(snap["filters"], columns=8, pad=1)
        t2.image(enlarge(tiles, scale=max(1, 240 // tiles.shape[1])), output_format="PNG",
                 caption=f"First-layer filters {when(epoch)}",
                 alt=f"The first convolution's {len(snap['filters'])} filters {when(epoch)}, as colour patches")
    for col, role in ((t3, "first"), (t4, "deeper")):
        if f"{role}_maps" in snap:
            maps = snap[f"{role}_maps"][shown].astype(np.float32)
            grid = tile_channels(maps, lut=LUT)
            layer = probe["layers"][role]
            col.image(enlarge(grid, scale=max(1, 240 // max(grid.shape[:2]))), output_format="PNG",
                      caption=f"{layer} {when(epoch)}",
                      alt=f"The first {maps.shape[-1]} feature maps of layer {layer} for the probe image {when(epoch)}")
    cams, curve = st.columns([1, 1])
    probe_cams_ui(cams, snap, probe_image, shown, names, epoch, probe)
    curve_marker_ui(curve, run_id, epoch, key="fm_timelapse_curve")
    if run["status"] in ("queued", "running"):
        st.caption(f"Still training: epochs appear here as they finish ({epochs[-1]} so far).")


st.header("Filters forming, epoch by epoch")
st.caption("A time-lapse of training: the same test images and the first layer's filters after every "
           "epoch. Before training the filters are random noise; epoch by epoch they turn into edge and "
           "colour detectors, and the maps sharpen from noise into shapes.")
st.fragment(timelapse_ui, run_every=fragment_every("fm_timelapse", run["status"] in ("queued", "running")))()

st.header("What the first layer learned")
st.caption("A filter is a small patch of weights (3×3 pixels here) that the first layer slides over the "
           "image; where the image looks like the patch, its feature map lights up. Training shaped them, "
           "from random noise, into detectors of edges and colours.")
f1, f2 = st.columns([1, 2])
filters = info["filters"]
if len(filters):
    tiles = tile_images(filters, columns=8, pad=1)
    f1.image(enlarge(tiles, scale=max(1, 320 // tiles.shape[1])), output_format="PNG",
             caption=f"{len(filters)} filters of the first convolution, each scaled to full contrast",
             alt=f"The {len(filters)} filters of the first convolution, as small colour patches")


with f2:
    keep_valid("fm_hist_layer", info["weight_layers"], info["weight_layers"][0])
    layer = st.selectbox("Weight histogram of", info["weight_layers"], key="fm_hist_layer", persist_state=KEEP)
    try:
        hist = inspection.weight_histogram(store(), run_id, layer)
    except CoreError as exc:  # VGG16's ImageNet weights, offline
        show_error(exc)
        st.stop()
    st.plotly_chart(figures.weight_histograms(hist, layer), key="fm_hist_chart")
    st.caption(f"Spread of the weights: {hist['initial_std']:.4f} freshly initialised, "
               f"{hist['trained_std']:.4f} after training.")

filter_patterns_ui(run_id, info["cam_layers"], ds)
