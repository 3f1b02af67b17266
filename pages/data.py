"""Data: the dataset's state, sample images, class balance and pixel statistics. No TensorFlow here."""

import numpy as np
import streamlit as st

from cifar_core.data import datasets, folder_sets, image_folder, splits
from cifar_core.data.images import enlarge
from cifar_core.errors import CoreError
from cifar_core.i18n import _, number, percent
from cifar_core.runs.classroom import require_uploads, uploads_open
from pages import figures
from pages.identity import caller
from pages.shared import KEEP, class_mode, dataset_title, keep_valid, runs_dir, show_error, translated

class_mode()  # ?mode=class in the address holds for the whole tab
st.title(_("Data"))
st.caption(_("Look at the images before training on them: classes, balance and pixel statistics."))


def import_upload():
    """Callback of the uploader and of the image size: import the zip (once per file and size),
    select the new dataset, and keep a note for the page. A refusal changes nothing else."""
    upload = st.session_state.get("data_upload")
    if upload is None:
        return
    size = st.session_state.get("data_upload_size") or image_folder.DEFAULT_IMAGE_SIZE
    try:
        require_uploads(runs_dir(), caller())
        meta = folder_sets.import_upload(upload.getvalue(), upload.name, size)
    except CoreError as exc:
        st.session_state["data_upload_note"] = ("error", str(exc))
        return
    st.session_state["data_dataset"] = meta["name"]
    st.session_state["data_upload_note"] = ("ok", _("Imported **{title}**: {description}").format(
        title=meta["title"], description=folder_sets.describe_folder_set(meta)))


def upload_ui(name):
    """Your own images: a .zip of class folders becomes a dataset of this server, selected above."""
    note = st.session_state.get("data_upload_note")
    opened = bool(note) and (note[0] == "error" or name.startswith(splits.FOLDER_PREFIX))
    with st.expander(_("Your own images: a .zip of class folders"), icon=":material/upload:", expanded=opened):
        for path, _folder, error in folder_sets.configured_folders():
            if error:  # the server's own folders: for whoever runs it
                st.warning(_("{variable} names {path}, which was refused: {error}").format(
                    variable=folder_sets.FOLDERS_ENV, path=path, error=error), icon=":material/warning:")
        if not uploads_open(runs_dir(), caller()):
            st.info(_("The teacher has turned uploads off for this class."), icon=":material/block:")
            return
        if not folder_sets.uploads_allowed():
            st.info(_("This server takes no uploads ({uploads_variable}=off). Ask whoever runs it to "
                      "add your images with {folders_variable}.").format(
                uploads_variable=folder_sets.UPLOADS_ENV, folders_variable=folder_sets.FOLDERS_ENV),
                icon=":material/block:")
            return
        st.markdown(_(
            "One folder of images per class (`cats/…`, `dogs/…`): at least {min_classes} classes of "
            "{min_images} images each, at most {max_images} images and "
            "{max_megabytes} MB unpacked, {upload_megabytes} MB "
            "as uploaded. PNG, JPEG, GIF, BMP or WebP; other files are skipped. Each image is cropped to its "
            "centre square and resized, and {test_share} of each class is kept back for "
            "testing. The set stays on this server, for everyone who uses it.").format(
            min_classes=image_folder.MIN_CLASSES, min_images=image_folder.MIN_IMAGES_PER_CLASS,
            max_images=number(image_folder.MAX_IMAGES), max_megabytes=image_folder.MAX_TOTAL_BYTES // 1_000_000,
            upload_megabytes=st.get_option("server.maxUploadSize"), test_share=percent(image_folder.TEST_SHARE, 0)))
        c1, c2 = st.columns([1, 3])
        sizes = list(image_folder.IMAGE_SIZES)
        c1.selectbox(_("Image size"), sizes, index=sizes.index(image_folder.DEFAULT_IMAGE_SIZE), key="data_upload_size",
                     format_func=lambda s: _("{size}×{size} pixels").format(size=s), on_change=import_upload,
                     persist_state=KEEP,
                     help=_("Larger images keep more detail and train more slowly. CIFAR-10 is 32×32."))
        c2.file_uploader(_("Zip of class folders"), type=["zip"], key="data_upload", on_change=import_upload)
        if note and note[0] == "ok":
            st.success(note[1], icon=":material/check_circle:")
        elif note:
            show_error(note[1])


names = datasets.dataset_names()
keep_valid("data_dataset", names, names[0])
name = st.selectbox(_("Dataset"), names, key="data_dataset", persist_state=KEEP, format_func=dataset_title)
info = datasets.dataset_info(name)
title = dataset_title(name)
st.write(translated(info.description))
upload_ui(name)


@st.fragment(run_every=1.0)
def download_progress_ui(name):
    state = datasets.download_state(name)
    if state is None or state["finished"]:
        st.rerun()  # done: redraw the whole page with the data
    total = state["total"]
    done = f"{state['done'] / 1e6:.1f}"
    if total:
        text = _("Downloading {dataset}: {done} MB of {total} MB").format(
            dataset=dataset_title(name), done=done, total=f"{total / 1e6:.1f}")
    else:
        text = _("Downloading {dataset}: {done} MB").format(dataset=dataset_title(name), done=done)
    st.progress(state["done"] / total if total else 0.0, text=text)


state = datasets.download_state(name)
if not info.is_local():
    if state and not state["finished"]:
        download_progress_ui(name)
        st.stop()
    if state and state["error"]:
        show_error(state["error"])
    st.warning(_("{dataset} is not on this machine.").format(dataset=title), icon=":material/cloud_off:")
    st.markdown(_("- Download it now into the Keras cache (once; it is then available offline), or\n"
                  "- set `{variable}` to a copy and restart the app, or\n"
                  "- use **Digits (offline)**, which needs no download.").format(variable=info.env_var))
    if st.button(_("Download {dataset}").format(dataset=title), key="data_download", icon=":material/download:"):
        datasets.start_download(name)
        st.rerun()
    st.stop()

try:
    with st.spinner(_("Loading the dataset …")):
        ds = datasets.load_dataset(name)  # parsed once per server; the core keeps a few datasets
except CoreError as exc:
    show_error(exc)
    st.stop()
st.success(_("Ready: {train} training and {test} test images of {shape}, from {source}.").format(
    train=number(len(ds.y_train)), test=number(len(ds.y_test)),
    shape=f"{ds.image_shape[0]}×{ds.image_shape[1]}×{ds.image_shape[2]}", source=ds.source),
    icon=":material/check_circle:")

# ---- sample grid -------------------------------------------------------------------
st.header(_("Sample images"))
st.caption(_("Each image is a small grid of pixels, and each pixel holds a red, a green and a blue value from "
             "0 (dark) to 255 (bright). Its label is the class a person gave it: what the network learns to "
             "predict from the pixels alone."))
st.session_state.setdefault("data_seed", 0)


def reshuffle():
    st.session_state["data_seed"] = int(st.session_state["data_seed"] or 0) + 1


c1, c2, c3, c4 = st.columns([3, 1, 1, 1], vertical_alignment="bottom")
keep_valid("data_classes", ds.class_names, [])
classes = c1.multiselect(_("Classes"), ds.class_names, key="data_classes", placeholder=_("All classes"),
                         format_func=datasets.class_label, persist_state=KEEP)
size = c2.slider(_("Grid size"), 3, 10, 6, key="data_grid", persist_state=KEEP)
seed = c3.number_input(_("Seed"), 0, 10**6, key="data_seed", persist_state=KEEP)
c4.button(_("Reshuffle"), key="data_reshuffle", icon=":material/shuffle:", on_click=reshuffle)
wanted = [ds.class_names.index(c) for c in classes] or list(range(ds.num_classes))
pool = np.flatnonzero(np.isin(ds.y_train, wanted))
shown = splits.sample_indices(pool, size * size, seed)


def class_text(index):
    """The class of training image `index`, as a person reads it."""
    return datasets.class_label(ds.class_names[ds.y_train[index]])


def image_text(index):
    return f"{class_text(index)} #{index}"


grid, detail = st.columns([3, 1])
with grid:
    for row in range(0, len(shown), size):
        cols = st.columns(size)
        for col, index in zip(cols, shown[row: row + size]):
            col.image(enlarge(ds.x_train[index], scale=max(1, 64 // ds.image_shape[0])),
                      caption=image_text(index), width="stretch",
                      alt=_("Training image #{index}, class {label}").format(index=index, label=class_text(index)))
with detail:
    keep_valid("data_selected", shown.tolist(), int(shown[0]))
    pick = st.selectbox(_("Enlarge image"), shown.tolist(), key="data_selected", persist_state=KEEP,
                        format_func=lambda i: f"#{i} · {class_text(i)}")
    st.image(enlarge(ds.x_train[pick], size=(256, 256)), width=256,
             alt=_("Training image #{index}, class {label}, enlarged").format(index=pick, label=class_text(pick)))
    st.markdown(_("**{label}** (label {number}), training image #{index}").format(
        label=class_text(pick), number=ds.y_train[pick], index=pick))

# ---- balance and statistics ----------------------------------------------------------
st.header(_("Classes and pixels"))


@st.cache_data(show_spinner=_("Computing statistics …"), max_entries=8)
def get_statistics(name):
    """Class counts per split, channel mean/std of the training split and pixel histograms."""
    ds = datasets.load_dataset(name)
    split = splits.split_dataset(ds, splits.DEFAULT_VAL_SPLIT, splits.DEFAULT_SEED)
    mean, std = splits.channel_stats(ds.x_train, split.train)
    counts = {"train": splits.class_counts(ds.y_train[split.train], ds.num_classes),
              "validation": splits.class_counts(ds.y_train[split.val], ds.num_classes),
              "test": splits.class_counts(ds.y_test, ds.num_classes)}
    return counts, mean, std, splits.pixel_histograms(ds.x_train[split.train[:2000]], mean, std)


counts, mean, std, hist = get_statistics(name)
# The splits' names as the legend shows them (the keys stay English: the statistics are cached for every tab).
split_names = {"train": _("train"), "validation": _("validation"), "test": _("test")}
st.plotly_chart(figures.class_counts({split_names[split]: values for split, values in counts.items()},
                                     [datasets.class_label(c) for c in ds.class_names]), key="data_counts_chart")
st.caption(_("Bars: the images of each class in the training set (what the network learns from), the "
             "validation set (a stratified {share} of the training images, seed "
             "{seed}, checked after every epoch) and the test set (kept back for the final score, "
             "never used in training). Equal bars mean no class is favoured.").format(
    share=percent(splits.DEFAULT_VAL_SPLIT, 0), seed=splits.DEFAULT_SEED))

channel_names = [_("red"), _("green"), _("blue")] if len(mean) == 3 else [_("grey")]
st.dataframe({_("Channel"): channel_names, _("Mean"): mean.round(2), _("Standard deviation"): std.round(2)},
             hide_index=True)
h1, h2 = st.columns(2)
h1.plotly_chart(figures.histogram(*hist["raw"], _("Pixels before standardisation (0–255)")), key="data_hist_raw")
h2.plotly_chart(figures.histogram(*hist["standardised"], _("After standardisation (mean 0, std 1)"),
                                  colour=figures.VAL), key="data_hist_std")
st.caption(_("Standardisation subtracts each channel's mean and divides by its standard deviation (the table "
             "above), so the pixels centre on 0 with a spread of about 1: a network learns faster from inputs on "
             "one scale. Models do it inside themselves, with the training split's statistics; images stay 8-bit."))
