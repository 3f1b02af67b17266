"""Entry point of the dashboard: `streamlit run app.py`. Declares every page explicitly."""

from pathlib import Path

import streamlit as st

PAGES = Path(__file__).parent / "pages"
PAGE_PREFIXES = ("data_", "train_", "eval_", "fm_")
# Buttons, uploads and chart or table selections cannot be set through session state.
NOT_KEPT = {"data_reshuffle", "data_download", "train_start", "train_stop", "train_watch", "train_delete",
            "train_runs_table", "eval_matrix", "eval_download_model", "eval_download_history",
            "fm_upload", "fm_class_next", "fm_random_next"}


def keep_choices():
    """Keep each page's widget choices while the user visits other pages (Streamlit forgets
    the state of widgets that a run does not draw, unless it is set again)."""
    for key in list(st.session_state):
        if isinstance(key, str) and key.startswith(PAGE_PREFIXES) and key not in NOT_KEPT:
            st.session_state[key] = st.session_state[key]


def run():
    st.set_page_config(page_title="CNN dashboard", page_icon="🧠", layout="wide")
    page = st.navigation([
        st.Page(PAGES / "home.py", title="Home", icon=":material/home:", default=True),
        st.Page(PAGES / "data.py", title="Data", icon=":material/photo_library:"),
        st.Page(PAGES / "train.py", title="Train", icon=":material/model_training:"),
        st.Page(PAGES / "evaluate.py", title="Evaluate", icon=":material/grid_on:"),
        st.Page(PAGES / "feature_maps.py", title="Feature maps", icon=":material/layers:"),
    ])
    keep_choices()
    page.run()


if __name__ == "__main__":
    run()
