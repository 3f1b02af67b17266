"""Evaluate: test accuracy, a confusion matrix you can click into, per-class scores, confident
mistakes and calibration, a comparison with another run, downloads, and the run epoch by epoch."""

import math

import numpy as np
import streamlit as st

from cifar_core.data.datasets import class_label, load_dataset
from cifar_core.data.images import enlarge
from cifar_core.data.splits import sample_indices
from cifar_core.errors import CoreError
from cifar_core.i18n import _, number, percent
from cifar_core.runs.curves import batch_series, history_csv
from cifar_core.runs.store import RunStore
from cifar_core.server import inspection
from pages import figures
from pages.compare_ui import compare_ui
from pages.epochs_ui import fragment_every, validation_epochs_ui
from pages.mistakes_ui import image_alt, mistakes_ui, why_link
from pages.model_export_ui import model_export_ui
from pages.projector_ui import projector_ui
from pages.recipe_ui import recipe_actions_ui
from pages.shared import (
    KEEP,
    class_mode,
    follow_clicked_cell,
    keep_valid,
    pick_run_ui,
    runs_dir,
    show_error,
    status_label,
    store,
)

CELL_PAGE = 30  # images of one matrix cell shown at a time

class_mode()  # ?mode=class in the address holds for the whole tab
st.title(_("Evaluate"))
st.caption(_("How a trained network does on test images it has never seen, class by class."))

run, config = pick_run_ui("eval_run")
run_id = run["run_id"]
recipe_actions_ui(store(), run_id)  # a link, the recipe and a Keras script of this run


@st.cache_data(show_spinner=False, max_entries=16)
def get_evaluation(directory, run_id, model_file, mtime_ns, size):
    """The run's stored evaluation of one model version, read from its folder and derived here."""
    return RunStore(directory).require_evaluation(run_id, {"model": model_file, "mtime_ns": mtime_ns, "size": size})


try:
    stamp = store().model_stamp(run_id)
    if not store().has_evaluation(run_id, stamp):  # first time for this model: the worker evaluates it
        bar = st.progress(0.0, text=_("Evaluating on the test set …"))
        evaluating = _("Evaluating {done} of {total} test images")
        evaluated = inspection.evaluate(store(), run_id, progress=lambda done, total: bar.progress(
            done / total, text=evaluating.format(done=number(done), total=number(total))))
        stamp = {**stamp, **evaluated["stamp"]}  # what it evaluated: a newer model if one came meanwhile
        bar.empty()
    result = get_evaluation(runs_dir(), run_id, stamp["model"], stamp["mtime_ns"], stamp["size"])
    ds = load_dataset(config["dataset"])
except CoreError as exc:
    show_error(exc)
    st.stop()
names = result["class_names"]
model_name = stamp["model"].removesuffix(".keras")

c1, c2, c3, c4 = st.columns(4)
c1.metric(_("Test accuracy"), percent(result['accuracy']))
c2.metric(_("Test loss"), f"{result['loss']:.3f}")
c3.metric(_("Test images"), number(result['n']))
c4.metric(_("Model"), model_name, help=_("The {model} weights of a {status} run (best: lowest validation loss).")
          .format(model=model_name, status=status_label(run["status"])))
st.caption(_("Test accuracy is the share of the test images, never used in training, that the network labels "
             "right. Test loss also counts how sure it was of the right class: lower is better."))

# ---- confusion matrix ----------------------------------------------------------------
st.header(_("Confusion matrix"))
st.caption(_("Each row is a true class, each column the class the network predicted: the diagonal "
             "holds the right answers, and a bright cell off it is a pair of classes the network confuses. A "
             "row adds up to the test images of its class; row-normalised, to 1."))
normalized = st.toggle(_("Row-normalised (share of each true class)"), key="eval_normalize", persist_state=KEEP)
matrix = result["confusion_matrix_normalized"] if normalized else result["confusion_matrix"]
event = st.plotly_chart(figures.confusion_matrix(matrix, names, normalized), key="eval_matrix",
                        on_select="rerun", selection_mode="points")
follow_clicked_cell(event, names, "eval")
st.caption(_("Click a cell, or choose a pair below, to see its test images."))
# Defaults through session state only (a widget given both an index and a session value warns).
keep_valid("eval_true", names, names[0])
keep_valid("eval_pred", names, names[1 % len(names)])
t1, t2, _spare = st.columns([1, 1, 2])
true_name = t1.selectbox(_("True class"), names, key="eval_true", persist_state=KEEP, format_func=class_label)
pred_name = t2.selectbox(_("Predicted class"), names, key="eval_pred", persist_state=KEEP, format_func=class_label)
cell = result["cells"][names.index(true_name)][names.index(pred_name)]  # ascending indices
verdict = _("correct") if true_name == pred_name else _("mistaken")
pages = max(1, math.ceil(len(cell) / CELL_PAGE))
cell_words = (_("**{count}** test images of **{true}** predicted as **{predicted}** ({verdict}), {per_page} a page.")
              if pages > 1 else _("**{count}** test images of **{true}** predicted as **{predicted}** ({verdict})."))
st.markdown(cell_words.format(count=len(cell), true=class_label(true_name), predicted=class_label(pred_name),
                              verdict=verdict, per_page=CELL_PAGE))
scale = max(1, 64 // ds.image_shape[0])
if len(cell):
    page = st.pagination(pages, key=f"eval_cell_page_{true_name}_{pred_name}") if pages > 1 else 1
    first = (page - 1) * CELL_PAGE
    shown = cell[first: first + CELL_PAGE]
    if pages > 1:
        st.caption(_("Images {first}–{last} of {total}.").format(first=first + 1, last=first + len(shown),
                                                                 total=len(cell)))
    cols = st.columns(10)
    for i, index in enumerate(shown):
        cols[i % 10].image(enlarge(ds.x_test[index], scale=scale), caption=f"#{index}", width="stretch",
                           alt=_("Test image #{index}, a true {true} predicted as {predicted}").format(
                               index=index, true=class_label(true_name), predicted=class_label(pred_name)))

# ---- per-class scores and a grid of predictions ----------------------------------------
st.header(_("Per-class precision, recall and F1"))
st.caption(_("Precision: of the images the network called this class, the share that were. Recall: of "
             "the images of this class, the share it found. High precision with low recall: a class it rarely "
             "claims but often misses; the reverse, one it claims too often. F1 balances the two."))
score_titles = {"precision": _("Precision"), "recall": _("Recall"), "f1": "F1"}
st.dataframe([{**row, "class": class_label(row["class"])} for row in result["report"]], hide_index=True,
             key="eval_report",
             column_config={"class": st.column_config.Column(_("Class")),
                            "support": st.column_config.NumberColumn(_("Test images")),
                            **{c: st.column_config.ProgressColumn(title, min_value=0, max_value=1, format="%.2f")
                               for c, title in score_titles.items()}})

st.header(_("Predictions on test images"))
st.caption(_("Twenty test images with the class the network gave each; switch on Only mistakes to see "
             "where it goes wrong, and Why? under a mistake to see where the network looked."))
g1, g2, _spare = st.columns([1, 1, 2], vertical_alignment="bottom")
only_wrong = g1.toggle(_("Only mistakes"), key="eval_only_wrong", persist_state=KEEP)
seed = g2.number_input(_("Sample seed"), 0, 10**6, key="eval_grid_seed", persist_state=KEEP)
predictions = np.asarray(result["predictions"])
pool = np.flatnonzero(predictions != ds.y_test) if only_wrong else np.arange(len(predictions))
cols = st.columns(10)
for i, index in enumerate(sample_indices(pool, 20, seed)):
    guess, truth = names[predictions[index]], names[ds.y_test[index]]
    right = guess == truth
    cols[i % 10].image(enlarge(ds.x_test[index], scale=scale), width="stretch",
                       caption=_("right: {guess}").format(guess=class_label(guess)) if right else
                       _("WRONG: {guess} (true {truth})").format(guess=class_label(guess), truth=class_label(truth)),
                       alt=image_alt(index, truth, guess))
    if not right:
        why_link(cols[i % 10], run_id, index, guess, truth)

mistakes_ui(run_id, result, ds, scale)
projector_ui(run_id, names, ds, result["predictions"])

# ---- run against run -------------------------------------------------------------------
compare_ui(run_id, config, ds)

# ---- curves and downloads --------------------------------------------------------------
st.header(_("Learning curves"))
try:
    history = store().history(run_id)
    model_path = store().model_path(run_id)
except CoreError as exc:  # deleted from another tab meanwhile
    show_error(exc)
    st.stop()
batches = batch_series(history)
st.caption(_("How loss and accuracy moved during training, on the training images and on the validation "
             "images held out from them: a validation curve that turns while the training curve keeps "
             "improving shows overfitting."))
l1, l2 = st.columns(2)
l1.plotly_chart(figures.learning_curve("loss", history["epochs"], batches), key="eval_loss_chart")
l2.plotly_chart(figures.learning_curve("accuracy", history["epochs"], batches), key="eval_accuracy_chart")

with st.container(horizontal=True):
    if model_path is not None:  # read when clicked, not on every rerun (a VGG16 file is large)
        st.download_button(_("Download model (.keras)"), model_path.read_bytes, file_name=f"{run_id}.keras",
                           key="eval_download_model", icon=":material/download:")
    st.download_button(_("Download history (CSV)"), history_csv(history["epochs"]),
                       file_name=f"{run_id}-history.csv", mime="text/csv", key="eval_download_history",
                       icon=":material/download:")
model_export_ui(run_id, stamp)

st.header(_("Epoch by epoch"))
st.caption(_("How the network got here: its confusion matrix on the validation images after each epoch. "
             "Move the slider, or press Play, and watch the diagonal fill as it learns to tell classes apart."))
st.fragment(validation_epochs_ui, run_every=fragment_every("eval_epochs", False))(run_id, names, history)
