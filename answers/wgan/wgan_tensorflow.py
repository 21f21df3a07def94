# %% [markdown]
# # Wasserstein GAN (weight clipping) — TensorFlow
#
# TensorFlow core: tf.Module, tf.GradientTape, tf.function, tf.data; no Keras.
#
# The DCGAN's networks trained on the Earth-Mover distance: a critic that scores, clipped weights,
# RMSprop and n_critic critic updates per generator update.
# Question sheet: questions/wgan.md. Run: `python answers/wgan/wgan_tensorflow.py --help`.

# %% 1. Config
from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf

import gendojo
from gendojo import gan_metrics, quality, tf_core

TOPIC, FRAMEWORK = "wgan", "tensorflow"


@dataclass
class Config:
    dataset: str = "simple-shapes"
    data_dir: str = ""
    image_size: int = 16  # a multiple of 16: four stride-2 layers halve or double it four times
    channels: int = 3
    dataset_size: int = 4096
    latent_dim: int = 100
    g_width: float = field(default=0.25, metadata={"help": "scales G's reference channel widths"})
    d_width: float = field(
        default=0.5, metadata={"help": "scales the critic's reference channel widths"}
    )
    # 4000 on the drawn shapes: at 3000 G was still improving and a run now and then left a shape
    # out; on real images 2250 with n_critic 3 (below), which drew the digits best (see the sheet)
    steps: int = field(default=4000, metadata={"real_images": 2250})
    batch_size: int = 64
    # not the paper's 5e-5: in a few CPU minutes G had not left noise or collapse (see the sheet)
    lr: float = 2e-4
    # not the paper's 5 (G stayed collapsed too long). At about the same cost, 2 drew the built-in
    # shapes best and 3 the real digits, so the default follows the data (see the sheet)
    n_critic: int = field(
        default=2, metadata={"help": "critic updates per generator update", "real_images": 3}
    )
    clip: float = field(
        default=0.01, metadata={"help": "every critic weight is clipped to [-clip, clip]"}
    )
    seed: int = 0
    out: str = ""
    device: str = "auto"
    resume: bool = False
    sample_every: int = 200
    diversity_every: int = field(default=25, metadata={"help": "steps between diversity checks"})
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
        h = tf.reshape(self.dense(z), [-1, self.size, self.size, self.top])  # (N, 1, 1, 64)
        h = tf.nn.relu(self.norms[0](h, training))
        for up, norm in zip(self.ups[:-1], self.norms[1:], strict=True):
            h = tf.nn.relu(norm(up(h), training))  # (N, 2, 2, 128), (N, 4, 4, 64), (N, 8, 8, 32)
        return tf.tanh(self.ups[-1](h))  # (N, 16, 16, 3); no BatchNorm before the tanh
        # END SOLUTION Q1


class Critic(tf.Module):
    def __init__(self, config):
        super().__init__()
        # BEGIN SOLUTION Q1
        widths = (max(1, round(n * config.d_width)) for n in (32, 64, 128, 256))
        channels = (config.channels, *widths)
        size = config.image_size // 16
        # no BatchNorm, unlike the DCGAN's D: here it made the critic worse (see the sheet)
        pairs = zip(channels[:-1], channels[1:], strict=True)
        # padding 2 on each side, as PyTorch and Chainer ("SAME" pads 1 before and 2 after)
        convs = [tf_core.Conv2D(a, b, 5, stride=2, padding=2) for a, b in pairs]
        self.layers = [*convs, tf_core.Dense(channels[-1] * size * size, 1)]
        # END SOLUTION Q1

    def __call__(self, x):
        # BEGIN SOLUTION Q1
        h = x
        for conv in self.layers[:-1]:  # (N, 8, 8, 16), (N, 4, 4, 32), (N, 2, 2, 64), (N, 1, 1, 128)
            h = tf.nn.leaky_relu(conv(h), alpha=0.2)
        # (N, 1): a score, not a probability, no sigmoid
        return self.layers[-1](tf.reshape(h, [tf.shape(h)[0], -1]))
        # END SOLUTION Q1


def build(config):
    gendojo.check(
        config.image_size % 16 == 0,
        f"--image-size must be a multiple of 16 (four stride-2 layers), not {config.image_size}",
    )
    tf.random.set_seed(config.seed)
    with tf.device(device_for(config)):
        networks = {"generator": Generator(config), "critic": Critic(config)}
        for network in networks.values():  # the DCGAN paper's N(0, 0.02) weights (tf_core: Glorot)
            for layer in network.submodules:
                if isinstance(layer, tf_core.Dense | tf_core.Conv2D | tf_core.Conv2DTranspose):
                    layer.kernel.assign(tf.random.normal(layer.kernel.shape, stddev=0.02))
    return networks


# %% 4. Loss (Q2)
def critic_loss(real_scores, fake_scores):
    """mean f(fake) − mean f(real): minimising it raises the critic's Earth-Mover estimate."""
    # BEGIN SOLUTION Q2
    return tf.reduce_mean(fake_scores) - tf.reduce_mean(real_scores)
    # END SOLUTION Q2


def generator_loss(fake_scores):
    """−mean f(G(z)): G moves its samples to where the critic scores higher."""
    # BEGIN SOLUTION Q2
    return -tf.reduce_mean(fake_scores)
    # END SOLUTION Q2


# %% 5. Training step (Q3)
@tf.function  # traced once into a graph (the critic loop unrolled), then run as a graph
def train_step(networks, optimizers, real_batches, latent_batches, clip):
    """len(real_batches) critic updates, then one generator update with the last noise batch."""
    # BEGIN SOLUTION Q3
    generator, critic = networks["generator"], networks["critic"]
    for images, latents in zip(real_batches, latent_batches[:-1], strict=True):
        fakes = generator(latents, training=True)  # outside the tape: the update can't reach G
        with tf.GradientTape() as tape:
            loss = critic_loss(critic(images), critic(fakes))
        gradients = tape.gradient(loss, critic.trainable_variables)
        optimizers["critic"].apply_gradients(
            zip(gradients, critic.trainable_variables, strict=True)
        )
        # after every critic update, every critic weight (kernels, biases) back into [-clip, clip]
        for variable in critic.trainable_variables:
            variable.assign(tf.clip_by_value(variable, -clip, clip))
    # Then G, through the clipped critic; only G's variables are differentiated.
    with tf.GradientTape() as tape:
        g_loss = generator_loss(critic(generator(latent_batches[-1], training=True)))
    gradients = tape.gradient(g_loss, generator.trainable_variables)
    optimizers["generator"].apply_gradients(
        zip(gradients, generator.trainable_variables, strict=True)
    )
    return {"critic_loss": loss, "g_loss": g_loss, "wasserstein": -loss}
    # END SOLUTION Q3


# %% 6. Training loop
def train(config, data, networks=None, callback=None, run=None):
    """Train on ``data.images``; return the networks and the per-step history.

    ``run`` (from ``main``) continues a stopped run: see gendojo/runs.py."""
    networks = networks or build(config)
    # RMSprop, no momentum, computed as torch's: rho 0.99, epsilon 1e-8 after the square root
    optimizers = {
        name: tf_core.RMSprop(
            network.trainable_variables, learning_rate=config.lr, rho=0.99, epsilon=1e-8
        )
        for name, network in networks.items()
    }
    run = gendojo.Run.of(run, config)  # counts steps and batches, so a run can stop and go on
    stream = run.stream(batches(data.images, config))
    # NumPy noise: the same numbers in all four frameworks, its state saved with the run
    noise = run.noise(np.random.default_rng(config.seed + 1))  # not the grid's noise
    fixed = fixed_latents(config)  # the diversity check's samples: main's grid
    history = run.history(
        {"critic_loss": [], "g_loss": [], "wasserstein": [], "diversity": [], "critic_updates": []}
    )
    with tf.device(device_for(config)):
        for step in run.steps(optimizers, f"{TOPIC} {FRAMEWORK}"):
            real_batches = [next(stream) for _ in range(config.n_critic)]
            shape = (len(real_batches[0]), config.latent_dim)
            latent_batches = [  # fresh noise for each critic update, and for G's
                tf.constant(noise.standard_normal(shape, dtype=np.float32))
                for _ in range(config.n_critic + 1)
            ]
            losses = train_step(networks, optimizers, real_batches, latent_batches, config.clip)
            for name, value in losses.items():
                history[name].append(float(value))
            # the critic optimizer's own count of its updates: n_critic more after every step
            history["critic_updates"].append(float(optimizers["critic"].iterations.numpy()))
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
    return networks["generator"](z, training=False).numpy()  # BatchNorm: running statistics
    # END SOLUTION Q4


def critique(networks, images):
    """NHWC images in [-1, 1] → the critic's scores, (N, 1) float32: higher is "more like data"."""
    # BEGIN SOLUTION Q4
    x = tf.convert_to_tensor(np.asarray(images, dtype=np.float32))
    return networks["critic"](x).numpy()
    # END SOLUTION Q4


def fixed_latents(config, count=64):
    """The latents of every sample grid and of the diversity check, the same in every framework."""
    return np.random.default_rng(config.seed).standard_normal(
        (count, config.latent_dim), dtype=np.float32
    )


# %% 8. Main
def main(argv=None):
    config = gendojo.parse_args(Config, argv, description="WGAN (weight clipping) in TensorFlow")
    data = gendojo.load_dataset(config)
    fixed = fixed_latents(config)  # the same samples in every grid, and in every framework

    def samples(networks):
        return generate(networks, fixed)

    def score(networks):  # 1000 fresh samples against real images: see gendojo/quality.py
        return quality.score_generator(data, config, lambda z: generate(networks, z))

    gendojo.train_and_save(config, TOPIC, FRAMEWORK, build, train, data, samples, score)


if __name__ == "__main__":
    gendojo.run_main(main)
