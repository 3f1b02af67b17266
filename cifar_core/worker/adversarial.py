"""An adversarial nudge (Goodfellow et al., 2015, the fast gradient sign method) on the student's own
model, in the inspection worker: every pixel moved by ε in the direction that raises the loss of
one class, so that the picture barely changes and the prediction may."""

import numpy as np
import tensorflow as tf

from cifar_core.config.hparams import EPSILON_STEP, MAX_EPSILON
from cifar_core.worker.inspection import cam_layers, classifier_input_model, grad_cam


def _logits(model, pixels):
    """The class scores before the softmax: a confident prediction's softmax is exactly 1 in
    float32, and its loss's gradient 0, where the logits still have one."""
    features_of = classifier_input_model(model)
    head = model.layers[-1]  # the softmax Dense
    features = tf.cast(features_of(pixels, training=False), tf.float32)
    return features @ tf.cast(head.kernel, tf.float32) + tf.cast(head.bias, tf.float32)


def gradient_sign(model, image, class_index):
    """sign(∂ loss / ∂ pixels) of the cross-entropy of `class_index` for one image (H, W, C), 0–255:
    the direction, pixel by pixel, that makes that class less likely."""
    pixels = tf.constant(np.asarray(image, np.float32)[None])
    with tf.GradientTape() as tape:
        tape.watch(pixels)
        loss = tf.nn.sparse_softmax_cross_entropy_with_logits([int(class_index)], _logits(model, pixels))
    return np.sign(tape.gradient(loss, pixels).numpy()[0]).astype(np.float32)


def nudged(image, sign, epsilon):
    """The image moved by ε along `sign`, kept within 0–255."""
    return np.clip(np.asarray(image, np.float32) + np.float32(epsilon) * sign, 0.0, 255.0)


def nudge(model, image, class_index, epsilon, class_names):
    """FGSM of one image against `class_index` at ε: {image (float32 0–255), difference, top
    [(class, probability)] ×5, cam (Grad-CAM of the new prediction, 0–1), predicted}."""
    sign = gradient_sign(model, image, class_index)
    adversarial = nudged(image, sign, epsilon)
    probabilities = np.asarray(model(adversarial[None], training=False), np.float32)[0]  # as `_predicted`
    order = np.argsort(probabilities)[::-1][:5]
    predicted = int(order[0])
    cam = grad_cam(model, adversarial, [predicted], cam_layers(model)[-1])["heatmaps"][predicted] \
        if cam_layers(model) else None
    return {"image": adversarial, "difference": adversarial - np.asarray(image, np.float32), "predicted": predicted,
            "top": [(class_names[i], float(probabilities[i])) for i in order], "cam": cam}


def smallest_epsilon(model, image, class_index, max_epsilon=MAX_EPSILON, step=EPSILON_STEP):
    """The smallest ε (a multiple of `step`, at most `max_epsilon`) at which the nudge against
    `class_index` changes the prediction, or None: every ε of the grid in one batch."""
    image = np.asarray(image, np.float32)
    before = _predicted(model, image)
    sign = gradient_sign(model, image, class_index)
    epsilons = np.arange(step, max_epsilon + step / 2, step, dtype=np.float32)
    batch = np.clip(image[None] + epsilons[:, None, None, None] * sign[None], 0.0, 255.0)
    predicted = np.asarray(model.predict(batch, batch_size=64, verbose=0)).argmax(axis=1)
    # A batch's kernels may round a near tie the other way: each candidate is confirmed as `nudge`
    # computes it, one image at a time, so that the page shows the flip it announces.
    for candidate in epsilons[predicted != before]:
        if _predicted(model, nudged(image, sign, candidate)) != before:
            return float(candidate)
    return None


def _predicted(model, image):
    return int(np.argmax(np.asarray(model(np.asarray(image, np.float32)[None], training=False))[0]))
