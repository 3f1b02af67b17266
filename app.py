"""Entry point of the dashboard: `streamlit run app.py`. Declares every page explicitly."""

from pathlib import Path

# Imported whole before any page runs: Plotly looks pandas up in sys.modules without the import
# lock, so a chart drawn while another session is still importing pandas (for a table) met a
# half-initialised module ("partially initialized module 'pandas' has no attribute 'Series'").
import pandas  # noqa: F401
import streamlit as st

from cifar_core.data.folder_sets import import_configured_folders
from cifar_core.process import configure_process
from cifar_core.server import cluster

PAGES = Path(__file__).parent / "pages"


@st.cache_resource(show_spinner=False)
def start_workers():
    """Once per server: the worker processes start (and import TensorFlow) while the first
    visitor reads the Home page. The server itself never imports TensorFlow."""
    cluster.start_in_background()
    return True


@st.cache_resource(show_spinner="Importing the server's image folders …")
def import_image_folders():
    """Once per server: the folders of CIFAR_CORE_IMAGE_FOLDERS become datasets (errors are shown on Data)."""
    return import_configured_folders()


def run():
    configure_process()  # caps malloc's arenas: the server runs many threads
    start_workers()
    import_image_folders()
    st.set_page_config(page_title="CNN dashboard", page_icon="🧠", layout="wide")
    page = st.navigation([
        st.Page(PAGES / "home.py", title="Home", icon=":material/home:", default=True),
        st.Page(PAGES / "data.py", title="Data", icon=":material/photo_library:"),
        st.Page(PAGES / "train.py", title="Train", icon=":material/model_training:"),
        st.Page(PAGES / "evaluate.py", title="Evaluate", icon=":material/grid_on:"),
        st.Page(PAGES / "feature_maps.py", title="Feature maps", icon=":material/layers:"),
    ])
    page.run()


if __name__ == "__main__":
    run()
