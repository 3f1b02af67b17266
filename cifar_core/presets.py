"""One-click setups that reproduce each source notebook (values are training-page settings)."""

PRESETS = {
    "plain_cnn": {"title": "Plain CNN — Adam 1e-4, batch 32", "values": {
        "arch": "seed_cnn", "dataset": "cifar10", "optimizer": "adam", "learning_rate": 1e-4,
        "batch_size": 32, "epochs": 20, "augment": [], "patience": 0}},
    "bn_cnn": {"title": "With batch normalisation — Adam 1e-4, batch 32", "values": {
        "arch": "bn_cnn", "dataset": "cifar10", "optimizer": "adam", "learning_rate": 1e-4,
        "batch_size": 32, "epochs": 20, "augment": [], "patience": 0}},
    "dropout_cnn": {"title": "With dropout — RMSprop 1e-4, batch 32", "values": {
        "arch": "dropout_cnn", "dataset": "cifar10", "optimizer": "rmsprop", "learning_rate": 1e-4,
        "batch_size": 32, "epochs": 30, "augment": [], "patience": 0}},
    "vgg16": {"title": "VGG16 transfer with augmentation — Adam 1e-4, batch 32", "values": {
        "arch": "vgg16_transfer", "dataset": "cifar10", "optimizer": "adam", "learning_rate": 1e-4,
        "batch_size": 32, "epochs": 10, "augment": ["flip", "shift", "rotation", "zoom"], "patience": 3}},
    "fashion": {"title": "Small CNN on Fashion-MNIST — Adam 1e-3, batch 64", "values": {
        "arch": "small_cnn", "dataset": "fashion_mnist", "optimizer": "adam", "learning_rate": 1e-3,
        "batch_size": 64, "epochs": 10, "augment": [], "patience": 0}},
}
