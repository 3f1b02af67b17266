"""The learning-rate range test's rule, on curves whose answer is known; the search itself trains in
tests/cli (on the CIFAR-10 sample) and tests/server (cancelled, and nothing left on the scheduler)."""

import numpy as np
import pytest

from cifar_core.worker.lr_finder import WARM_UP, smooth, suggest

RATES = 1e-6 * (1e6 ** (np.arange(100) / 99))  # 1e-6 to 1, as the search grows it


def test_the_smoothed_loss_starts_unbiased_and_follows_the_loss():
    np.testing.assert_allclose(smooth([2.0] * 20), 2.0)  # bias-corrected: no ramp up from 0
    smoothed = smooth(np.linspace(2.3, 1.0, 50))
    assert np.all(np.diff(smoothed) < 0) and smoothed[-1] < 1.3  # a lag of about ten batches


def test_the_suggestion_is_where_the_loss_falls_fastest_before_its_lowest_point():
    log_rates = np.log10(RATES)
    # Flat, then falling fastest at 1e-3, lowest at 1e-1, then exploding.
    loss = 2.3 - 1.2 / (1 + np.exp(-3 * (log_rates + 3))) + np.where(log_rates > -1, 40 * (log_rates + 1) ** 2, 0)
    suggested, reason = suggest(RATES, loss)
    assert reason == "" and suggested == pytest.approx(1e-3, rel=0.5)
    assert suggested == float(f"{suggested:.1g}")  # one significant digit, as a person types it


def test_one_lucky_batch_before_the_lowest_point_does_not_move_the_suggestion():
    log_rates = np.log10(RATES)
    # A slow fall from 1e-4 to 1e-3, flat to 6e-3, then up; one batch far below the rest at 4e-3.
    loss = 2.3 - 0.1 * np.clip(log_rates + 4, 0, 1) + np.where(log_rates > -2.2, 3 * (log_rates + 2.2) ** 2, 0)
    loss[np.argmin(abs(log_rates + 2.4))] -= 0.6
    suggested, _ = suggest(RATES, smooth(loss))
    assert 1e-4 <= suggested <= 1e-3, suggested


@pytest.mark.parametrize("loss, words", [
    (np.full(100, 2.3) + np.linspace(0, 0.01, 100), "never fell"),  # a flat loss: nothing to suggest
    (np.linspace(2.3, 9.0, 100), "never fell"),  # rising from the start
    (np.linspace(2.3, 1.0, WARM_UP + 2), "too soon to judge"),  # exploded after a few batches
])
def test_no_suggestion_when_the_loss_never_falls(loss, words):
    suggested, reason = suggest(RATES[:len(loss)], loss)
    assert suggested is None and words in reason
