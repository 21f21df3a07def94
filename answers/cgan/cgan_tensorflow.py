# %% [markdown]
# # Conditional GAN — TensorFlow (core: tf.Module, tf.GradientTape, tf.function; no Keras)
#
# The DCGAN told what to draw: a class label goes into G with the noise, and into D with the image.
# Question sheet: questions/cgan.md. Run: `python answers/cgan/cgan_tensorflow.py --class 3`.

# %% 1. Config
from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf

import gendojo
from gendojo import gan_metrics, quality, tf_core

TOPIC, FRAMEWORK = "cgan", "tensorflow"


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
    num_classes: int = field(default=6, metadata={"help": "classes in the data set (shapes: 6)"})
    class_id: int = field(
        default=-1, metadata={"help": "class to draw, also --class (-1: one row per class)"}
    )
    steps: int = 2000
    batch_size: int = 32  # 64 draws crisper shapes in twice the time (see the sheet)
    lr: float = 2e-4
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
def batches(images, labels, config):
    """Endless shuffled NHWC batches with one-hot labels from tf.data (channels last)."""
    onehots = np.eye(config.num_classes, dtype=np.float32)[labels]
    dataset = tf.data.Dataset.from_tensor_slices((images, onehots))
    dataset = dataset.shuffle(len(images), seed=config.seed).repeat()
    return iter(dataset.batch(min(config.batch_size, len(images)), drop_remainder=True))


# %% 3. Models (Q1)
class Generator(tf.Module):
    def __init__(self, config):
        super().__init__()
        # BEGIN SOLUTION Q1
        self.size, self.num_classes = config.image_size // 16, config.num_classes
        self.top, c1, c2, c3 = (max(1, round(n * config.g_width)) for n in (256, 512, 256, 128))
        self.dense = tf_core.Dense(
            config.latent_dim + config.num_classes, self.size * self.size * self.top
        )
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

    def __call__(self, z, y, training):
        # BEGIN SOLUTION Q1
        # shapes at the default config: N noises of 100 and N one-hot labels of 6 → N images
        h = self.dense(tf.concat([z, y], axis=1))  # the label joins the noise
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
        size, self.num_classes = config.image_size // 16, config.num_classes
        widths = (max(1, round(n * config.d_width)) for n in (32, 64, 128, 256))
        channels = (config.channels + config.num_classes, *widths)
        # stride 2 instead of pooling: D learns its own downsampling
        self.convs = [
            tf_core.Conv2D(a, b, 5, stride=2, padding=2)  # 2 on each side, as PyTorch
            for a, b in zip(channels[:-1], channels[1:], strict=True)
        ]
        # no BatchNorm at D's input
        self.norms = [tf_core.BatchNorm(c, momentum=0.9, epsilon=1e-5) for c in channels[2:]]
        self.dense = tf_core.Dense(channels[-1] * size * size, 1)
        # END SOLUTION Q1

    def __call__(self, x, y, training):
        # BEGIN SOLUTION Q1
        # shapes at the default config: N images of 32 × 32 × 3 and their labels → N logits
        maps = y[:, None, None, :] * tf.ones_like(x[..., :1])  # (N, 32, 32, 6): a plane a class
        x = tf.concat([x, maps], axis=-1)  # (N, 32, 32, 9)
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
def discriminator_loss(real_logits, fake_logits):
    """Sigmoid cross-entropy, real → 1 and fake → 0, the mean of the two halves: log 2 at a draw."""
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
def train_step(networks, optimizers, images, labels, latents):
    # BEGIN SOLUTION Q3
    generator, discriminator = networks["generator"], networks["discriminator"]
    with tf.GradientTape() as g_tape:
        fakes = generator(
            latents, labels, training=True
        )  # the real batch's labels: the same class mix
        # D first, on real and fake, each with its label, in two passes (BatchNorm: each half with
        # its own batch statistics); stop_gradient keeps this update from reaching G.
        with tf.GradientTape() as d_tape:
            real_logits = discriminator(images, labels, training=True)
            fake_logits = discriminator(tf.stop_gradient(fakes), labels, training=True)
            d_loss = discriminator_loss(real_logits, fake_logits)
        gradients = d_tape.gradient(d_loss, discriminator.trainable_variables)
        optimizers["discriminator"].apply_gradients(
            zip(gradients, discriminator.trainable_variables, strict=True)
        )
        # Then G, through the freshly updated D (BatchNorm still on batch statistics); only G's
        # variables are differentiated.
        g_loss = generator_loss(discriminator(fakes, labels, training=True))
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
    gendojo.check(
        data.labels is not None and data.labels.max() < config.num_classes,
        f"a conditional GAN needs labels 0 … {config.num_classes - 1}: use a labelled data set "
        f"(shapes, digits, mnist, …, a folder of class folders) and --num-classes to match it",
    )
    networks = networks or build(config)
    optimizers = {
        name: tf_core.Adam(
            network.trainable_variables, learning_rate=config.lr, beta_1=config.beta1
        )
        for name, network in networks.items()
    }
    run = gendojo.Run.of(run, config)  # counts steps and batches, so a run can stop and go on
    stream = run.stream(batches(data.images, data.labels, config))
    # NumPy noise: the same numbers in all four frameworks, its state saved with the run;
    # seed + 1, so that the steps' noise is not the grid's (fixed_latents)
    noise = run.noise(np.random.default_rng(config.seed + 1))
    fixed = fixed_latents(config), fixed_labels(config)
    history = run.history({"d_loss": [], "g_loss": [], "diversity": []})
    with tf.device(device_for(config)):
        for step in run.steps(optimizers, f"{TOPIC} {FRAMEWORK}"):
            images, labels = next(stream)
            latents = tf.constant(
                noise.standard_normal((len(images), config.latent_dim), dtype=np.float32)
            )
            losses = train_step(networks, optimizers, images, labels, latents)
            for name, value in losses.items():
                history[name].append(float(value))
            if step % config.diversity_every == 0:  # a mode-collapse alarm, measured now and then
                history["diversity"].append(gan_metrics.diversity(generate(networks, *fixed)))
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


def fixed_labels(config, count=64):
    """The classes beside fixed_latents in the diversity check: each class in turn."""
    return np.arange(count) % config.num_classes


def generate(networks, latents, labels):
    """(N, latent_dim) noise and N class indices → N images of those classes, NHWC in [-1, 1]."""
    # BEGIN SOLUTION Q4
    generator = networks["generator"]
    z = tf.convert_to_tensor(np.asarray(latents, dtype=np.float32))
    y = tf.one_hot(np.asarray(labels), generator.num_classes)
    return generator(z, y, training=False).numpy()  # BatchNorm: running statistics
    # END SOLUTION Q4


def discriminate(networks, images, labels):
    """NHWC images in [-1, 1] and their class indices → D's logits, (N, 1): > 0 "looks real"."""
    # BEGIN SOLUTION Q4
    discriminator = networks["discriminator"]
    x = tf.convert_to_tensor(np.asarray(images, dtype=np.float32))
    y = tf.one_hot(np.asarray(labels), discriminator.num_classes)
    return discriminator(x, y, training=False).numpy()  # BatchNorm: running statistics
    # END SOLUTION Q4


# %% 8. Main
def main(argv=None):
    config = gendojo.parse_args(Config, argv, description="Conditional GAN in TensorFlow")
    data = gendojo.load_dataset(config)
    fixed = fixed_latents(config)  # the same samples in every grid, and every framework
    if config.class_id >= 0:  # 64 samples of the asked class
        latents, labels = fixed, np.full(64, config.class_id)
    else:  # one row per class, the same 8 noises in every row: the label alone changes the shape
        latents, labels = (
            np.tile(fixed[:8], (config.num_classes, 1)),
            np.repeat(np.arange(config.num_classes), 8),
        )

    def samples(networks):
        images = generate(networks, latents, labels)
        return (
            images
            if config.class_id >= 0
            else list(images.reshape(config.num_classes, 8, *images.shape[1:]))
        )

    def score(networks):  # 1000 fresh samples, each class asked for in turn: see gendojo/quality.py
        return quality.score_generator(
            data, config, lambda z, y: generate(networks, z, y), num_classes=config.num_classes
        )

    gendojo.train_and_save(config, TOPIC, FRAMEWORK, build, train, data, samples, score)


if __name__ == "__main__":
    gendojo.run_main(main)
