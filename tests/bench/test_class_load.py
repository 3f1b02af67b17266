"""The load client of `bench/class_load.py`, on 2 sessions: it starts, watches and stops a run through
Streamlit's protocol and reports its one JSON line. Its figures are the benchmark's, not asserted here."""

import json
import subprocess
import sys

import pytest
from support import ROOT

SAMPLE = ROOT.parent / "shared" / "data" / "cifar-10-python-subset.tar.gz"

pytestmark = pytest.mark.slow  # a dashboard, its workers and two trainings


def test_two_protocol_sessions_watch_a_run_and_report_one_json_line():
    if not SAMPLE.is_file():
        pytest.skip(f"the real CIFAR-10 sample is absent ({SAMPLE})")
    done = subprocess.run([sys.executable, "bench/class_load.py", "--sessions", "2", "--window", "4",
                           "--train-size", "300", "--no-pin", "--json"],
                          cwd=ROOT, capture_output=True, text=True, timeout=480)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["sessions"] == 2 and result["epochs_measured"] >= 1
    assert isinstance(result["every_session_moved"], bool) and result["largest_gap_seconds"] > 0
    assert result["first_page_seconds"] > 0 and result["epoch_ratio"] > 0
    assert isinstance(result["server_cpu_per_session"], float)
    [nobody] = [json.loads(line) for line in done.stderr.splitlines() if line.startswith('{"sessions": 0')]
    assert nobody["sessions"] == 0 and nobody["median_epoch_seconds"] > 0
