"""End to end in Chromium: the shared dashboard killed mid-run and started again (last of the browser
tests: the others then need no restart)."""

import re

import pytest
from browser_support import VIEWPORT, Watched, go, open_train, start_run, wait_idle

pytestmark = pytest.mark.slow  # a real server, Chromium and trainings


def test_server_killed_mid_run_shows_interrupted_after_restart(browser, dashboard):
    page = browser.new_page(viewport=VIEWPORT)
    page.goto(dashboard.url)
    open_train(page)
    run_id = start_run(page, dashboard.runs, 400, 300)
    page.get_by_text(re.compile(r"Epoch ([2-9]|\d\d+) of 300")).first.wait_for(timeout=180_000)  # one saved
    dashboard.restart(kill=True)
    page = browser.new_page(viewport=VIEWPORT)
    w = Watched(page, "crash")
    page.goto(dashboard.url)
    go(page, "Train")
    page.get_by_text(re.compile(r"— interrupted: The process training it stopped")).wait_for(timeout=90_000)
    wait_idle(page)
    w.assert_clean()
    w.shot("1_interrupted")
    w.open(f"{dashboard.url}/evaluate?run={run_id}")  # its history and checkpoint are still usable
    page.get_by_text("Test accuracy", exact=True).wait_for(timeout=120_000)
    wait_idle(page)
    w.assert_clean()
