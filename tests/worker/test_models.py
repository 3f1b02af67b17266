import keras
import numpy as np
import pytest

from cifar_core.config.architectures import ARCHITECTURES, check_hparams
from cifar_core.data.images import tile_channels
from cifar_core.data.splits import channel_stats
from cifar_core.errors import DataError, ParamError
from cifar_core.worker.inspection import feature_layers, feature_maps, first_conv_trains
from cifar_core.worker.models import WHITENING_LAYER, build_model, fit_whitening, layer_table

NO_DOWNLOAD = {"vgg16_transfer": {"weights": "none"}}
# Every architecture with its defaults, and the fast preset's whitening first layer.
VARIANTS = [(arch, NO_DOWNLOAD.get(arch)) for arch in ARCHITECTURES] + [("fast_cnn", {"stem": "whiten"})]


@pytest.mark.slow
@pytest.mark.parametrize("arch, hparams", VARIANTS)
@pytest.mark.parametrize("shape", [(32, 32, 3), (28, 28, 1), (8, 8, 1)])
def test_every_architecture_builds_trains_and_shows_feature_maps(arch, hparams, shape):
    model = build_model(arch, shape, 10, hparams)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (8, *shape)).astype(np.float32)
    fit_whitening(model, x.astype(np.uint8), np.arange(len(x)))  # what training does; nothing without the stem
    if shape == (32, 32, 3):  # a training step on one shape: the others differ only in the input stage
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        history = model.fit(x, rng.integers(0, 10, 8), batch_size=4, epochs=1, verbose=0)
        assert np.isfinite(history.history["loss"][0])
    probabilities = np.asarray(model(x, training=False))
    assert probabilities.shape == (8, 10) and np.allclose(probabilities.sum(axis=1), 1, atol=1e-4)
    maps = feature_maps(model, x[0].astype(np.uint8))
    assert [m["name"] for m in maps] == feature_layers(model) and len(maps) >= 4
    for m in maps:
        assert m["values"].shape == m["shape"] and tile_channels(m["values"]).dtype == np.uint8


def test_a_whitening_stem_decorrelates_the_patches_it_sees():
    rng = np.random.default_rng(0)
    # Smooth images: neighbouring pixels and channels correlate strongly, as in photographs.
    noise = rng.normal(size=(64, 33, 33, 1))
    images = (noise[:, 1:, 1:] + noise[:, :-1, 1:] + noise[:, 1:, :-1] + rng.normal(0, 0.3, (64, 32, 32, 3)))
    images = np.clip(128 + 40 * images, 0, 255).astype(np.uint8)
    mean, std = channel_stats(images)
    model = build_model("fast_cnn", (32, 32, 3), 10, {"stem": "whiten"}, mean=mean, variance=np.square(std))
    stem = model.get_layer(WHITENING_LAYER)
    assert not stem.trainable and stem.kernel.shape == (2, 2, 3, 24) and not first_conv_trains(model)
    assert first_conv_trains(build_model("fast_cnn", (32, 32, 3), 10))  # the 3×3 stem learns
    fit_whitening(model, images, np.arange(len(images)))
    kernel = np.asarray(stem.kernel)
    assert np.allclose(kernel[..., 12:], -kernel[..., :12])  # each filter and its negative
    responses = np.asarray(keras.Model(model.inputs, stem.output)(images.astype(np.float32)))
    responses = responses[..., :12].reshape(-1, 12)  # one row a 2×2 patch: (N·31·31, 12)
    covariance = responses.T @ responses / len(responses)
    # Whitened: unit variance in every direction but the faintest (divided by √(λ + ε), not √λ),
    # and no correlation between any two.
    assert np.allclose(np.diag(covariance)[:8], 1, atol=0.02)
    assert np.abs(covariance - np.diag(np.diag(covariance))).max() < 0.02


def test_layer_names_are_readable():
    names = [row["name"] for row in layer_table(build_model("bn_cnn", (32, 32, 3), 10))]
    assert names[:5] == ["image", "standardize", "block1_conv1", "block1_bn1", "block1_relu1"]
    assert "block3_pool" in names and names[-1] == "predictions"


def test_standardisation_lives_in_the_model():
    mean, variance = np.array([100.0, 110.0, 120.0]), np.array([400.0, 900.0, 1600.0])
    model = build_model("seed_cnn", (32, 32, 3), 10, mean=mean, variance=variance)
    x = np.full((1, 32, 32, 3), [120.0, 140.0, 160.0], np.float32)
    out = model.get_layer("standardize")(x)
    assert np.allclose(np.asarray(out)[0, 0, 0], [1.0, 1.0, 1.0], atol=1e-5)


def test_vgg16_freezes_all_but_its_top_layers():
    model = build_model("vgg16_transfer", (32, 32, 3), 10, {"weights": "none", "trainable_layers": 4})
    vgg = [layer for layer in model.layers if layer.name.startswith("block")]
    assert len(vgg) == 18 and not any(layer.trainable for layer in vgg[:-4]) and all(layer.trainable for layer in vgg[-4:])
    assert model.get_layer("vgg_preprocess") is not None


def test_vgg16_imagenet_weights_offline_is_a_clear_error(monkeypatch, tmp_path):
    from keras.src.applications import vgg16
    monkeypatch.setattr(vgg16, "WEIGHTS_PATH_NO_TOP", "http://127.0.0.1:9/vgg16_notop.h5")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(DataError, match="weights 'none'"):
        build_model("vgg16_transfer", (32, 32, 3), 10, {"weights": "imagenet"})


@pytest.mark.parametrize("arch, hparams, message", [
    ("seed_cnn", {"width": 9}, "Width must be between 0.25 and 4"),
    ("seed_cnn", {"dense_units": 0}, "Dense units must be between 8 and 4096"),
    ("dropout_cnn", {"dropout": 1.5}, "Dropout rate must be between 0 and 0.9"),
    ("vgg16_transfer", {"weights": "cifar"}, "Initial weights must be one of imagenet, none"),
    ("vgg16_transfer", {"trainable_layers": 40}, "Trainable VGG16 layers must be between 0 and 18"),
    ("seed_cnn", {"depth": 3}, "Unknown seed_cnn parameter"),
    ("resnet", {}, "Unknown architecture 'resnet'"),
])
def test_out_of_range_hparams_are_refused(arch, hparams, message):
    with pytest.raises(ParamError, match=message):
        check_hparams(arch, hparams)


def test_registry_describes_widgets():
    for arch in ARCHITECTURES.values():
        assert arch.description and arch.title
        for spec in arch.hparams:
            assert spec.help and spec.check(spec.default) == spec.default
