"""The numbers behind gendojo/keras_tools.py's promise, measured on whichever Keras backend is
loaded: test_kit.py runs this on the TensorFlow backend, keras_backend_run.py on torch."""

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
