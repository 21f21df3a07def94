# %% [markdown]
# # Auto Encoder — TensorFlow (core: tf.Module, tf.GradientTape, tf.function, tf.data; no Keras)
#
# An hourglass of two dense layers learns to copy images through a 64-number bottleneck.
# Question sheet: questions/ae.md. Run: `python answers/ae/ae_tensorflow.py --help`.

# %% 1. Config
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

import gendojo
from gendojo import tf_core

TOPIC, FRAMEWORK = "ae", "tensorflow"


@dataclass
class Config:
    dataset: str = "shapes"
    data_dir: str = ""
    image_size: int = 32
    channels: int = 3
    dataset_size: int = 4096
    latent_dim: int = 64  # the bottleneck: far fewer numbers than the 32·32·3 = 3072 inputs
    steps: int = 2000
    batch_size: int = 64
    lr: float = 1e-3
    seed: int = 0
    out: str = ""
    device: str = "auto"
    resume: bool = False
    sample_every: int = 500
    quiet: bool = False


def device_for(config):
    gpu = "/GPU:0" if tf.config.list_physical_devices("GPU") else None
    return gendojo.choose_device(config, gpu, "/CPU:0", "TensorFlow")


# %% 2. Data
def batches(images, config):
    """Endless shuffled NHWC batches from tf.data (TensorFlow keeps channels last)."""
    dataset = tf.data.Dataset.from_tensor_slices(images)
    dataset = dataset.shuffle(len(images), seed=config.seed).repeat()
    return iter(dataset.batch(min(config.batch_size, len(images)), drop_remainder=True))


# %% 3. Models (Q1)
class Encoder(tf.Module):
    def __init__(self, config):
        super().__init__()
        # BEGIN SOLUTION Q1
        pixels = config.image_size * config.image_size * config.channels
        self.dense = tf_core.Dense(pixels, config.latent_dim)
        # END SOLUTION Q1

    def __call__(self, x):
        # BEGIN SOLUTION Q1
        return tf.nn.relu(self.dense(tf.reshape(x, [tf.shape(x)[0], -1])))  # (N, 64)
        # END SOLUTION Q1


class Decoder(tf.Module):
    def __init__(self, config):
        super().__init__()
        # BEGIN SOLUTION Q1
        self.shape = (config.image_size, config.image_size, config.channels)
        self.dense = tf_core.Dense(config.latent_dim, int(np.prod(self.shape)))
        # END SOLUTION Q1

    def __call__(self, z):
        # BEGIN SOLUTION Q1
        # no activation: the output is a raw estimate
        return tf.reshape(self.dense(z), [-1, *self.shape])  # (N, 32, 32, 3)
        # END SOLUTION Q1


def build(config):
    tf.random.set_seed(config.seed)
    with tf.device(device_for(config)):
        return {"encoder": Encoder(config), "decoder": Decoder(config)}


# %% 4. Loss (Q2)
def reconstruction_loss(images, reconstructions):
    """Mean squared error over every pixel and channel of the batch."""
    # BEGIN SOLUTION Q2
    return tf.reduce_mean(tf.square(reconstructions - images))
    # END SOLUTION Q2


# %% 5. Training step (Q3)
@tf.function  # traced once into a graph, then run as a graph at every step
def train_step(networks, optimizer, images):
    # BEGIN SOLUTION Q3
    encoder, decoder = networks["encoder"], networks["decoder"]
    with tf.GradientTape() as tape:
        loss = reconstruction_loss(images, decoder(encoder(images)))
    variables = encoder.trainable_variables + decoder.trainable_variables
    gradients = tape.gradient(loss, variables)
    optimizer.apply_gradients(zip(gradients, variables, strict=True))
    return {"loss": loss}
    # END SOLUTION Q3


# %% 6. Training loop
def train(config, data, networks=None, callback=None, run=None):
    """Train on ``data.images``; return the networks and the per-step loss history.

    ``run`` (from ``main``) continues a stopped run: see gendojo/runs.py."""
    networks = networks or build(config)
    variables = [v for network in networks.values() for v in network.trainable_variables]
    optimizer = tf_core.Adam(variables, learning_rate=config.lr)
    run = gendojo.Run.of(run, config)  # counts steps and batches, so a run can stop and go on
    stream = run.stream(batches(data.images, config))
    history = run.history({"loss": []})
    with tf.device(device_for(config)):
        for step in run.steps(optimizer, f"{TOPIC} {FRAMEWORK}"):
            losses = train_step(networks, optimizer, next(stream))
            for name, value in losses.items():
                history[name].append(float(value))
            if callback:
                callback(step, networks)
    return networks, history


# %% 7. Inference (Q4)
def reconstruct(networks, images):
    """NHWC images in [-1, 1] → their reconstructions, NHWC float32 clipped to [-1, 1]."""
    # BEGIN SOLUTION Q4
    encoder, decoder = networks["encoder"], networks["decoder"]
    x = tf.convert_to_tensor(np.asarray(images, dtype=np.float32))
    return tf.clip_by_value(decoder(encoder(x)), -1.0, 1.0).numpy()
    # END SOLUTION Q4


# %% 8. Main
def main(argv=None):
    config = gendojo.parse_args(Config, argv, description="Auto Encoder in TensorFlow")
    data = gendojo.load_dataset(config)
    fixed = data.images[:16]  # the same images in every grid, so grids are comparable over time

    def samples(networks):  # the fixed images above their reconstructions
        return [fixed, reconstruct(networks, fixed)]

    gendojo.train_and_save(config, TOPIC, FRAMEWORK, build, train, data, samples)


if __name__ == "__main__":
    gendojo.run_main(main)
