"""Feature maps: what each layer of a trained network responds to, for a test image or your photo."""

import numpy as np
import streamlit as st

from cifar_core.errors import CoreError
from cifar_core.images import enlarge, tile_images, to_model_image
from cifar_core.inspection import (feature_layers, feature_maps, first_conv_filters, fresh_model,
                                   predict_image, tile_channels, weight_histogram, weight_layers)
from pages import figures
from pages.shared import dataset, keep_choices, pick_run_ui, run_model, show_error, store

keep_choices()

st.title("Feature maps")
st.caption("Feed one image through a trained network and see every layer's channels light up.")

run, config = pick_run_ui("fm_run")
run_id = run["run_id"]
shape = tuple(config["image_shape"])
try:
    model = run_model(run_id)
    ds = dataset(config["dataset"])
except CoreError as exc:
    show_error(exc)
    st.stop()
names = config["class_names"]


def image_choice_ui():
    """The image to inspect, as uint8 (H, W, C), and a caption; None if there is none yet."""
    source = st.radio("Image", ["By index", "By class", "At random", "Upload a photo"], key="fm_source",
                      horizontal=True)
    if source == "By index":
        index = st.number_input("Test image index", 0, len(ds.y_test) - 1, 0, key="fm_index")
    elif source == "By class":
        chosen = st.selectbox("Class", names, key="fm_class")
        pool = np.flatnonzero(ds.y_test == names.index(chosen))
        index = int(pool[st.session_state.get("fm_class_pick", 0) % len(pool)])
        if st.button("Another one", key="fm_class_next"):
            st.session_state["fm_class_pick"] = st.session_state.get("fm_class_pick", 0) + 1
            st.rerun()
    elif source == "At random":
        if st.button("Pick another", key="fm_random_next") or "fm_random_index" not in st.session_state:
            st.session_state["fm_random_index"] = int(np.random.default_rng().integers(len(ds.y_test)))
        index = st.session_state["fm_random_index"]
    else:
        upload = st.file_uploader("PNG or JPEG photo", type=["png", "jpg", "jpeg", "gif", "bmp", "webp"],
                                  key="fm_upload")
        if upload is None:
            st.info("Upload a photo to see what the network makes of it.", icon=":material/upload:")
            return None, None
        try:
            return to_model_image(upload.getvalue(), shape), f"your photo {upload.name}"
        except CoreError as exc:
            show_error(exc)
            return None, None
    return ds.x_test[index], f"test image #{index}, a {names[ds.y_test[index]]}"


image, caption = image_choice_ui()
if image is None:
    st.stop()

left, right = st.columns([1, 2])
left.image(enlarge(image, size=(224, 224)), caption=f"{caption}, as the model sees it ({shape[0]}×{shape[1]})")
right.plotly_chart(figures.top_predictions(predict_image(model, image, names)), key="fm_predictions")

st.subheader("Layers")
available = feature_layers(model)
default = [n for n in available if "conv" in n or "pool" in n]
layers = st.multiselect("Layers to show", available, default=default, key="fm_layers")
maps = feature_maps(model, image, layers) if layers else []
for fmap in maps:
    height, width, channels = fmap["shape"]
    grid = tile_channels(fmap["values"], max_channels=64)
    st.markdown(f"**{fmap['name']}** — {fmap['type']}, {height}×{width}×{channels}"
                + (" (first 64 channels)" if channels > 64 else ""))
    scale = max(1, 480 // max(grid.shape))
    st.image(enlarge(grid, scale=scale), output_format="PNG")

st.subheader("What the first layer learned")
f1, f2 = st.columns([1, 2])
filters = first_conv_filters(model)
if len(filters):
    tiles = tile_images(filters, columns=8, pad=1)
    f1.image(enlarge(tiles, scale=max(1, 320 // tiles.shape[1])),
             caption=f"{len(filters)} filters of the first convolution, each scaled to full contrast",
             output_format="PNG")


@st.cache_resource(show_spinner=False, max_entries=4)
def get_fresh_model(run_id):
    return fresh_model(store().config(run_id))


with f2:
    layer = st.selectbox("Weight histogram of", weight_layers(model), key="fm_hist_layer")
    hist = weight_histogram(model, get_fresh_model(run_id), layer)
    st.plotly_chart(figures.weight_histograms(hist, layer), key="fm_hist_chart")
    st.caption(f"Spread of the weights: {hist['initial_std']:.4f} freshly initialised, "
               f"{hist['trained_std']:.4f} after training.")
