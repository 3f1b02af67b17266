"""Evaluate: test accuracy, a confusion matrix you can click into, per-class scores, downloads."""

import numpy as np
import streamlit as st

from cifar_core.curves import batch_series, history_csv
from cifar_core.datasets import sample_indices
from cifar_core.errors import CoreError
from cifar_core.images import enlarge
from pages import figures
from pages.shared import dataset, keep_choices, pick_run_ui, runs_dir, show_error, store

keep_choices()

st.title("Evaluate")
st.caption("How a trained network does on test images it has never seen, class by class.")

run, config = pick_run_ui("eval_run")
run_id = run["run_id"]
model_path = store().model_path(run_id)


@st.cache_data(show_spinner=False, max_entries=16)
def get_evaluation(directory, run_id, model_file, mtime_ns):
    """The run's stored evaluation, read once per model version."""
    from cifar_core.evaluation import evaluate_run
    return evaluate_run(store(), run_id)


try:
    from cifar_core.evaluation import cached_evaluation, evaluate_run
    if cached_evaluation(store(), run_id) is None:  # first time: evaluate with a progress bar
        bar = st.progress(0.0, text="Evaluating on the test set …")
        evaluate_run(store(), run_id, progress=lambda done, total: bar.progress(
            done / total, text=f"Evaluating {done:,} of {total:,} test images"))
        bar.empty()
    result = get_evaluation(runs_dir(), run_id, model_path.name, model_path.stat().st_mtime_ns)
    ds = dataset(config["dataset"])
except CoreError as exc:
    show_error(exc)
    st.stop()
names = result["class_names"]

c1, c2, c3, c4 = st.columns(4)
c1.metric("Test accuracy", f"{result['accuracy']:.1%}")
c2.metric("Test loss", f"{result['loss']:.3f}")
c3.metric("Test images", f"{result['n']:,}")
c4.metric("Model", model_path.stem, help=f"The {model_path.stem} weights of a {run['status']} run "
          "(best: lowest validation loss).")

# ---- confusion matrix ----------------------------------------------------------------
st.subheader("Confusion matrix")
normalized = st.toggle("Row-normalised (share of each true class)", key="eval_normalize")
matrix = result["confusion_matrix_normalized"] if normalized else result["confusion_matrix"]
event = st.plotly_chart(figures.confusion_matrix(matrix, names, normalized), key="eval_matrix",
                        on_select="rerun", selection_mode="points")
points = event.selection.points if event and event.selection else []
if points and points[0].get("x") in names and points[0].get("y") in names:
    picked = (points[0]["y"], points[0]["x"])
    if st.session_state.get("eval_last_click") != picked:  # a new click wins over the selectboxes once
        st.session_state["eval_last_click"] = picked
        st.session_state["eval_true"], st.session_state["eval_pred"] = picked
st.caption("Click a cell, or choose a pair below, to see its test images.")
t1, t2, _ = st.columns([1, 1, 2])
true_name = t1.selectbox("True class", names, key="eval_true")
pred_name = t2.selectbox("Predicted class", names, key="eval_pred", index=1 % len(names))
cell = result["cells"][names.index(true_name)][names.index(pred_name)]
verdict = "correct" if true_name == pred_name else "mistaken"
st.markdown(f"**{len(cell)}** test images of **{true_name}** predicted as **{pred_name}** ({verdict}).")
scale = max(1, 64 // ds.image_shape[0])
if cell:
    cols = st.columns(10)
    for i, index in enumerate(cell[:30]):
        cols[i % 10].image(enlarge(ds.x_test[index], scale=scale), caption=f"#{index}", width="stretch")

# ---- per-class scores and a grid of predictions ----------------------------------------
st.subheader("Per-class precision, recall and F1")
st.dataframe(result["report"], hide_index=True, key="eval_report",
             column_config={c: st.column_config.ProgressColumn(c, min_value=0, max_value=1, format="%.2f")
                            for c in ("precision", "recall", "f1")})

st.subheader("Predictions on test images")
g1, g2, g3 = st.columns([1, 1, 2])
only_wrong = g1.toggle("Only mistakes", key="eval_only_wrong")
seed = g2.number_input("Sample seed", 0, 10**6, 0, key="eval_grid_seed")
predictions = np.asarray(result["predictions"])
pool = np.flatnonzero(predictions != ds.y_test) if only_wrong else np.arange(len(predictions))
sample = sample_indices(pool, 20, seed)
cols = st.columns(10)
for i, index in enumerate(sample):
    right = predictions[index] == ds.y_test[index]
    caption = (f"right: {names[predictions[index]]}" if right
               else f"WRONG: {names[predictions[index]]} (true {names[ds.y_test[index]]})")
    cols[i % 10].image(enlarge(ds.x_test[index], scale=scale), caption=caption, width="stretch")

# ---- curves and downloads --------------------------------------------------------------
st.subheader("Learning curves")
history = store().history(run_id)
batches = batch_series(history)
l1, l2 = st.columns(2)
l1.plotly_chart(figures.learning_curve("loss", history["epochs"], batches), key="eval_loss_chart")
l2.plotly_chart(figures.learning_curve("accuracy", history["epochs"], batches), key="eval_accuracy_chart")
d1, d2, _ = st.columns([1, 1, 2])
d1.download_button("Download model (.keras)", model_path.read_bytes(), file_name=f"{run_id}.keras",
                   key="eval_download_model", icon=":material/download:")
d2.download_button("Download history (CSV)", history_csv(history["epochs"]), file_name=f"{run_id}-history.csv",
                   mime="text/csv", key="eval_download_history", icon=":material/download:")
