"""Class board: every run of the class, a leaderboard, the settings against test accuracy and the
common failures in words. Students see it while the teacher shows it. No TensorFlow here."""

import streamlit as st

from cifar_core.errors import CoreError
from cifar_core.runs import board
from cifar_core.runs.classroom import read_controls
from cifar_core.runs.store import ACTIVE
from cifar_core.server import inspection
from pages import figures
from pages.identity import caller
from pages.shared import arch_title, plain, run_started, runs_dir, show_error, store

st.title("Class board")
st.caption("Every run of the class side by side: whose settings did best, and why the others did not.")

who = caller()
if not (who.teacher or read_controls(runs_dir()).board_visible):
    st.info("The teacher has not shown the class board yet.", icon=":material/visibility_off:")
    st.stop()

rows = board.board_rows(store())
if not rows:
    st.info("No runs yet: they appear here as soon as someone starts one on the Train page.", icon=":material/info:")
    st.stop()


def evaluate_all_ui(rows):
    """The teacher's button: every finished run not yet evaluated, on the test set, one after another."""
    waiting = [r for r in rows if r["test_accuracy"] is None and r["status"] not in ACTIVE
               and store().exists(r["run_id"]) and store().model_path(r["run_id"]) is not None]
    if not waiting or not who.teacher:
        return
    if not st.button(f"Evaluate {len(waiting)} finished run{'s' * (len(waiting) != 1)} on the test set",
                     key="board_evaluate", icon=":material/grid_on:",
                     help="The leaderboard ranks runs by test accuracy, which an evaluation measures."):
        return
    bar = st.progress(0.0, text="Evaluating …")
    for i, row in enumerate(waiting):
        try:
            inspection.evaluate(store(), row["run_id"])
        except CoreError as exc:
            show_error(exc)
        bar.progress((i + 1) / len(waiting), text=f"Evaluated {i + 1} of {len(waiting)}")
    st.rerun()


def leaderboard_ui(rows):
    st.header("Leaderboard")
    ranked = board.leaderboard(rows)
    if not ranked:
        st.caption("No run is evaluated yet: the leaderboard ranks runs by test accuracy.")
        return
    st.dataframe([{"Rank": i + 1, "Owner": r["owner"], "Network": arch_title(r["arch"]),
                   "Test accuracy": r["test_accuracy"], "Training seconds": r["train_seconds"],
                   "Learning rate": r["learning_rate"], "Batch size": r["batch_size"], "Epochs": r["epochs"],
                   "Augmentation": ", ".join(r["augment"]) or "none"} for i, r in enumerate(ranked)],
                 hide_index=True, key="board_leaderboard", width="stretch",
                 column_config={"Test accuracy": st.column_config.ProgressColumn(format="percent", min_value=0, max_value=1),
                                "Learning rate": st.column_config.NumberColumn(format="%g"),
                                "Training seconds": st.column_config.NumberColumn(format="%.0f")})


def parcoords_ui(rows):
    st.header("Settings against results")
    st.caption("One line per run, from its settings on the left to its result on the right: the bright lines "
               "did best. Drag along an axis to pick the runs that pass through a range.")
    evaluated = [r for r in rows if r["test_accuracy"] is not None]
    if len(evaluated) >= 2:
        fig = figures.class_parcoords(evaluated, arch_title=arch_title)
    else:
        with_val = [r for r in rows if r["best_val_accuracy"] is not None]
        if len(with_val) < 2:
            st.caption("The chart appears once two runs have finished an epoch.")
            return
        st.caption("Fewer than two runs are evaluated: the chart shows validation accuracy until they are.")
        fig = figures.class_parcoords(with_val, "best_val_accuracy", "Validation accuracy", arch_title)
    st.plotly_chart(fig, key="board_parcoords")


def failures_ui(rows):
    st.header("What went wrong")
    failing = [r for r in rows if r["failures"]]
    if not failing:
        st.caption("No run shows a common failure: none diverged, overfitted, stayed at chance or "
                   "predicted one class for most images.")
        return
    for r in failing:
        st.markdown(f"**{plain(r['owner'] or 'Someone')}**, {plain(arch_title(r['arch']))}, run "
                    f"{plain(run_started(r['run_id']))}:")
        for _, text in r["failures"]:
            st.warning(text, icon=":material/warning:")


def all_runs_ui(rows):
    st.header("Every run")
    st.dataframe([{"Run": run_started(r["run_id"]), "Owner": r["owner"], "Status": r["status"],
                   "Network": arch_title(r["arch"]), "Optimizer": r["optimizer"], "Learning rate": r["learning_rate"],
                   "Batch size": r["batch_size"], "Epochs": r["epochs"], "Training images": r["train_size"],
                   "Augmentation": ", ".join(r["augment"]) or "none",
                   "Best validation accuracy": r["best_val_accuracy"], "Test accuracy": r["test_accuracy"],
                   "Training seconds": r["train_seconds"],
                   "Failures": ", ".join(code.replace("_", " ") for code, _ in r["failures"])} for r in rows],
                 hide_index=True, key="board_runs", width="stretch",
                 column_config={"Learning rate": st.column_config.NumberColumn(format="%g"),
                                "Best validation accuracy": st.column_config.NumberColumn(format="percent"),
                                "Test accuracy": st.column_config.NumberColumn(format="percent"),
                                "Training seconds": st.column_config.NumberColumn(format="%.0f")})


evaluate_all_ui(rows)
leaderboard_ui(rows)
parcoords_ui(rows)
failures_ui(rows)
all_runs_ui(rows)
