"""Every view at one epoch of a run's training: the epoch slider with Play, the learning curves'
marker, the validation confusion matrix and a cell's count over the epochs (Evaluate), and the
probe's Grad-CAM (Feature maps). What it reads was recorded by the time-lapse."""

import time

import numpy as np
import streamlit as st

from cifar_core.data.datasets import class_label
from cifar_core.data.images import heatmap_overlay
from cifar_core.errors import CoreError
from cifar_core.i18n import _, percent
from cifar_core.runs import timelapse
from pages import figures
from pages.shared import KEEP, follow_clicked_cell, keep_valid, show_error, store

PLAY_SECONDS = 1.0  # a step of Play: long enough to read the matrix and maps that changed
LIVE_SECONDS = 3  # a training run's new epochs appear this often


def when(epoch):
    """'before training' or 'after epoch 3', in the reader's language."""
    return _("before training") if epoch == 0 else _("after epoch {epoch}").format(epoch=epoch)


def fragment_every(prefix, live):
    """How often the epoch view of `prefix` reruns by itself: each step while it plays, every few
    seconds while the run trains (new epochs), else never."""
    if st.session_state.get(f"{prefix}_playing"):
        return PLAY_SECONDS
    return LIVE_SECONDS if live else None


def _toggle_play(prefix, epochs):
    playing = not st.session_state.get(f"{prefix}_playing", False)
    st.session_state[f"{prefix}_playing"] = st.session_state[f"{prefix}_was_playing"] = playing
    st.session_state[f"{prefix}_step_due"] = time.monotonic() + PLAY_SECONDS  # the epoch shown stays a step
    if playing and st.session_state.get(f"{prefix}_epoch") == epochs[-1]:
        st.session_state[f"{prefix}_epoch"] = epochs[0]  # Play at the end starts again


def epoch_slider_ui(prefix, epochs):
    """The slider over the recorded `epochs` (0: before training) with Play/Pause; returns the epoch
    shown. While playing, the fragment's rerun steps one recorded epoch on once a step is due (other
    reruns do not hurry it), and the last one stops it (the page reruns so that its fragment stops
    repeating)."""
    key, playing_key, due_key = f"{prefix}_epoch", f"{prefix}_playing", f"{prefix}_step_due"
    if len(epochs) == 1:  # a slider needs two ends
        st.caption(_("Only one epoch is recorded so far: {when}.").format(when=when(epochs[0])))
        return epochs[0]
    keep_valid(key, epochs, epochs[-1])
    if st.session_state.get(playing_key) and time.monotonic() >= st.session_state.get(due_key, 0):
        st.session_state[due_key] = time.monotonic() + 0.8 * PLAY_SECONDS  # the timer may tick a little early
        later = [e for e in epochs if e > st.session_state[key]]
        if later:
            st.session_state[key] = later[0]
        if len(later) <= 1:  # the last epoch: Play ends on it
            st.session_state[playing_key] = False
    playing = st.session_state.get(playing_key, False)
    slider, play = st.columns([8, 1], vertical_alignment="bottom")
    epoch = slider.select_slider(_("Epoch"), epochs, key=key, persist_state=KEEP, format_func=when)
    if play.button(_("Pause") if playing else _("Play"), key=f"{prefix}_play", width="stretch",
                   icon=":material/pause:" if playing else ":material/play_arrow:",
                   on_click=_toggle_play, args=(prefix, epochs),
                   help=_("Step through the epochs, one a second")):
        st.rerun()  # the fragment starts or stops repeating: only a whole-page run changes that
    if st.session_state.get(f"{prefix}_was_playing") and not playing:
        st.session_state[f"{prefix}_was_playing"] = False
        st.rerun()  # it reached the last epoch: the fragment stops repeating
    st.session_state[f"{prefix}_was_playing"] = playing
    return epoch


@st.cache_data(show_spinner=False, max_entries=8)
def _confusions(run_folder, num_classes, epochs):
    """The recorded matrices, read again only when an epoch was added (`epochs` is in the key)."""
    return timelapse.confusion_over_epochs(run_folder, num_classes)


def validation_epochs_ui(run_id, names, history):
    """Evaluate's epoch view: the slider, the curves' marker, that epoch's validation confusion matrix
    and, for a chosen cell, its count over the epochs."""
    folder = store().path(run_id)
    epochs = timelapse.prediction_epochs(folder)
    if not epochs:
        st.info(_("This run has no validation predictions per epoch: it was trained before they were "
                  "recorded. Train it again to watch its confusion matrix form."), icon=":material/info:")
        return
    epoch = epoch_slider_ui("eval_epochs", epochs)
    recorded, matrices = _confusions(folder, len(names), tuple(epochs))
    matrix = matrices[recorded.index(epoch)]
    accuracy = np.trace(matrix) / max(1, matrix.sum())
    curve, grid = st.columns([2, 3])
    curve.plotly_chart(figures.learning_curve("accuracy", history["epochs"], marker_epoch=epoch, height=420,
                                              title=_("Accuracy, and the epoch shown")), key="eval_epochs_curve")
    curve.metric(_("Validation accuracy {when}").format(when=when(epoch)), percent(accuracy))
    event = grid.plotly_chart(figures.confusion_matrix(matrix, names, False, height=420), key="eval_epochs_matrix",
                              on_select="rerun", selection_mode="points")
    follow_clicked_cell(event, names, "eval_epochs")
    last = matrices[-1] - np.diag(np.diag(matrices[-1]))
    true, predicted = np.unravel_index(last.argmax(), last.shape)  # the most confused pair at the end
    keep_valid("eval_epochs_true", names, names[true])
    keep_valid("eval_epochs_pred", names, names[predicted] if last.any() else names[1 % len(names)])
    st.caption(_("The validation images' confusion matrix {when} (rows: true class, columns: predicted). Click a "
                 "cell, or choose a pair, to follow its count over the epochs.").format(when=when(epoch)))
    t1, t2, chart = st.columns([1, 1, 3])
    true_name = t1.selectbox(_("True class to follow"), names, key="eval_epochs_true", persist_state=KEEP,
                             format_func=class_label)
    pred_name = t2.selectbox(_("Predicted class to follow"), names, key="eval_epochs_pred", persist_state=KEEP,
                             format_func=class_label)
    counts = matrices[:, names.index(true_name), names.index(pred_name)]
    chart.plotly_chart(figures.cell_over_epochs(recorded, counts, true_name, pred_name, epoch),
                       key="eval_epochs_cell_chart")


def probe_cams_ui(column, snapshot, image, shown, names, epoch, probe):
    """The probe image (`shown` of the `probe`) Grad-CAM at this epoch for its true and its predicted
    class, in `column`."""
    layer = probe.get("cam_layer")
    if "cam_layer" in probe and layer is None:
        column.caption(_("This network has no convolution to explain with Grad-CAM."))
        return
    if "cam" not in snapshot:
        column.caption(_("This run's time-lapse has no Grad-CAM: it was recorded before Grad-CAM was."))
        return
    (true, predicted), cams = snapshot["cam_classes"][shown], snapshot["cam"][shown] / 255.0
    panels = [(0, _("true class, {name}").format(name=class_label(names[true])))]
    if predicted != true:
        panels.append((1, _("predicted, {name}").format(name=class_label(names[predicted]))))
    for (slot, role), col in zip(panels, column.columns(2)):
        col.image(heatmap_overlay(image, cams[slot], figures.CAM_LUT, size=(128, 128)),
                  caption=_("Grad-CAM: {role}").format(role=role), width=128,
                  alt=_("Grad-CAM {when} over the probe image: where layer {layer} found evidence for {role}, "
                        "bright where it is strongest").format(when=when(epoch), layer=layer, role=role))
    verdict = (_("{when} the network was right on this image.") if predicted == true
               else _("{when} the network was wrong ({predicted}) on this image."))
    column.caption(verdict.format(when=when(epoch).capitalize(), predicted=class_label(names[predicted])))


def curve_marker_ui(column, run_id, epoch, key):
    """The run's accuracy curve with the epoch shown marked, in `column`."""
    try:
        history = store().history(run_id)
    except CoreError as exc:
        show_error(exc)
        return
    column.plotly_chart(figures.learning_curve("accuracy", history["epochs"], marker_epoch=epoch, height=260,
                                               title=_("Accuracy, and the epoch shown")), key=key)
