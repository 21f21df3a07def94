"""One helper for the Keras GAN answers: G's forward pass in training mode, compiled.

Each GAN step needs a batch of fakes from G *in training mode* (BatchNorm on the batch's own
statistics, dropout on), as in the other frameworks, but no gradient to G. ``generator(z,
training=True)`` gives that, but it runs eagerly, one layer after the other in Python: at the
default sizes it took longer than G's whole compiled ``train_on_batch`` update (one thread,
TensorFlow backend, ms per call, eager → here: the GAN 7.4 → 1.4, DCGAN 39 → 12, cGAN 36 → 12,
pix2pix 66 → 10, WGAN 25 → 6, five times per step). ``predict_on_batch`` compiles the call but
asks every layer for inference mode; ``TrainingMode`` asks for training mode again inside it.
It is the same computation. BatchNorm's output and the moving statistics it updates matched the
eager call's to the last bit in tests/test_kit.py, on the TensorFlow and torch backends, and
dropout draws a fresh mask on every call (on TensorFlow the very masks the eager call draws). A
compiled graph may fuse operations, though (a dense layer with its activation), and round in
other places: the dense GAN's losses first differed, by 1e-7, at its fourth step.

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
