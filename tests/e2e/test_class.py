"""A class in Chromium at 1366×768, with a teacher's password: two students and the teacher, each in
a browser context of their own. A name is asked once and survives a reload; a student sees no Stop
or Delete for another's run, and forged credentials grant nothing; the teacher stops any run, the next in the queue trains, and
every watching tab sees it move while another opens the Data page."""

import re
import time

import pytest
from browser_support import (
    ARTIFACTS,
    VIEWPORT,
    Watched,
    go,
    open_train,
    press_until,
    progress_text,
    select_row,
    start_run,
    start_server,
    stop_server,
    wait_idle,
)
from playwright.sync_api import expect

from cifar_core.runs.store import ACTIVE, RunStore

pytestmark = pytest.mark.slow  # a real server, Chromium and trainings

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def class_server(e2e_env):
    runs = e2e_env / "runs-class"
    proc, url = start_server(runs, ARTIFACTS / "server-class.log", CIFAR_CORE_TEACHER_PASSWORD=PASSWORD)
    yield runs, url
    log = (ARTIFACTS / "server-class.log").read_text(errors="replace")
    stop_server(proc)
    assert "Traceback" not in log, log[-3000:]


def student(browser, url, name, prefix):
    page = browser.new_context(viewport=VIEWPORT).new_page()
    w = Watched(page, prefix)
    page.goto(url)
    page.get_by_role("heading", name="Who is training?").wait_for(timeout=90_000)
    box = page.get_by_label("Your name", exact=True)
    box.fill("  ")
    page.get_by_role("button", name="Continue").click()
    page.get_by_text("Type a name (1 to 40 characters)").wait_for(timeout=30_000)
    box.fill(name)
    page.get_by_role("button", name="Continue").click()
    page.get_by_text(f"You: {name} (student)").wait_for(timeout=60_000)
    return page, w


def no_stop(page):
    """No Stop button once the page has settled: a view just replaced may keep the previous run's
    Stop on screen, marked stale, until its fragment's next rerun."""
    expect(page.get_by_role("button", name="Stop", exact=True)).to_have_count(0, timeout=15_000)


def test_two_students_and_a_teacher(browser, class_server):
    runs, url = class_server
    store = RunStore(runs)
    ann, ann_watch = student(browser, url, "Ann", "class_ann")
    open_train(ann)
    ann_run = start_run(ann, runs, 400, 300)
    ann.get_by_text(re.compile(r"Epoch \d+ of 300")).first.wait_for(timeout=180_000)

    # The second student's name survives a reload (the browser keeps it); Ann's run has no Stop for her.
    bo, bo_watch = student(browser, url, "**Bo** <i>", "class_bo")
    deadline = time.monotonic() + 30  # the browser keeps the name once the page's script has run
    while not any(c["name"] == "cifar_core_name" for c in bo.context.cookies()):
        assert time.monotonic() < deadline, bo.context.cookies()
        bo.wait_for_timeout(200)
    bo.reload()
    bo.get_by_text("You: **Bo** <i> (student)").wait_for(timeout=60_000)
    open_train(bo)
    bo.get_by_text(re.compile(r"of Ann — running")).wait_for(timeout=60_000)
    no_stop(bo)
    bo_run = start_run(bo, runs, 400, 300, queued=True)
    assert store.config(bo_run)["owner"]["name"] == "**Bo** <i>"
    wait_idle(bo)
    bo_watch.assert_clean()
    bo_watch.shot("1_train")
    bo_watch.audit("a student's Train page")

    # Forged credentials: a seal cookie made up, and ?role=teacher in the address.
    bo.context.add_cookies([{"name": "cifar_core_teacher", "value": "0" * 64, "url": url}])
    bo_watch.open(f"{url}/train?role=teacher")
    bo.get_by_text("You: **Bo** <i> (student)").wait_for(timeout=60_000)
    bo.get_by_text(re.compile(r"— queued")).first.wait_for(timeout=60_000)  # her own run, with her Stop
    select_row(bo, 2)  # Ann's, below Bo's newer one
    bo.get_by_text("Only their owners or the teacher can delete runs of others.").wait_for(timeout=60_000)
    assert bo.get_by_role("button", name=re.compile("^Delete")).count() == 0
    watching_ann = bo.get_by_text(re.compile(r"of Ann — running"))
    press_until(bo, bo.get_by_role("button", name="Watch this run"), lambda: watching_ann.count() > 0)
    wait_idle(bo)
    no_stop(bo)
    bo_watch.shot("2_forged_credentials")

    # The teacher signs in (a wrong password first), sees Stop on Ann's run and stops it.
    teacher = browser.new_context(viewport=VIEWPORT).new_page()
    teacher_watch = Watched(teacher, "class_teacher")
    teacher.goto(f"{url}/?name=Ms%20Lee")
    password = teacher.get_by_label("Teacher's password", exact=True)
    password.fill("guess")
    teacher.get_by_role("button", name="Sign in as the teacher").click()
    teacher.get_by_text("That is not the teacher's password").wait_for(timeout=60_000)
    teacher.wait_for_timeout(1_200)  # the wait a wrong guess costs
    password.fill(PASSWORD)
    teacher.get_by_role("button", name="Sign in as the teacher").click()
    teacher.get_by_text("You: Ms Lee (teacher)").wait_for(timeout=60_000)
    teacher.get_by_text("Show the class board to students").wait_for()
    wait_idle(teacher)
    teacher_watch.assert_clean()
    teacher_watch.shot("1_controls")
    teacher_watch.audit("the teacher's Home")
    open_train(teacher)
    teacher.get_by_text(re.compile(r"of Ann — running")).wait_for(timeout=60_000)
    wait_idle(teacher)
    stopping = teacher.get_by_text("Stopping at the next batch").or_(teacher.get_by_text(re.compile(r"— stopped")))
    press_until(teacher, teacher.get_by_role("button", name="Stop", exact=True),
                lambda: stopping.count() > 0 or store.status(ann_run)["status"] not in ACTIVE)
    ann.get_by_text(re.compile(r"— stopped")).first.wait_for(timeout=120_000)  # Ann sees it end
    assert store.status(ann_run)["status"] == "stopped"
    ann_watch.assert_clean()
    ann_watch.shot("1_stopped_by_the_teacher")

    # Bo's queued run trains next, watched from three tabs while a fourth opens the Data page.
    watchers = (ann, bo, teacher)
    for page, w in zip(watchers, (ann_watch, bo_watch, teacher_watch)):
        w.open(f"{url}/train")  # a new session: its Train page shows the run training now
        page.get_by_text(re.compile(rf"Run {bo_run}.* — running")).first.wait_for(timeout=180_000)
    # Past its start (building, tracing, the time-lapse's first snapshot), which on a loaded machine
    # may outlast the look at the Data page below: from then on, batches follow one another.
    for page in watchers:
        page.get_by_test_id("stProgress").get_by_text(re.compile(r"batch [1-9]")).first.wait_for(timeout=180_000)
    before = [progress_text(page) for page in watchers]
    cy = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
    cy_watch = Watched(cy, "class_cy")
    cy_watch.open(f"{url}/data?name=Cy")
    cy.get_by_test_id("stImage").nth(36).wait_for(timeout=60_000)  # the sample grid and the enlarged image
    wait_idle(cy)
    assert store.status(bo_run)["status"] == "running"  # still training meanwhile
    after = [progress_text(page) for page in watchers]
    assert all(x != y for x, y in zip(before, after)), (before, after)  # every watcher's view moves
    assert bo.get_by_text(re.compile(r"Trained by worker \S+ on ")).count()
    cy_watch.assert_clean()
    cy_watch.shot("1_data_while_training")
    bo_watch.shot("3_watching")

    teacher_watch.assert_clean()
    go(teacher, "Home")
    teacher.get_by_role("button", name="Stop every run").click()
    teacher.get_by_text(re.compile(r"Asked \d runs? to stop")).wait_for(timeout=60_000)
    deadline = time.monotonic() + 120
    while any(store.status(r["run_id"])["status"] in ACTIVE for r in store.list()):
        assert time.monotonic() < deadline, store.list()
        time.sleep(0.5)
    go(teacher, "Class board")
    teacher.get_by_role("heading", name="Class board").wait_for(timeout=60_000)
    evaluate = teacher.get_by_role("button", name=re.compile(r"Evaluate 2 finished runs"))
    evaluate.click()
    # Gone once both are evaluated; until then the page shows the previous, faded, run's elements.
    expect(evaluate).to_have_count(0, timeout=180_000)
    teacher.get_by_text("No run is evaluated yet").wait_for(state="detached", timeout=60_000)
    teacher.get_by_test_id("stPlotlyChart").wait_for(timeout=60_000)  # settings against test accuracy
    teacher.get_by_text("Every run", exact=True).wait_for(timeout=60_000)
    wait_idle(teacher)
    teacher_watch.assert_clean()
    teacher_watch.shot("2_class_board")
    teacher_watch.audit("the class board")
    bo_watch.assert_clean()
