"""The teacher's controls for a class, kept in the runs folder so that every dashboard process
serving the class (and the command line) reads the same ones.

Reading never writes: a folder without the file has the defaults.
"""

import dataclasses
from pathlib import Path

from cifar_core.errors import ParamError
from cifar_core.i18n import _
from cifar_core.runs.owners import require_teacher
from cifar_core.runs.store import read_json, write_json

CONTROLS = ".class-controls.json"  # not a run id: the store's listing skips it
MAX_ACTIVE_CHOICES = range(1, 21)
MIN_CAP_SECONDS, MAX_CAP_SECONDS = 30, 3600


@dataclasses.dataclass(frozen=True)
class ClassControls:
    uploads: bool = True  # students may upload image sets and their own images
    max_active_per_student: int = 2  # a student's runs queued or training at once
    student_cap_seconds: int | None = None  # a student run's training time, fitted to and then enforced
    paused: bool = False  # queued runs wait; running ones go on
    board_visible: bool = False  # students see the class board

    def check(self):
        if self.max_active_per_student not in MAX_ACTIVE_CHOICES:
            raise ParamError(_("Runs per student must be between {low} and {high}, got {value}.").format(
                low=MAX_ACTIVE_CHOICES[0], high=MAX_ACTIVE_CHOICES[-1], value=self.max_active_per_student))
        cap = self.student_cap_seconds
        if cap is not None and not MIN_CAP_SECONDS <= cap <= MAX_CAP_SECONDS:
            raise ParamError(_("A student run's time cap must be between {low} and {high} seconds (or none), got "
                               "{value}.").format(low=MIN_CAP_SECONDS, high=MAX_CAP_SECONDS, value=cap))
        return self


def read_controls(root):
    """The class's controls; a missing or damaged file reads as the defaults."""
    try:
        stored = read_json(Path(root) / CONTROLS, {})
    except Exception:  # unreadable: the defaults, as for a new folder
        stored = {}
    fields = {f.name: stored[f.name] for f in dataclasses.fields(ClassControls)
              if isinstance(stored, dict) and f.name in stored}
    try:
        return ClassControls(**fields).check()
    except (ParamError, TypeError):
        return ClassControls()


def write_controls(root, who, **changes):
    """Change some controls (teacher only). Returns the controls as stored."""
    require_teacher(who, "change the class's controls")
    unknown = set(changes) - {f.name for f in dataclasses.fields(ClassControls)}
    if unknown:
        raise ParamError(_("Unknown class controls: {names}.").format(names=", ".join(sorted(unknown))))
    controls = dataclasses.replace(read_controls(root), **changes).check()
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    write_json(root / CONTROLS, dataclasses.asdict(controls))
    return controls


def uploads_open(root, who):
    """Whether `who` may upload images now (the teacher always may)."""
    return who.teacher or read_controls(root).uploads


def require_uploads(root, who):
    if not uploads_open(root, who):
        raise ParamError(_("The teacher has turned uploads off for this class; the images already here stay."))
