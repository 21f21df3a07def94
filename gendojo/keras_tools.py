"""One helper for the Keras GAN answers: G's forward pass in training mode, compiled.

A GAN step needs D's fakes from G in training mode (BatchNorm on the batch, dropout on) with no
gradient to G. ``predict_on_batch`` compiles the call but asks for inference mode; ``TrainingMode``
asks for training mode again inside it. Why, what it was checked against and what it saves:
questions/gan.md, "Keras: the fakes, in training mode and compiled".

    fakes = TrainingMode(generator).predict_on_batch(latents)   # NumPy: no gradient can reach G

Make it once, in ``train``: each new wrapper compiles its own predict function.
"""

import keras


class TrainingMode(keras.Model):
    """``network`` called with ``training=True``, whatever mode the caller asks for."""

    def __init__(self, network):
        super().__init__(name=f"{network.name}_in_training_mode")
        self.network = network

    def call(self, inputs, training=None):
        return self.network(inputs, training=True)
