"""Layers and optimizers for the TensorFlow answers, written with core TensorFlow only.

The TensorFlow answers use no Keras, and core TensorFlow has no layer or optimizer classes, so
these small ``tf.Module`` classes stand in for ``torch.nn`` and ``torch.optim``. Each is a few
lines of ``tf.Variable`` and ``tf.nn``; read them once, then read the answers. Conventions:

* images are NHWC (TensorFlow's native layout on CPU);
* weights are Glorot-uniform and biases zero, like Keras' defaults;
* ``BatchNorm(momentum=0.9)`` means ``moving = 0.9 * moving + 0.1 * batch``, as in Keras and
  Chainer's ``decay``; PyTorch's ``momentum=0.1`` is the same thing counted the other way round.

Optimizers take the variables to train when they are made, as ``torch.optim`` does, so their slot
variables exist before the first ``tf.function`` call (a ``tf.function`` may not create variables
after its first trace). ``apply_gradients(zip(gradients, variables))`` then has the shape
TensorFlow users know from ``tf.keras.optimizers``. The answers import this module as ``tf_core``.
"""

import math

import tensorflow as tf


def _glorot(shape, fan_in, fan_out):
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return tf.Variable(tf.random.uniform(shape, -limit, limit), name="kernel")


class Dense(tf.Module):
    """``y = x @ W + b`` for x of shape (N, in_features)."""

    def __init__(self, in_features, out_features, name=None):
        super().__init__(name=name)
        self.kernel = _glorot([in_features, out_features], in_features, out_features)
        self.bias = tf.Variable(tf.zeros([out_features]), name="bias")

    def __call__(self, x):
        return tf.matmul(x, self.kernel) + self.bias


def _explicit(padding):
    """``tf.nn``'s padding: "SAME", "VALID", or an int ``p`` for ``p`` zeros on every side (as
    PyTorch's ``padding=p``; "SAME" pads a 5 × 5 stride-2 layer 1 before and 2 after)."""
    return padding if isinstance(padding, str) else [[0, 0], [padding, padding], [padding, padding], [0, 0]]


class Conv2D(tf.Module):
    """A 2-D convolution, NHWC; ``padding`` is "SAME", "VALID" or a number of pixels per side."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding="SAME", name=None):
        super().__init__(name=name)
        k = kernel_size
        self.kernel = _glorot([k, k, in_channels, out_channels], k * k * in_channels, k * k * out_channels)
        self.bias = tf.Variable(tf.zeros([out_channels]), name="bias")
        self.stride, self.padding = stride, padding

    def __call__(self, x):
        return tf.nn.conv2d(x, self.kernel, self.stride, _explicit(self.padding)) + self.bias


class Conv2DTranspose(tf.Module):
    """A transposed convolution, NHWC. With "SAME" padding the output is ``stride`` × the input;
    with an int ``padding`` and ``output_padding`` it is PyTorch's ``ConvTranspose2d``:
    ``(in - 1) × stride + kernel_size - 2 × padding + output_padding``.

    ``tf.nn.conv2d_transpose`` needs the output shape spelled out, and its kernel is stored as
    (k, k, out_channels, in_channels): the transpose of the matching ``Conv2D``'s kernel.
    """

    def __init__(
        self, in_channels, out_channels, kernel_size, stride=1, padding="SAME", output_padding=0, name=None
    ):
        super().__init__(name=name)
        k = kernel_size
        self.kernel = _glorot([k, k, out_channels, in_channels], k * k * in_channels, k * k * out_channels)
        self.bias = tf.Variable(tf.zeros([out_channels]), name="bias")
        self.k, self.stride, self.padding, self.out_channels = k, stride, padding, out_channels
        self.output_padding = output_padding

    def _size(self, length):
        if self.padding == "SAME":
            return length * self.stride
        trim = 0 if self.padding == "VALID" else 2 * self.padding - self.output_padding
        return (length - 1) * self.stride + self.k - trim

    def __call__(self, x):
        n, h, w = tf.shape(x)[0], x.shape[1], x.shape[2]
        shape = tf.stack([n, self._size(h), self._size(w), self.out_channels])
        padding = _explicit(self.padding)
        return tf.nn.conv2d_transpose(x, self.kernel, shape, self.stride, padding) + self.bias


class BatchNorm(tf.Module):
    """Batch normalisation over all axes but the last (channels). ``affine=False`` leaves out the
    learned scale and shift (gamma, beta), as PyTorch's ``BatchNorm2d(affine=False)``."""

    def __init__(self, channels, momentum=0.9, epsilon=1e-5, affine=True, name=None):
        super().__init__(name=name)
        self.gamma = tf.Variable(tf.ones([channels]), name="gamma") if affine else None
        self.beta = tf.Variable(tf.zeros([channels]), name="beta") if affine else None
        self.moving_mean = tf.Variable(tf.zeros([channels]), trainable=False, name="moving_mean")
        self.moving_variance = tf.Variable(tf.ones([channels]), trainable=False, name="moving_variance")
        self.momentum, self.epsilon = momentum, epsilon

    def __call__(self, x, training):
        if training:
            axes = list(range(len(x.shape) - 1))
            mean, variance = tf.nn.moments(x, axes)
            self.moving_mean.assign(self.momentum * self.moving_mean + (1 - self.momentum) * mean)
            self.moving_variance.assign(self.momentum * self.moving_variance + (1 - self.momentum) * variance)
        else:
            mean, variance = self.moving_mean, self.moving_variance
        return tf.nn.batch_normalization(x, mean, variance, self.beta, self.gamma, self.epsilon)


def _slot(var_list, variable):
    """The index of ``variable``'s slots: a variable the optimizer was not made with is an error."""
    for index, candidate in enumerate(var_list):
        if candidate is variable:
            return index
    raise ValueError(f"variable {variable.name} was not given to this optimizer when it was made")


def _rate(learning_rate):
    """The learning rate as a variable: a training loop may change it (``.assign``) between steps
    without a new trace of a ``tf.function`` step, which would keep a Python number as a constant."""
    return tf.Variable(learning_rate, dtype=tf.float32, trainable=False, name="learning_rate")


class Adam(tf.Module):
    """Adam (Kingma & Ba, 2015) with bias correction, as ``torch.optim.Adam`` computes it."""

    def __init__(self, variables, learning_rate=1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-8):
        super().__init__()
        self.var_list = list(variables)
        self.learning_rate = _rate(learning_rate)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon
        self.iterations = tf.Variable(0.0, trainable=False, name="iterations")
        self.m = [tf.Variable(tf.zeros_like(v), trainable=False) for v in self.var_list]
        self.v = [tf.Variable(tf.zeros_like(v), trainable=False) for v in self.var_list]

    def apply_gradients(self, grads_and_vars):
        """One update from (gradient, variable) pairs; each variable must be one given at make."""
        self.iterations.assign_add(1.0)
        t = self.iterations
        correction_1, correction_2 = 1 - self.beta_1**t, 1 - self.beta_2**t
        for gradient, variable in grads_and_vars:
            m, v = (slots[_slot(self.var_list, variable)] for slots in (self.m, self.v))
            m.assign(self.beta_1 * m + (1 - self.beta_1) * gradient)
            v.assign(self.beta_2 * v + (1 - self.beta_2) * tf.square(gradient))
            step = (m / correction_1) / (tf.sqrt(v / correction_2) + self.epsilon)
            variable.assign_sub(self.learning_rate * step)


class RMSprop(tf.Module):
    """RMSprop as ``torch.optim.RMSprop`` computes it (alpha 0.99, epsilon outside the root)."""

    def __init__(self, variables, learning_rate=1e-3, rho=0.99, epsilon=1e-8):
        super().__init__()
        self.var_list = list(variables)
        self.learning_rate = _rate(learning_rate)
        self.rho, self.epsilon = rho, epsilon
        self.iterations = tf.Variable(0.0, trainable=False, name="iterations")
        self.square_average = [tf.Variable(tf.zeros_like(v), trainable=False) for v in self.var_list]

    def apply_gradients(self, grads_and_vars):
        """One update from (gradient, variable) pairs; each variable must be one given at make."""
        self.iterations.assign_add(1.0)
        for gradient, variable in grads_and_vars:
            average = self.square_average[_slot(self.var_list, variable)]
            average.assign(self.rho * average + (1 - self.rho) * tf.square(gradient))
            variable.assign_sub(self.learning_rate * gradient / (tf.sqrt(average) + self.epsilon))
