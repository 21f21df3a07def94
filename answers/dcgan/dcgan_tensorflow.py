# %% [markdown]
# # Deep Convolutional GAN — TensorFlow (core: tf.Module, tf.GradientTape, tf.function; no Keras)
#
# The GAN game played by convolutional networks, built by the DCGAN rules.
# Question sheet: questions/dcgan.md. Run: `python answers/dcgan/dcgan_tensorflow.py --help`.

# %% 1. Config
from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf

import gendojo
from gendojo import gan_metrics, quality, tf_core

TOPIC, FRAMEWORK = "dcgan", "tensorflow"


@dataclass
class Config:
    dataset: str = "simple-shapes"
    data_dir: str = ""
    image_size: int = 32  # a multiple of 16: four stride-2 layers halve or double it four times
    channels: int = 3
    dataset_size: int = 4096
    latent_dim: int = 100
    g_width: float = field(default=0.25, metadata={"help": "scales G's reference channel widths"})
    d_width: float = field(default=0.5, metadata={"help": "scales D's reference channel widths"})
    steps: int = 2500  # at 2000, 3 of 12 shape runs missed a class, such as the thin rings (sheet)
    batch_size: int = 32  # 64 costs 1.7 times as much a step and drew no better (see the sheet)
    lr: float = field(default=2e-4, metadata={"help": "G's learning rate"})
    d_lr: float = field(
        default=4e-4, metadata={"help": "D's learning rate: twice G's, see the sheet"}
    )
    beta1: float = field(
        default=0.5, metadata={"help": "Adam's β1; 0.5 rather than 0.9 steadies the game"}
    )
    lr_decay: float = field(
        default=0.4,
        metadata={"help": "the share of steps at the end over which both rates fall to 0"},
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
        self.size = config.image_size // 16
        self.top, c1, c2, c3 = (max(1, round(n * config.g_width)) for n in (256, 512, 256, 128))
        self.dense = tf_core.Dense(config.latent_dim, self.size * self.size * self.top)
        self.norms = [
            tf_core.BatchNorm(c, momentum=0.9, epsilon=1e-5) for c in (self.top, c1, c2, c3)
        ]
        # padding 2, output_padding 1 (as PyTorch): exactly double the size. "SAME" would trim 1
        # pixel before and 2 after, a one-pixel shift from the other frameworks' layers.
        channels = (self.top, c1, c2, c3, config.channels)
        self.ups = [
            tf_core.Conv2DTranspose(a, b, 5, stride=2, padding=2, output_padding=1)
            for a, b in zip(channels[:-1], channels[1:], strict=True)
        ]
        # END SOLUTION Q1

    def __call__(self, z, training):
        # BEGIN SOLUTION Q1
        # shapes at the default config: N noises of 100 → N images
        h = self.dense(z)
        h = tf.reshape(h, [-1, self.size, self.size, self.top])
        h = tf.nn.relu(self.norms[0](h, training))  # (N, 2, 2, 64)
        for up, norm in zip(self.ups[:-1], self.norms[1:], strict=True):
            h = tf.nn.relu(norm(up(h), training))  # (N, 4, 4, 128), (N, 8, 8, 64), (N, 16, 16, 32)
        return tf.tanh(self.ups[-1](h))  # (N, 32, 32, 3); no BatchNorm at G's output
        # END SOLUTION Q1


class Discriminator(tf.Module):
    def __init__(self, config):
        super().__init__()
        # BEGIN SOLUTION Q1
        size = config.image_size // 16
        widths = (max(1, round(n * config.d_width)) for n in (32, 64, 128, 256))
        channels = (config.channels, *widths)
        # stride 2 instead of pooling: D learns its own downsampling
        self.convs = [
            tf_core.Conv2D(a, b, 5, stride=2, padding=2)  # 2 on each side, as PyTorch
            for a, b in zip(channels[:-1], channels[1:], strict=True)
        ]
        # no BatchNorm at D's input
        self.norms = [tf_core.BatchNorm(c, momentum=0.9, epsilon=1e-5) for c in channels[2:]]
        self.dense = tf_core.Dense(channels[-1] * size * size, 1)
        # END SOLUTION Q1

    def __call__(self, x, training):
        # BEGIN SOLUTION Q1
        # shapes at the default config: N images of 32 × 32 × 3 → N logits
        h = tf.nn.leaky_relu(self.convs[0](x), alpha=0.2)  # (N, 16, 16, 16)
        for conv, norm in zip(self.convs[1:], self.norms, strict=True):  # … → (N, 2, 2, 128)
            h = tf.nn.leaky_relu(norm(conv(h), training), alpha=0.2)  # (N, 8, 8, 32), …
        h = tf.reshape(h, [tf.shape(h)[0], -1])  # (N, 512)
        return self.dense(h)  # (N, 1): a logit, the loss applies the sigmoid
        # END SOLUTION Q1


def build(config):
    gendojo.check(
        config.image_size % 16 == 0,
        f"--image-size must be a multiple of 16 (four stride-2 layers), not {config.image_size}",
    )
    tf.random.set_seed(config.seed)
    with tf.device(device_for(config)):
        networks = {"generator": Generator(config), "discriminator": Discriminator(config)}
        for network in networks.values():  # the DCGAN paper's N(0, 0.02) weights (tf_core: Glorot)
            for layer in network.submodules:
                if isinstance(layer, tf_core.Dense | tf_core.Conv2D | tf_core.Conv2DTranspose):
                    layer.kernel.assign(tf.random.normal(layer.kernel.shape, stddev=0.02))
    return networks


# %% 4. Loss (Q2)
# D's target for real images: 0.9, not 1 (one-sided label smoothing). A D that may grow certain
# lets G hide in a few modes of real data; measured in the sheet's "Real data" section.
REAL_TARGET = 0.9


def discriminator_loss(real_logits, fake_logits):
    """Sigmoid cross-entropy, real → 0.9, fake → 0, mean of the two halves: log 2 at a draw."""
    # BEGIN SOLUTION Q2
    bce = tf.nn.sigmoid_cross_entropy_with_logits
    targets = tf.fill(tf.shape(real_logits), REAL_TARGET)
    real = tf.reduce_mean(bce(labels=targets, logits=real_logits))
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
        fakes = generator(latents, training=True)
        # D first, on real and fake in two passes (BatchNorm: each with its own batch statistics);
        # stop_gradient keeps this update from reaching G.
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
        g_loss = generator_loss(
            discriminator(fakes, training=True)
        )  # D's BatchNorm: batch statistics
    gradients = g_tape.gradient(g_loss, generator.trainable_variables)
    optimizers["generator"].apply_gradients(
        zip(gradients, generator.trainable_variables, strict=True)
    )
    return {"d_loss": d_loss, "g_loss": g_loss}
    # END SOLUTION Q3


# %% 6. Training loop
def decayed(rate, step, config):
    """``rate``, until the last ``lr_decay`` share of the steps takes it linearly down towards 0.
    A GAN's samples swing from step to step; falling rates let the last steps settle (sheet)."""
    tail = config.lr_decay * config.steps
    return rate * min(1.0, (config.steps - step) / tail) if tail > 0 else rate


def train(config, data, networks=None, callback=None, run=None):
    """Train on ``data.images``; return the networks and the per-step history.

    ``run`` (from ``main``) continues a stopped run: see gendojo/runs.py."""
    networks = networks or build(config)
    rates = {"generator": config.lr, "discriminator": config.d_lr}  # D learns faster than G
    optimizers = {
        name: tf_core.Adam(
            network.trainable_variables, learning_rate=rates[name], beta_1=config.beta1
        )
        for name, network in networks.items()
    }
    run = gendojo.Run.of(run, config)  # counts steps and batches, so a run can stop and go on
    stream = run.stream(batches(data.images, config))
    # NumPy noise: the same numbers in all four frameworks, its state saved with the run;
    # seed + 1, so that the steps' noise is not the grid's (fixed_latents)
    noise = run.noise(np.random.default_rng(config.seed + 1))
    fixed = fixed_latents(config)
    history = run.history({"d_loss": [], "g_loss": [], "diversity": []})
    with tf.device(device_for(config)):
        for step in run.steps(optimizers, f"{TOPIC} {FRAMEWORK}"):
            for name, optimizer in optimizers.items():  # a tf.Variable: no new trace of the step
                optimizer.learning_rate.assign(decayed(rates[name], step, config))
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
def fixed_latents(config, count=64):
    """The latents of every sample grid and of the diversity check, the same in every framework."""
    return np.random.default_rng(config.seed).standard_normal(
        (count, config.latent_dim), dtype=np.float32
    )


def generate(networks, latents):
    """(N, latent_dim) noise → N images, NHWC float32 in [-1, 1]."""
    # BEGIN SOLUTION Q4
    z = tf.convert_to_tensor(np.asarray(latents, dtype=np.float32))
    return networks["generator"](z, training=False).numpy()  # BatchNorm: running statistics
    # END SOLUTION Q4


def discriminate(networks, images):
    """NHWC images in [-1, 1] → D's logits, (N, 1) float32: above 0 means "looks real"."""
    # BEGIN SOLUTION Q4
    x = tf.convert_to_tensor(np.asarray(images, dtype=np.float32))
    return networks["discriminator"](x, training=False).numpy()  # BatchNorm: running statistics
    # END SOLUTION Q4


# %% 8. Main
def main(argv=None):
    config = gendojo.parse_args(Config, argv, description="DCGAN in TensorFlow")
    data = gendojo.load_dataset(config)
    fixed = fixed_latents(config)  # the same samples in every grid, and every framework

    def samples(networks):
        return generate(networks, fixed)

    def score(networks):  # 1000 fresh samples against real images: see gendojo/quality.py
        return quality.score_generator(data, config, lambda z: generate(networks, z))

    gendojo.train_and_save(config, TOPIC, FRAMEWORK, build, train, data, samples, score)


if __name__ == "__main__":
    gendojo.run_main(main)
