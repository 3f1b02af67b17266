from cifar_core.runs.curves import batch_series, downsample, history_csv, overfitting_onset


def epochs(losses, val_losses):
    return [{"epoch": i + 1, "loss": a, "val_loss": b} for i, (a, b) in enumerate(zip(losses, val_losses))]


def test_overfitting_onset_needs_two_rising_validation_epochs_while_training_falls():
    assert overfitting_onset(epochs([2.0, 1.5, 1.2, 1.0, 0.8], [1.8, 1.4, 1.3, 1.35, 1.5])) == 5
    assert overfitting_onset(epochs([2.0, 1.5, 1.2, 1.0], [1.8, 1.4, 1.3, 1.35])) is None  # one rise only
    assert overfitting_onset(epochs([2.0, 1.5, 1.6, 1.7], [1.8, 1.4, 1.5, 1.6])) is None  # both rise
    assert overfitting_onset(epochs([2.0, None, 1.0], [1.0, 1.1, 1.2])) is None


def test_downsample_keeps_last_and_limit():
    points = list(range(10_000))
    picked = downsample(points, 500)
    assert len(picked) == 500 and picked[0] == 0 and picked[-1] == 9_999
    assert downsample([1, 2], 500) == [1, 2]


def test_history_csv_and_batch_series():
    text = history_csv([{"epoch": 1, "loss": 1.0, "accuracy": 0.5, "val_loss": 1.1, "val_accuracy": 0.4,
                         "seconds": 2.0, "partial": False}])
    assert text.splitlines() == ["epoch,loss,accuracy,val_loss,val_accuracy,seconds,partial",
                                 "1,1.0,0.5,1.1,0.4,2.0,False"]
    series = batch_series({"batches": [[0, 0, 2.0, 0.1], [0, 3, 1.5, 0.2], [1, 3, 1.0, 0.3]]})
    assert [p[0] for p in series] == [0.25, 1.0, 2.0]
