"""Checks of the Keras answers and kit that must hold on whichever Keras backend is loaded:
test_kit.py runs the TrainingMode check on TensorFlow, tests/test_keras_backends.py runs them all
on each backend it finds (TensorFlow, torch, JAX), one process per backend."""

import dataclasses
from pathlib import Path

import keras
import numpy as np
from keras import layers, ops

from gendojo.keras_tools import TrainingMode


def training_mode_differences():
    """Largest absolute differences between TrainingMode(net).predict_on_batch(x) and the eager
    net(x, training=True) on a twin network, over three calls, and what they are checked against."""

    def network(dropout):
        keras.utils.set_random_seed(0)
        return keras.Sequential(
            [keras.Input((8,)), layers.Dense(16), layers.BatchNormalization(), layers.ReLU()]
            + ([layers.Dropout(0.5)] if dropout else [])
            + [layers.Dense(4)]
        )

    def biggest(a, b):
        return float(np.max(np.abs(np.asarray(a) - np.asarray(b))))

    def moving(net):
        return [ops.convert_to_numpy(v) for v in net.non_trainable_weights]

    x = np.random.default_rng(0).standard_normal((32, 8)).astype(np.float32)
    result = {}
    for dropout in (False, True):
        eager, twin = network(dropout), network(dropout)
        start = moving(twin)
        wrapped = TrainingMode(twin)
        calls = [
            (ops.convert_to_numpy(eager(x, training=True)), wrapped.predict_on_batch(x)) for _ in range(3)
        ]
        name = "dropout" if dropout else "batchnorm"
        result[f"{name}_output_vs_eager"] = max(biggest(e, w) for e, w in calls)
        result[f"{name}_moving_vs_eager"] = max(
            biggest(e, w) for e, w in zip(moving(eager), moving(twin), strict=True)
        )
        result[f"{name}_moving_moved"] = max(biggest(s, w) for s, w in zip(start, moving(twin), strict=True))
        result[f"{name}_vs_inference"] = biggest(calls[-1][1], ops.convert_to_numpy(twin(x, training=False)))
        result[f"{name}_between_calls"] = biggest(calls[0][1], calls[1][1])
    return result


def _load(path):
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"keras_checks_{Path(path).stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tiny(answer, topic, steps):
    """The harness's tiny config for ``topic`` (tests/topics/<topic>.py), ``steps`` steps."""
    spec = _load(Path(__file__).parent / "topics" / f"{topic}.py")
    return dataclasses.replace(answer.Config(), **{**spec.TINY, "quiet": True, "steps": steps})


def train_briefly(path, topic, steps=2):
    """Train the answer at ``path`` for ``steps`` tiny steps; every value of its history."""
    import gendojo

    answer = _load(path)
    config = _tiny(answer, topic, steps)
    _, history = answer.train(config, gendojo.load_dataset(config))
    return [float(v) for values in history.values() for v in values]


def frozen_discriminator(path, topic, steps=2):
    """Train a Keras answer whose D has BatchNorm (DCGAN, cGAN) a few tiny steps and measure, at
    every step, what D's update and G's update through the combined model move in D. G's update
    must move none of D's weights (kernels, biases, BatchNorm's scale and shift) but must move
    D's moving statistics: D ran in training mode, as in the other frameworks."""
    import gendojo

    answer = _load(path)
    config = _tiny(answer, topic, steps)
    networks = answer.build(config)
    discriminator = networks["discriminator"]
    norms = [layer for layer in discriminator.layers if isinstance(layer, layers.BatchNormalization)]
    moving = {id(w) for layer in norms for w in (layer.moving_mean, layer.moving_variance)}

    def values(kind):
        chosen = [w for w in discriminator.weights if (id(w) in moving) == (kind == "moving")]
        return [ops.convert_to_numpy(w).copy() for w in chosen]

    def moved(before, kind):
        return max(float(np.max(np.abs(a - b))) for a, b in zip(before, values(kind), strict=True))

    steps_seen = []
    original = answer.train_step

    def watched(networks, trainers, *args):
        step = {}

        def around(trainer, name):
            update = trainer.train_on_batch

            def train_on_batch(*a, **k):
                learned, statistics = values("learned"), values("moving")
                try:
                    return update(*a, **k)
                finally:
                    step[f"{name}_moves_weights"] = moved(learned, "learned")
                    step[f"{name}_moves_statistics"] = moved(statistics, "moving")

            trainer.train_on_batch = train_on_batch
            return update

        updates = {name: around(trainers[name], name) for name in ("discriminator", "generator")}
        try:
            return original(networks, trainers, *args)
        finally:
            for name, update in updates.items():
                trainers[name].train_on_batch = update
            steps_seen.append(step)

    answer.train_step = watched
    answer.train(config, gendojo.load_dataset(config), networks=networks)
    return {
        "batchnorm_layers": len(norms),
        "steps": steps_seen,
        "trainable_after": len(discriminator.trainable_weights),
        "weights": len(values("learned")),
    }


def backend_report(training_mode, frozen, runs, steps=2):
    """What tests/test_keras_backends.py checks on one backend, in one process: the TrainingMode
    promise (if ``training_mode``), ``frozen_discriminator`` for each (path, topic) in ``frozen``,
    ``train_briefly`` for each in ``runs``. A failure is reported, not raised."""
    report = {"backend": keras.backend.backend(), "frozen": {}, "runs": {}}
    if training_mode:
        report["training_mode"] = training_mode_differences()
    for kind, function, pairs in (("frozen", frozen_discriminator, frozen), ("runs", train_briefly, runs)):
        for path, topic in pairs:
            try:
                report[kind][path] = function(path, topic, steps)
            except Exception as error:  # one answer's failure must not hide the others'
                report[kind][path] = {"error": f"{type(error).__name__}: {error}"}
    return report
