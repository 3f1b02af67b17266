"""Entry point of the dashboard: `streamlit run app.py`. Declares every page explicitly."""

from pathlib import Path

# Everything the pages import, imported here first and always in this order. Each session runs its page
# in a thread of its own: two first pages importing the same modules in different orders could each hold
# one the other waits for, and Python then hands one of them a half-initialised module ("cannot import
# name 'KEEP'", or pandas without 'Series' when Plotly looked it up without the import lock).
import pandas  # noqa: F401
import plotly.express  # noqa: F401
import streamlit as st

import pages.figures  # noqa: F401
import pages.recipe_ui  # noqa: F401
import pages.shared  # noqa: F401
import pages.train_settings  # noqa: F401
from cifar_core import i18n
from cifar_core.data import image_folder  # noqa: F401
from cifar_core.data.folder_sets import import_configured_folders
from cifar_core.export import script  # noqa: F401
from cifar_core.i18n import _
from cifar_core.process import configure_process
from cifar_core.runs import board, timelapse  # noqa: F401
from cifar_core.runs.classroom import read_controls
from cifar_core.server import access, cluster, estimate, inspection, prepare  # noqa: F401
from pages import identity, language
from pages.shared import runs_dir

PAGES = Path(__file__).parent / "pages"


@st.cache_resource(show_spinner=False)
def start_workers():
    """Once per server: the worker processes start (and import TensorFlow) while the first
    visitor reads the Home page. The server itself never imports TensorFlow."""
    cluster.start_in_background()
    return True


@st.cache_resource(show_spinner=False)
def import_image_folders():
    """Once per server: the folders of CIFAR_CORE_IMAGE_FOLDERS become datasets (errors are shown on Data)."""
    return import_configured_folders()


def secret_password():
    """The teacher's password from Streamlit's secrets.toml, if the file has one."""
    try:
        return st.secrets.get(access.PASSWORD_ENV)
    except Exception:  # no secrets file, or an unreadable one: no password from there
        return None


def run():
    configure_process()  # caps malloc's arenas: the server runs many threads
    start_workers()
    lang = language.choose_language()  # first: every word below is in the tab's language
    st.set_page_config(page_title=_("CNN dashboard"), page_icon="🧠", layout="wide")
    access.use_secret_password(secret_password())
    # Shows only if it takes a while; its messages are kept for every tab, in the server's language.
    with st.spinner(_("Importing the server's image folders …")), i18n.speaking(i18n.default_language()):
        import_image_folders()
    who = identity.named_caller()
    pages = [
        st.Page(PAGES / "home.py", title=_("Home"), icon=":material/home:", default=True),
        st.Page(PAGES / "data.py", title=_("Data"), icon=":material/photo_library:"),
        st.Page(PAGES / "train.py", title=_("Train"), icon=":material/model_training:"),
        st.Page(PAGES / "evaluate.py", title=_("Evaluate"), icon=":material/grid_on:"),
        st.Page(PAGES / "feature_maps.py", title=_("Feature maps"), icon=":material/layers:"),
    ]
    if who and (who.teacher or read_controls(runs_dir()).board_visible):  # the teacher decides when students see it
        pages.append(st.Page(PAGES / "class_board.py", title=_("Class board"), icon=":material/leaderboard:"))
    page = st.navigation(pages)
    language.language_ui()  # first in the sidebar, and there while a tab is asked its name
    language.mark_document_language(lang)
    if who is None:  # while a class runs, a tab gives its name before anything else
        identity.ask_name_ui()
    identity.identity_ui(who)
    page.run()


if __name__ == "__main__":
    run()
