"""Feature maps: what each layer of a trained network responds to, for a test image or your photo."""

import numpy as np
import streamlit as st

from cifar_core.data.datasets import class_label, load_dataset
from cifar_core.data.images import (
    IMAGE_SUFFIXES,
    enlarge,
    heatmap_overlay,
    tile_channels,
    tile_images,
    to_model_image,
)
from cifar_core.errors import CoreError
from cifar_core.i18n import N_, _, ngettext, percent
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
st.title(_("Feature maps"))
st.caption(_("Feed one image through a trained network and see every layer's channels light up. Each "
             "small square is one feature map: the output of one filter, bright (yellow) where the pattern "
             "it looks for appears in the image, dark (purple) where it does not."))

run, config = pick_run_ui("fm_run", usable=USABLE + ("running",))  # a running run: from its last epoch
run_id = run["run_id"]
shape = tuple(config["image_shape"])
try:
    with st.spinner(_("Loading the model …")):
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
        show_error(_("The address names test image {image}, which this run's test set does not have "
                     "(0 to {last}).").format(image=repr(wanted), last=len(ds.y_test) - 1))
        return
    st.session_state["fm_source"], st.session_state["fm_index"] = "By index", int(wanted)


def image_choice_ui():
    """The image to inspect, as uint8 (H, W, C), a caption and its true class index (None for a
    photo); (None, None, None) if there is none yet."""
    follow_image_in_address()
    # The options are values (kept in the tab's state and compared below), shown in the reader's language.
    sources = [N_("By index"), N_("By class"), N_("At random")]
    if uploads_open(runs_dir(), caller()):  # the teacher may turn a class's uploads off
        sources += [N_("Upload a photo"), N_("Take a photo")]
    keep_valid("fm_source", sources, sources[0])
    source = st.radio(_("Image"), sources, key="fm_source", horizontal=True, persist_state=KEEP, format_func=_)
    if source == "By index":
        keep_valid("fm_index", range(len(ds.y_test)), 0)
        index = st.number_input(_("Test image index"), 0, len(ds.y_test) - 1, key="fm_index", persist_state=KEEP)
    elif source == "By class":
        keep_valid("fm_class", names, names[0])
        chosen = st.selectbox(_("Class"), names, key="fm_class", persist_state=KEEP, format_func=class_label)
        pool = np.flatnonzero(ds.y_test == names.index(chosen))
        if not len(pool):
            st.info(_("The test set has no image of {name}: choose another class.").format(name=class_label(chosen)),
                    icon=":material/info:")
            return None, None, None
        index = int(pool[st.session_state.get("fm_class_pick", 0) % len(pool)])
        if st.button(_("Another one"), key="fm_class_next"):
            st.session_state["fm_class_pick"] = st.session_state.get("fm_class_pick", 0) + 1
            st.rerun()
    elif source == "At random":
        if (st.button(_("Pick another"), key="fm_random_next")
                or st.session_state.get("fm_random_index", len(ds.y_test)) >= len(ds.y_test)):
            st.session_state["fm_random_index"] = int(np.random.default_rng().integers(len(ds.y_test)))
        index = st.session_state["fm_random_index"]
    else:
        if source == "Upload a photo":
            upload = st.file_uploader(_("PNG or JPEG photo"), type=IMAGE_SUFFIXES, key="fm_upload")
            hint = _("Upload a photo to see what the network makes of it.")
            name = upload and _("your photo {name}").format(name=upload.name)
        else:  # the browser asks for the camera; the picture arrives as a JPEG, checked as an upload is
            upload = st.camera_input(_("Photo from your camera"), key="fm_camera")
            hint, name = _("Take a photo: hold an object of one of the classes up to the camera. (Browsers lend the "
                           "camera to pages served over HTTPS or from this computer only.)"), _("your camera photo")
        if upload is None:
            st.info(hint, icon=":material/photo_camera:" if source == "Take a photo" else ":material/upload:")
            return None, None, None
        try:
            return to_model_image(upload.getvalue(), shape), name, None
        except CoreError as exc:
            show_error(exc)
            return None, None, None
    truth = int(ds.y_test[index])
    caption = _("test image #{index}, {a_class}").format(index=index, a_class=with_article(class_label(names[truth])))
    return ds.x_test[index], caption, truth


image, caption, truth = image_choice_ui()
if image is None:
    st.stop()

# The image and what the network makes of it stay in view in the sidebar while the layers scroll.
with st.sidebar:
    st.image(enlarge(image, size=(224, 224)),
             caption=_("{image}, as the model sees it ({height}×{width})").format(
                 image=caption, height=shape[0], width=shape[1]),
             alt=_("The image being inspected: {image}").format(image=caption))
    try:
        top = inspection.predict_image(store(), run_id, image, names)
    except CoreError as exc:
        show_error(exc)
        st.stop()
    st.plotly_chart(figures.top_predictions(top, height=260), key="fm_predictions")
    st.caption(_("The five classes the network finds most likely, with its confidence in each (they add up "
                 "to 100 % over all classes)."))



# Each Grad-CAM panel's caption and alternative text, by the role of its class.
CAM_TEXTS = {
    "predicted": (N_("Predicted: {name} ({probability})"),
                  N_("Grad-CAM heatmap over {image}: where layer {layer} found evidence for {name}, the predicted, "
                     "bright where it is strongest")),
    "true class": (N_("True class: {name} ({probability})"),
                   N_("Grad-CAM heatmap over {image}: where layer {layer} found evidence for {name}, the true class, "
                      "bright where it is strongest")),
    "runner-up": (N_("Runner-up: {name} ({probability})"),
                  N_("Grad-CAM heatmap over {image}: where layer {layer} found evidence for {name}, the runner-up, "
                     "bright where it is strongest")),
}


def grad_cam_ui():
    """Grad-CAM for the predicted class and, on a test image, the true one (else the runner-up)."""
    st.header(_("Where the network looked"))
    st.caption(_("Grad-CAM: how much each region of the image pushed the network towards a class, measured "
                 "at one convolution by how the class's score changes with each feature map. Bright means "
                 "strong evidence for that class; dark, none."))
    if not info["cam_layers"]:
        st.info(_("This network has no convolution to explain."), icon=":material/info:")
        return
    keep_valid("fm_cam_layer", info["cam_layers"], info["cam_layers"][-1])
    layer = st.selectbox(_("Layer (the last convolution sees whole objects; early ones, edges)"), info["cam_layers"],
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
        title, alt = CAM_TEXTS[role]
        words = dict(name=class_label(names[index]), probability=percent(probs[index], 0), image=caption, layer=layer)
        col.image(heatmap_overlay(image, cam["heatmaps"][index], CAM_LUT, size=(CAM_PIXELS, CAM_PIXELS)),
                  caption=_(title).format(**words), width=CAM_PIXELS, alt=_(alt).format(**words))
    if len(panels) == 1:
        st.caption(_("The network got this one right: the heatmap shows what made it say {name}. "
                     "Layer {layer} sees the image as a {height}×{width} grid, so the heatmap is that coarse.")
                   .format(name=class_label(names[predicted]), layer=layer, height=h, width=w))
    else:
        st.caption(_("Compare the two: a mistake often comes from looking at the background or at a part "
                     "two classes share. Layer {layer} sees the image as a {height}×{width} grid.")
                   .format(layer=layer, height=h, width=w))


grad_cam_ui()
adversarial_ui(run_id, image, caption, truth, names.index(top[0][0]), names)

st.header(_("Layers"))
available = info["feature_layers"]
keep_valid("fm_layers", available, [n for n in available if "conv" in n or "pool" in n])
layers = st.multiselect(_("Layers to show"), available, key="fm_layers", placeholder=_("Choose layers"),
                        persist_state=KEEP)
st.caption(_("Early layers respond to edges and colours; deeper layers, smaller and with more channels, "
             "respond to parts of objects. Pooling halves the size and keeps the strongest responses."))
try:
    maps = inspection.feature_maps(store(), run_id, image, layers) if layers else []
except CoreError as exc:
    show_error(exc)
    maps = []
for pair in range(0, len(maps), 2):  # two layers side by side: each fits one screen
    for col, fmap in zip(st.columns(2), maps[pair: pair + 2]):
        height, width, channels = fmap["shape"]
        grid = tile_channels(fmap["values"], max_channels=64, lut=LUT)
        words = dict(layer=fmap["name"], type=fmap["type"], height=height, width=width, channels=channels)
        col.markdown(_("**{layer}** — {type}, {height}×{width}×{channels} (first 64 channels)").format(**words)
                     if channels > 64 else f"**{fmap['name']}** — {fmap['type']}, {height}×{width}×{channels}")
        shown = min(channels, 64)
        col.image(enlarge(grid, scale=max(1, MAP_PIXELS // max(grid.shape[:2]))), output_format="PNG",
                  width="stretch", alt=ngettext("Feature maps of layer {layer} ({type}, {count} channel of "
                                                "{height}×{width}) for {image}",
                                                "Feature maps of layer {layer} ({type}, {count} channels of "
                                                "{height}×{width}) for {image}", shown)
                  .format(**words, count=shown, image=caption))



def timelapse_ui():
    """The run's time-lapse at one epoch: the probe image's maps and Grad-CAM, the first layer's
    filters, and where that epoch lies on the accuracy curve."""
    folder = store().path(run_id)
    epochs, probe = timelapse.recorded_epochs(folder), timelapse.read_probe(folder)
    if not epochs or probe is None:
        st.info(_("This run has no time-lapse: it was trained before runs recorded one."), icon=":material/info:")
        return
    epoch = epoch_slider_ui("fm_timelapse", epochs)
    indices = probe["indices"]
    keep_valid("fm_timelapse_image", list(range(len(indices))), 0)
    shown = st.radio(_("Probe image"), range(len(indices)), key="fm_timelapse_image", horizontal=True,
                     persist_state=KEEP,
                     format_func=lambda i: f"#{indices[i]} {class_label(names[ds.y_test[indices[i]]])}")
    try:
        snap = timelapse.read_snapshot(folder, epoch)
    except CoreError as exc:
        show_error(exc)
        return
    probe_image = ds.x_test[indices[shown]]
    t1, t2, t3, t4 = st.columns([1, 2, 2, 2])
    t1.image(enlarge(probe_image, size=(128, 128)), caption=_("test image #{index}").format(index=indices[shown]),
             alt=_("Probe image: test image #{index}, {a_class}").format(
                 index=indices[shown], a_class=with_article(class_label(names[ds.y_test[indices[shown]]]))))
    if len(snap["filters"]):
        tiles = tile_images(snap["filters"], columns=8, pad=1)
        count = len(snap["filters"])
        t2.image(enlarge(tiles, scale=max(1, 240 // tiles.shape[1])), output_format="PNG",
                 caption=_("First-layer filters {when}").format(when=when(epoch)),
                 alt=ngettext("The first convolution's {count} filter {when}, as colour patches",
                              "The first convolution's {count} filters {when}, as colour patches", count)
                 .format(count=count, when=when(epoch)))
    for col, role in ((t3, "first"), (t4, "deeper")):
        if f"{role}_maps" in snap:
            maps = snap[f"{role}_maps"][shown].astype(np.float32)
            grid = tile_channels(maps, lut=LUT)
            layer = probe["layers"][role]
            col.image(enlarge(grid, scale=max(1, 240 // max(grid.shape[:2]))), output_format="PNG",
                      caption=f"{layer} {when(epoch)}",
                      alt=ngettext("The first {count} feature map of layer {layer} for the probe image {when}",
                                   "The first {count} feature maps of layer {layer} for the probe image {when}",
                                   maps.shape[-1]).format(count=maps.shape[-1], layer=layer, when=when(epoch)))
    cams, curve = st.columns([1, 1])
    probe_cams_ui(cams, snap, probe_image, shown, names, epoch, probe)
    curve_marker_ui(curve, run_id, epoch, key="fm_timelapse_curve")
    if run["status"] in ("queued", "running"):
        st.caption(_("Still training: epochs appear here as they finish ({count} so far).").format(count=epochs[-1]))


filters = info["filters"]
fixed_filters = len(filters) and not info["filters_train"]  # set before training, never changed
st.header(_("Filters forming, epoch by epoch"))
if not fixed_filters:
    st.caption(_("A time-lapse of training: the same test images and the first layer's filters after every "
                 "epoch. Before training the filters are random noise; epoch by epoch they turn into edge and "
                 "colour detectors, and the maps sharpen from noise into shapes."))
else:
    st.caption(_("A time-lapse of training: the same test images and the first layer's filters after every "
                 "epoch. This network's first layer does not train, so its filters stay as they are; the "
                 "maps of the layers after it sharpen from noise into shapes."))
st.fragment(timelapse_ui, run_every=fragment_every("fm_timelapse", run["status"] in ("queued", "running")))()

st.header(_("The first layer's filters") if fixed_filters else _("What the first layer learned"))
if not fixed_filters:
    st.caption(_("A filter is a small patch of weights (3×3 pixels here) that the first layer slides over the "
                 "image; where the image looks like the patch, its feature map lights up. Training shaped them, "
                 "from random noise, into detectors of edges and colours."))
else:
    st.caption(_("A filter is a small patch of weights ({size}×{size} pixels here) that the first layer slides "
                 "over the image; where the image looks like the patch, its feature map lights up. This "
                 "network's first layer does not train: its filters were set before training and stay as "
                 "they are.").format(size=filters.shape[1]))
f1, f2 = st.columns([1, 2])
if len(filters):
    tiles = tile_images(filters, columns=8, pad=1)
    f1.image(enlarge(tiles, scale=max(1, 320 // tiles.shape[1])), output_format="PNG",
             caption=ngettext("{count} filter of the first convolution, scaled to full contrast",
                              "{count} filters of the first convolution, each scaled to full contrast",
                              len(filters)).format(count=len(filters)),
             alt=ngettext("The {count} filter of the first convolution, as a small colour patch",
                          "The {count} filters of the first convolution, as small colour patches",
                          len(filters)).format(count=len(filters)))


with f2:
    keep_valid("fm_hist_layer", info["weight_layers"], info["weight_layers"][0])
    layer = st.selectbox(_("Weight histogram of"), info["weight_layers"], key="fm_hist_layer", persist_state=KEEP)
    try:
        hist = inspection.weight_histogram(store(), run_id, layer)
    except CoreError as exc:  # VGG16's ImageNet weights, offline
        show_error(exc)
        st.stop()
    st.plotly_chart(figures.weight_histograms(hist, layer), key="fm_hist_chart")
    st.caption(_("Spread of the weights: {initial} freshly initialised, {trained} after training.").format(
        initial=f"{hist['initial_std']:.4f}", trained=f"{hist['trained_std']:.4f}"))

filter_patterns_ui(run_id, info["cam_layers"], ds)
