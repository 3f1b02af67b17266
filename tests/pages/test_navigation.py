"""The one private Streamlit API the product relies on (pages/navigation.py): fail loudly on upgrade.

The browser test `test_teacher.py` checks the behaviour end to end: a first visitor on /train gets
app.py's navigation.
"""

from streamlit.runtime.pages_manager import PagesManager
from support import ROOT


def test_a_pages_folder_still_switches_streamlit_to_legacy_pages(monkeypatch):
    # If this fails, Streamlit changed how it detects a pages/ folder: pages/navigation.py must follow.
    assert "uses_pages_directory" in vars(PagesManager), "PagesManager.uses_pages_directory is gone"
    monkeypatch.setattr(PagesManager, "uses_pages_directory", None)
    PagesManager(str(ROOT / "app.py"))
    assert PagesManager.uses_pages_directory is True


def test_the_workaround_turns_it_off(monkeypatch):
    from pages.navigation import use_app_navigation
    monkeypatch.setattr(PagesManager, "uses_pages_directory", True)
    use_app_navigation()  # outside a script run, st.rerun() does nothing; in the server it reruns
    assert PagesManager.uses_pages_directory is False
