"""AppTest: a class with a teacher's password. Each AppTest is one browser tab: names asked once,
the teacher's sign-in, the controls, what a student may not do, the class board's visibility."""

import pytest
from support import evaluated_run, open_app, synthetic_evaluation, texts

from cifar_core.runs.classroom import read_controls, write_controls
from cifar_core.runs.owners import OPERATOR, Caller
from cifar_core.runs.store import RunStore
from cifar_core.server.access import PASSWORD_ENV
from pages.identity import teacher_gate

pytestmark = pytest.mark.slow  # the pages ask the workers: a cluster starts

PASSWORD = "correct horse"


@pytest.fixture
def classroom(tmp_path, monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    return tmp_path / "runs"


def sidebar_labels(at):
    return [e.label for e in at.sidebar.expander]


def page_titles(at):
    return [e.value for e in at.title]


def sign_in(at, password=PASSWORD):
    at.text_input(key="teacher_password").input(password)
    at.button[[b.label for b in at.button].index("Sign in as the teacher")].click().run()


# AppTest runs app.py on a tab's first run only: later runs run the page's own script (it resets
# Streamlit's pages-folder flag each run). So the sidebar and the name prompt's answer are checked
# on first runs here, and the prompt's round trip in the browser test.

def test_a_tab_without_a_name_is_asked_for_one_and_a_name_is_shown_as_text(classroom, monkeypatch):
    at = open_app(classroom, monkeypatch)
    assert page_titles(at) == ["Who is training?"] and at.text_input(key="identity_name_input").max_chars == 40
    at = open_app(classroom, monkeypatch, query={"name": "**Kim** <script>alert(1)</script>" + "x" * 40})
    assert not at.exception and page_titles(at) == ["Convolutional networks on CIFAR-10"]
    [label] = sidebar_labels(at)
    assert label == r"You: \*\*Kim\*\* \<script\>alert\(1\)\</script\>xxxxxxx (student)"  # 40 characters
    at.switch_page("pages/train.py").run()  # asked once: every page knows the name now
    assert not at.exception and page_titles(at) == ["Train"]


def test_the_address_may_name_a_tab_but_grants_nothing(classroom, monkeypatch):
    at = open_app(classroom, monkeypatch, query={"name": "Min", "role": "teacher", "owner": "x" * 32})
    assert sidebar_labels(at) == ["You: Min (student)"]
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("pages/class_board.py")  # not in a student's navigation until the teacher shows it


def test_the_teacher_signs_in_and_the_controls_reach_every_tab(classroom, monkeypatch):
    teacher = open_app(classroom, monkeypatch, query={"name": "Ms Lee"})
    monkeypatch.setattr(teacher_gate(), "clock", lambda: 0.0)  # the wait after a wrong guess never ends
    student = open_app(classroom, monkeypatch, query={"name": "Kim"})
    sign_in(teacher, "wrong")
    assert "not the teacher's password" in texts(teacher) and not teacher.session_state["teacher_seal"]
    sign_in(teacher)
    assert "Too many wrong passwords" in texts(teacher)  # the right password, too soon after a wrong one
    teacher = open_app(classroom, monkeypatch, query={"name": "Ms Lee"})  # another tab, not counted against
    sign_in(teacher)
    assert "You are signed in as the teacher" in texts(teacher)
    teacher.toggle(key="teacher_board").set_value(True).run()
    teacher.toggle(key="teacher_uploads").set_value(False).run()
    teacher.number_input(key="teacher_max_active").set_value(1).run()
    controls = read_controls(classroom)
    assert controls.board_visible and not controls.uploads and controls.max_active_per_student == 1
    student.run()
    student.switch_page("pages/class_board.py").run()
    assert not student.exception and page_titles(student) == ["Class board"]
    student.switch_page("pages/data.py").run()
    assert "The teacher has turned uploads off for this class." in texts(student)
    assert not any(e.key == "data_upload" for e in student.get("file_uploader"))


def test_a_student_sees_no_stop_for_another_students_run_and_the_board_names_failures(classroom, monkeypatch):
    store = RunStore(classroom)
    labels, probabilities = synthetic_evaluation(n=200, classes=10)
    probabilities[:, 3] += 5.0  # "cat" for most images
    config = {"dataset": "cifar10", "arch": "seed_cnn", "num_classes": 10, "n_train": 400,
              "class_names": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"],
              "owner": Caller("Ann", "a" * 16).owner(),
              "training": {"epochs": 3, "batch_size": 32, "optimizer": "adam", "learning_rate": 1e-3, "augment": [],
                           "train_size": None}}
    evaluated_run(store, config, labels, probabilities, config["class_names"])
    training = store.create(config)  # Ann's run, queued in this process: active
    at = open_app(classroom, monkeypatch, "pages/train.py", query={"name": "Ann"})  # the same name, another tab
    assert f"**Run {training}** of Ann — queued" in texts(at)
    assert not any(b.key == "train_stop" for b in at.button)
    home = open_app(classroom, monkeypatch, query={"name": "Kim"})  # Home names whose run is training
    assert "Training now: **Plain CNN** on CIFAR-10 by Ann (queued, epoch 0/3)." in texts(home)
    write_controls(classroom, OPERATOR, board_visible=True)
    at.switch_page("pages/class_board.py").run()
    assert not at.exception and "One class takes over" in texts(at) and "predicted as cat" in texts(at)
    store.set_status(training, "stopped")
