"""The class's controls: in the runs folder, changed by the teacher only, checked, never lost."""

import pytest

from cifar_core.errors import ParamError, RunError
from cifar_core.runs.classroom import CONTROLS, ClassControls, read_controls, require_uploads, write_controls
from cifar_core.runs.owners import OPERATOR, Caller


def test_a_new_folder_has_the_defaults_and_reading_writes_nothing(tmp_path):
    assert read_controls(tmp_path / "runs") == ClassControls()
    assert ClassControls().max_active_per_student == 2 and not (tmp_path / "runs").exists()


def test_only_the_teacher_changes_them_and_every_reader_sees_the_change(tmp_path):
    student = Caller("Kim", "0123456789abcdef")
    with pytest.raises(RunError, match="Only the teacher"):
        write_controls(tmp_path, student, uploads=False)
    assert read_controls(tmp_path).uploads
    write_controls(tmp_path, OPERATOR, uploads=False, board_visible=True, student_cap_seconds=120)
    assert read_controls(tmp_path) == ClassControls(uploads=False, board_visible=True, student_cap_seconds=120)
    with pytest.raises(ParamError, match="uploads off"):
        require_uploads(tmp_path, student)
    require_uploads(tmp_path, OPERATOR)


@pytest.mark.parametrize("changes, message", [
    ({"max_active_per_student": 0}, "Runs per student must be between 1 and 20"),
    ({"student_cap_seconds": 5}, "between 30 and 3600 seconds"),
    ({"colour": "red"}, "Unknown class controls: colour"),
])
def test_out_of_range_controls_are_refused_and_change_nothing(tmp_path, changes, message):
    write_controls(tmp_path, OPERATOR, paused=True)
    with pytest.raises(ParamError, match=message):
        write_controls(tmp_path, OPERATOR, **changes)
    assert read_controls(tmp_path) == ClassControls(paused=True)


def test_a_damaged_file_reads_as_the_defaults(tmp_path):
    (tmp_path / CONTROLS).write_text('{"max_active_per_student": "many"')
    assert read_controls(tmp_path) == ClassControls()
    (tmp_path / CONTROLS).write_text('{"max_active_per_student": 500}')
    assert read_controls(tmp_path) == ClassControls()
