# %% [markdown]
# # Generative Adversarial Network — TensorFlow
#
# TensorFlow core: tf.Module, tf.GradientTape, tf.function, tf.data; no Keras.
#
# Two multilayer perceptrons play a game: G turns noise into images, D tells them from real ones.
# Question sheet: questions/gan.md. Run: `python answers/gan/gan_tensorflow.py --help`.

# %% 1. Config
from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf

import gendojo
from gendojo import gan_metrics, quality, tf_core

TOPIC, FRAMEWORK = "gan", "tensorflow"


@dataclass
class Config:
    dataset: str = "simple-shapes"
    data_dir: str = ""
    image_size: int = 16
    channels: int = 3
    dataset_size: int = 4096
    latent_dim: int = 100
    steps: int = 4000
    batch_size: int = 64
    lr: float = 2e-4
    dropout: float = field(
        default=0.5, metadata={"help": "D's dropout after each hidden layer (see the sheet)"}
    )
    beta1: float = field(
        default=0.5, metadata={"help": "Adam's β1; 0.5 rather than 0.9 steadies the game"}
    )
    seed: int = 0
    out: str = ""
    device: str = "auto"
    resume: bool = False
    sample_every: int = 500
    diversity_every: int = field(default=50, metadata={"help": "steps between diversity checks"})
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
class Generator(tf.Module):
    def __init__(self, config):
        super().__init__()
        # BEGIN SOLUTION Q1
        self.shape = (config.image_size, config.image_size, config.channels)
        sizes = (config.latent_dim, 128, 256, 512, int(np.prod(self.shape)))  # (N, 128)…(N, 768)
        self.layers = [tf_core.Dense(a, b) for a, b in zip(sizes[:-1], sizes[1:], strict=True)]
        # END SOLUTION Q1

    def __call__(self, z):
        # BEGIN SOLUTION Q1
        h = z
        for dense in self.layers[:-1]:
            h = tf.nn.leaky_relu(dense(h), alpha=0.2)
        x = tf.tanh(self.layers[-1](h))  # images live in [-1, 1]
        return tf.reshape(x, [-1, *self.shape])  # (N, 16, 16, 3)
        # END SOLUTION Q1


class Discriminator(tf.Module):
    def __init__(self, config):
        super().__init__()
        # BEGIN SOLUTION Q1
        sizes = (config.image_size * config.image_size * config.channels, 512, 256, 1)  # (N, 512)…
        self.layers = [tf_core.Dense(a, b) for a, b in zip(sizes[:-1], sizes[1:], strict=True)]
        # dropout after each hidden layer (without it G never learns one of the six shapes); its
        # masks come from this seeded generator, so the same seed gives the same run
        self.dropout, self.noise = config.dropout, tf.random.Generator.from_seed(config.seed)
        # END SOLUTION Q1

    def __call__(self, x, training=False):
        # BEGIN SOLUTION Q1
        h = tf.reshape(x, [tf.shape(x)[0], -1])  # (N, 768)
        for dense in self.layers[:-1]:
            h = tf.nn.leaky_relu(dense(h), alpha=0.2)
            if training:
                seed = self.noise.make_seeds(1)[:, 0]
                h = tf.nn.experimental.stateless_dropout(h, rate=self.dropout, seed=seed)
        return self.layers[-1](h)  # (N, 1): a logit, no sigmoid here, the loss applies it
        # END SOLUTION Q1


def build(config):
    tf.random.set_seed(config.seed)
    with tf.device(device_for(config)):
        return {"generator": Generator(config), "discriminator": Discriminator(config)}


# %% 4. Loss (Q2)
def discriminator_loss(real_logits, fake_logits):
    """Sigmoid cross-entropy, real → 1 and fake → 0, averaged over both halves: log 2 at a draw."""
    # BEGIN SOLUTION Q2
    bce = tf.nn.sigmoid_cross_entropy_with_logits
    real = tf.reduce_mean(bce(labels=tf.ones_like(real_logits), logits=real_logits))
    fake = tf.reduce_mean(bce(labels=tf.zeros_like(fake_logits), logits=fake_logits))
    return (real + fake) / 2
    # END SOLUTION Q2


def generator_loss(fake_logits):
    """The non-saturating loss: G maximises log D(G(z)) by calling its fakes real (target 1)."""
    # BEGIN SOLUTION Q2
    bce = tf.nn.sigmoid_cross_entropy_with_logits
    return tf.reduce_mean(bce(labels=tf.ones_like(fake_logits), logits=fake_logits))
    # END SOLUTION Q2


# %% 5. Training step (Q3)
@tf.function  # traced once into a graph, then run as a graph at every step
def train_step(networks, optimizers, images, latents):
    # BEGIN SOLUTION Q3
    generator, discriminator = networks["generator"], networks["discriminator"]
    with tf.GradientTape() as g_tape:
        fakes = generator(latents)
        # D first, on real and fake; stop_gradient keeps this update from reaching G.
        with tf.GradientTape() as d_tape:
            d_loss = discriminator_loss(
                discriminator(images, training=True),
                discriminator(tf.stop_gradient(fakes), training=True),
            )
        gradients = d_tape.gradient(d_loss, discriminator.trainable_variables)
        optimizers["discriminator"].apply_gradients(
            zip(gradients, discriminator.trainable_variables, strict=True)
        )
        # Then G, through the freshly updated D; only G's variables are differentiated.
        g_loss = generator_loss(discriminator(fakes, training=True))
    gradients = g_tape.gradient(g_loss, generator.trainable_variables)
    optimizers["generator"].apply_gradients(
        zip(gradients, generator.trainable_variables, strict=True)
    )
    return {"d_loss": d_loss, "g_loss": g_loss}
    # END SOLUTION Q3


# %% 6. Training loop
def train(config, data, networks=None, callback=None, run=None):
    """Train on ``data.images``; return the networks and the per-step history.

    ``run`` (from ``main``) continues a stopped run: see gendojo/runs.py."""
    networks = networks or build(config)
    optimizers = {
        name: tf_core.Adam(
            network.trainable_variables, learning_rate=config.lr, beta_1=config.beta1
        )
        for name, network in networks.items()
    }
    run = gendojo.Run.of(run, config)  # counts steps and batches, so a run can stop and go on
    stream = run.stream(batches(data.images, config))
    # NumPy noise: the same numbers in all four frameworks, its state saved with the run
    noise = run.noise(np.random.default_rng(config.seed + 1))  # not the grid's noise
    fixed = fixed_latents(config)  # the diversity check's samples: main's grid
    history = run.history({"d_loss": [], "g_loss": [], "diversity": []})
    with tf.device(device_for(config)):
        for step in run.steps(optimizers, f"{TOPIC} {FRAMEWORK}"):
            images = next(stream)
            latents = tf.constant(
                noise.standard_normal((len(images), config.latent_dim), dtype=np.float32)
            )
            losses = train_step(networks, optimizers, images, latents)
            for name, value in losses.items():
                history[name].append(float(value))
            if step % config.diversity_every == 0:  # a mode-collapse alarm, measured now and then
                history["diversity"].append(gan_metrics.diversity(generate(networks, fixed)))
            else:  # and held between measurements (a resumed run finds it in its history)
                history["diversity"].append(history["diversity"][-1])
            if callback:
                callback(step, networks)
    return networks, history


# %% 7. Inference (Q4)
def generate(networks, latents):
    """(N, latent_dim) noise → N images, NHWC float32 in [-1, 1]."""
    # BEGIN SOLUTION Q4
    z = tf.convert_to_tensor(np.asarray(latents, dtype=np.float32))
    return networks["generator"](z).numpy()
    # END SOLUTION Q4


def discriminate(networks, images):
    """NHWC images in [-1, 1] → D's logits, (N, 1) float32: above 0 means "looks real"."""
    # BEGIN SOLUTION Q4
    x = tf.convert_to_tensor(np.asarray(images, dtype=np.float32))
    return networks["discriminator"](x).numpy()
    # END SOLUTION Q4


def fixed_latents(config, count=64):
    """The latents of every sample grid and of the diversity check, the same in every framework."""
    return np.random.default_rng(config.seed).standard_normal(
        (count, config.latent_dim), dtype=np.float32
    )


# %% 8. Main
def main(argv=None):
    config = gendojo.parse_args(Config, argv, description="GAN in TensorFlow")
    data = gendojo.load_dataset(config)
    fixed = fixed_latents(config)  # the same samples in every grid, and in every framework

    def samples(networks):
        return generate(networks, fixed)

    def score(networks):  # 1000 fresh samples against real images: see gendojo/quality.py
        return quality.score_generator(data, config, lambda z: generate(networks, z))

    gendojo.train_and_save(config, TOPIC, FRAMEWORK, build, train, data, samples, score)


if __name__ == "__main__":
    gendojo.run_main(main)
