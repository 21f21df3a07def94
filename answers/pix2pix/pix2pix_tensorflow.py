# %% [markdown]
# # pix2pix — TensorFlow (core: tf.Module, tf.GradientTape, tf.function, tf.data; no Keras)
#
# Paired image-to-image translation: a U-Net turns a sketch into a picture, judged patch by patch
# by a PatchGAN and pulled toward the true picture by an L1 term.
# Question sheet: questions/pix2pix.md. Run: `python answers/pix2pix/pix2pix_tensorflow.py --help`.

# %% 1. Config
from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf

import gendojo
from gendojo import tf_core

TOPIC, FRAMEWORK = "pix2pix", "tensorflow"


@dataclass
class Config:
    dataset: str = "shapes"  # its paired view: sources are outline sketches, images the pictures
    data_dir: str = ""
    image_size: int = 32  # a multiple of 2**depth: every encoder level halves it
    channels: int = 3
    dataset_size: int = 2048
    depth: int = field(default=4, metadata={"help": "U-Net levels (stride-2 convolutions)"})
    g_width: int = field(default=32, metadata={"help": "channels of G's first level (paper: 64)"})
    d_width: int = field(default=64, metadata={"help": "channels of D's first layer (paper: 64)"})
    l1_weight: float = field(default=100.0, metadata={"help": "λ, the weight of the L1 term"})
    steps: int = 1000
    batch_size: int = 16
    lr: float = 2e-4
    beta1: float = field(
        default=0.5, metadata={"help": "Adam's β1; 0.5 rather than 0.9 steadies the game"}
    )
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
def batches(sources, targets, config):
    """Endless shuffled (source, target) NHWC pairs from tf.data, shuffled together."""
    dataset = tf.data.Dataset.from_tensor_slices((sources, targets))
    dataset = dataset.shuffle(len(sources), seed=config.seed).repeat()
    return iter(dataset.batch(min(config.batch_size, len(sources)), drop_remainder=True))


# %% 3. Models (Q1)
def widths(config):
    """Channels per U-Net level: doubling from g_width, capped at 8 × g_width as in the paper."""
    return [config.g_width * 2 ** min(level, 3) for level in range(config.depth)]


class Generator(tf.Module):
    def __init__(self, config):
        super().__init__()
        # BEGIN SOLUTION Q1
        chans = widths(config)  # (32, 64, 128, 256): down to (N, 2, 2, 256), then back up
        self.down, self.down_norms = [], []
        for level, (cin, cout) in enumerate(
            zip([config.channels, *chans[:-1]], chans, strict=True)
        ):
            self.down.append(tf_core.Conv2D(cin, cout, 4, stride=2, padding="SAME"))
            self.down_norms.append(
                tf_core.BatchNorm(cout, momentum=0.9, epsilon=1e-5) if level else None
            )
        self.up, self.up_norms = [], []
        for block, level in enumerate(range(config.depth - 2, -1, -1)):
            # the deepest block takes the bottleneck; the others also take the skip beside them
            cin = chans[-1] if block == 0 else 2 * chans[level + 1]
            self.up.append(tf_core.Conv2DTranspose(cin, chans[level], 4, stride=2, padding="SAME"))
            self.up_norms.append(tf_core.BatchNorm(chans[level], momentum=0.9, epsilon=1e-5))
        self.out = tf_core.Conv2DTranspose(
            2 * chans[0], config.channels, 4, stride=2, padding="SAME"
        )
        # dropout masks come from this seeded generator, so the same seed gives the same run
        self.noise = tf.random.Generator.from_seed(config.seed)
        # END SOLUTION Q1

    def __call__(self, x, training):
        # BEGIN SOLUTION Q1
        skips = []
        for conv, norm in zip(self.down, self.down_norms, strict=True):
            x = conv(x)
            x = tf.nn.leaky_relu(norm(x, training) if norm else x, alpha=0.2)
            skips.append(x)
        skips.pop()  # the bottleneck itself is no skip
        for block, (conv, norm) in enumerate(zip(self.up, self.up_norms, strict=True)):
            x = norm(conv(x), training)
            if block < 2 and training:  # dropout, G's only noise: in the two deepest blocks
                seed = self.noise.make_seeds(1)[:, 0]
                x = tf.nn.experimental.stateless_dropout(x, rate=0.5, seed=seed)
            x = tf.concat([tf.nn.relu(x), skips.pop()], axis=-1)  # skip connection: channels
        return tf.tanh(self.out(x))
        # END SOLUTION Q1


class Discriminator(tf.Module):
    def __init__(self, config):
        super().__init__()
        # BEGIN SOLUTION Q1
        w = config.d_width
        self.layers = [
            tf_core.Conv2D(2 * config.channels, w, 4, stride=2, padding="SAME"),
            tf_core.Conv2D(w, 2 * w, 4, stride=2, padding="SAME"),
            tf_core.Conv2D(2 * w, 1, 3, stride=1, padding="SAME"),  # one logit per patch
        ]
        # END SOLUTION Q1

    def __call__(self, sources, targets):
        # BEGIN SOLUTION Q1
        x = tf.concat([sources, targets], axis=-1)  # D judges the pair, not B alone
        for conv in self.layers[:-1]:  # (N, 16, 16, 64), then (N, 8, 8, 128)
            x = tf.nn.leaky_relu(conv(x), alpha=0.2)
        return self.layers[-1](x)  # (N, 8, 8, 1): a logit per patch, no sigmoid
        # END SOLUTION Q1


def build(config):
    gendojo.check(config.depth >= 2, f"--depth must be at least 2, not {config.depth}")
    gendojo.check(
        config.image_size % 2**config.depth == 0,
        f"--image-size must be a multiple of 2**depth = {2**config.depth} (the U-Net halves it "
        f"{config.depth} times), not {config.image_size}",
    )
    tf.random.set_seed(config.seed)
    with tf.device(device_for(config)):
        return {"generator": Generator(config), "discriminator": Discriminator(config)}


# %% 4. Loss (Q2)
def adversarial_loss(labels, logits):
    """Sigmoid cross-entropy of every patch logit against its label (1 real, 0 fake), averaged."""
    # BEGIN SOLUTION Q2
    return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits))
    # END SOLUTION Q2


def l1_loss(targets, fakes):
    """Mean absolute difference between the true and the generated picture, per pixel."""
    # BEGIN SOLUTION Q2
    return tf.reduce_mean(tf.abs(targets - fakes))
    # END SOLUTION Q2


# %% 5. Training step (Q3)
@tf.function  # traced once into a graph, then run as a graph at every step
def train_step(networks, optimizers, sources, targets, l1_weight):
    # BEGIN SOLUTION Q3
    generator, discriminator = networks["generator"], networks["discriminator"]
    n = tf.shape(sources)[0]
    # D first: real pairs (A, B) → 1, fake pairs (A, G(A)) → 0, in one batch of 2N.
    fakes = generator(sources, training=True)  # no tape is watching: no gradient reaches G
    with tf.GradientTape() as tape:
        logits = discriminator(tf.concat([sources, sources], 0), tf.concat([targets, fakes], 0))
        labels = tf.concat([tf.ones_like(logits[:n]), tf.zeros_like(logits[n:])], 0)
        d_loss = adversarial_loss(labels, logits)  # the mean over 2N halves D's loss (the paper)
    gradients = tape.gradient(d_loss, discriminator.trainable_variables)
    optimizers["discriminator"].apply_gradients(
        zip(gradients, discriminator.trainable_variables, strict=True)
    )
    # Then G, through the updated D: fool D on every patch and stay close to B in L1.
    with tf.GradientTape() as tape:
        fakes = generator(sources, training=True)
        logits = discriminator(sources, fakes)
        g_loss = adversarial_loss(tf.ones_like(logits), logits)
        l1 = l1_loss(targets, fakes)
        loss = g_loss + l1_weight * l1
    # gradients for G's variables only: D stays as it is
    gradients = tape.gradient(loss, generator.trainable_variables)
    optimizers["generator"].apply_gradients(
        zip(gradients, generator.trainable_variables, strict=True)
    )
    return {"d_loss": d_loss, "g_loss": g_loss, "l1": l1}
    # END SOLUTION Q3


# %% 6. Training loop
def train(config, data, networks=None, callback=None, run=None):
    """Train G to turn ``data.sources`` into ``data.images``; return the networks and the history.

    ``run`` (from ``main``) continues a stopped run: see gendojo/runs.py."""
    gendojo.check(
        data.sources is not None,
        "pix2pix needs pairs: use --dataset shapes, "
        "or paired with --data-dir DIR holding A/ and B/",
    )
    gendojo.check(config.batch_size >= 2, "--batch-size must be at least 2 for BatchNorm")
    networks = networks or build(config)
    optimizers = {
        name: tf_core.Adam(
            network.trainable_variables, learning_rate=config.lr, beta_1=config.beta1
        )
        for name, network in networks.items()
    }
    run = gendojo.Run.of(run, config)  # counts steps and batches, so a run can stop and go on
    stream = run.stream(batches(data.sources, data.images, config))
    history = run.history({"d_loss": [], "g_loss": [], "l1": []})
    with tf.device(device_for(config)):
        for step in run.steps(optimizers, f"{TOPIC} {FRAMEWORK}"):
            sources, targets = next(stream)
            losses = train_step(networks, optimizers, sources, targets, config.l1_weight)
            for name, value in losses.items():
                history[name].append(float(value))
            if callback:
                callback(step, networks)
    return networks, history


# %% 7. Inference (Q4)
def translate(networks, sources):
    """NHWC sources in [-1, 1] → G's pictures, NHWC float32 in [-1, 1]; no dropout."""
    # BEGIN SOLUTION Q4
    x = tf.convert_to_tensor(np.asarray(sources, dtype=np.float32))
    # training=False: running BatchNorm statistics and no dropout, so one answer per sketch
    return networks["generator"](x, training=False).numpy()
    # END SOLUTION Q4


def discriminate(networks, sources, targets):
    """NHWC pairs → D's patch logits, (N, H/4, W/4, 1) float32: above 0 means "looks real"."""
    # BEGIN SOLUTION Q4
    a, b = (tf.convert_to_tensor(np.asarray(x, dtype=np.float32)) for x in (sources, targets))
    return networks["discriminator"](a, b).numpy()
    # END SOLUTION Q4


# %% 8. Main
def main(argv=None):
    config = gendojo.parse_args(Config, argv, description="pix2pix in TensorFlow")
    data = gendojo.load_dataset(config)
    gendojo.check(
        data.sources is not None,
        "pix2pix needs pairs: use --dataset shapes, "
        "or paired with --data-dir DIR holding A/ and B/",
    )
    sources, targets = data.sources[:8], data.images[:8]  # the same pairs in every grid

    def samples(networks):  # rows: sketch, G's picture, the true picture
        return [sources, translate(networks, sources), targets]

    gendojo.train_and_save(config, TOPIC, FRAMEWORK, build, train, data, samples)


if __name__ == "__main__":
    gendojo.run_main(main)
