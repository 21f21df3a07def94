# %% [markdown]
# # Wasserstein GAN (weight clipping) — Keras 3 (keras and keras.ops only: any backend)
#
# The DCGAN's networks trained on the Earth-Mover distance: a critic that scores, clipped weights,
# RMSprop and n_critic critic updates per generator update.
# Question sheet: questions/wgan.md. Run: `python answers/wgan/wgan_keras.py --help`.

# %% 1. Config
from dataclasses import dataclass, field

import keras
import numpy as np
from keras import layers, ops

import gendojo
from gendojo import gan_metrics, quality
from gendojo.keras_tools import TrainingMode

TOPIC, FRAMEWORK = "wgan", "keras"


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
    # A new tensor lands on the backend's default device: a GPU ("GPU:0", "cuda:0") if it found one.
    default = str(ops.zeros(()).device).lower()
    gpu = "gpu:0" if "gpu" in default or "cuda" in default else None
    # "cpu", not "cpu:0": the torch backend would copy every weight there and lose its gradient
    return gendojo.choose_device(config, gpu, "cpu", "Keras")


# %% 2. Data
def batches(images, config):
    """Endless shuffled NHWC batches as NumPy arrays (Keras keeps channels last)."""
    rng = np.random.default_rng(config.seed)
    size = min(config.batch_size, len(images))
    while True:
        order = rng.permutation(len(images))
        for start in range(0, len(images) - size + 1, size):
            yield images[order[start : start + size]]


# %% 3. Models (Q1)
def Generator(config):
    # BEGIN SOLUTION Q1
    size = config.image_size // 16
    top, c1, c2, c3 = (max(1, round(n * config.g_width)) for n in (256, 512, 256, 128))

    def normal():  # N(0, 0.02), a new one per layer: an unseeded initializer repeats its draw
        return keras.initializers.RandomNormal(stddev=0.02)

    def up(channels, **kwargs):  # doubles the size, cropped 2 before and 1 after as PyTorch's
        # padding=2, output_padding=1 (padding="same" would crop 1 before and 2 after)
        convolution = layers.Conv2DTranspose(
            channels, 5, strides=2, kernel_initializer=normal(), **kwargs
        )
        return [convolution, layers.Cropping2D(((2, 1), (2, 1)))]

    def norm():
        return layers.BatchNormalization(momentum=0.9, epsilon=1e-5)

    return keras.Sequential(
        [
            keras.Input((config.latent_dim,)),
            layers.Dense(size * size * top, kernel_initializer=normal()),
            layers.Reshape((size, size, top)),  # (N, 1, 1, 64)
            norm(), layers.ReLU(),
            *up(c1), norm(), layers.ReLU(),  # (N, 2, 2, 128)
            *up(c2), norm(), layers.ReLU(),  # (N, 4, 4, 64)
            *up(c3), norm(), layers.ReLU(),  # (N, 8, 8, 32)
            *up(config.channels, activation="tanh"),  # (N, 16, 16, 3); no BatchNorm before tanh
        ],
        name="generator",
    )  # fmt: skip
    # END SOLUTION Q1


def Critic(config):
    # BEGIN SOLUTION Q1
    shape = (config.image_size, config.image_size, config.channels)
    c1, c2, c3, c4 = (max(1, round(n * config.d_width)) for n in (32, 64, 128, 256))

    def normal():  # N(0, 0.02), a new one per layer: an unseeded initializer repeats its draw
        return keras.initializers.RandomNormal(stddev=0.02)

    def down(channels):  # 2 pixels on every side as PyTorch (padding="same" pads 1 and 2)
        convolution = layers.Conv2D(channels, 5, strides=2, kernel_initializer=normal())
        return [layers.ZeroPadding2D(2), convolution]

    # no BatchNorm, unlike the DCGAN's D: here it made the critic worse (see the sheet)
    return keras.Sequential(
        [
            keras.Input(shape),
            *down(c1), layers.LeakyReLU(0.2),  # (N, 8, 8, 16)
            *down(c2), layers.LeakyReLU(0.2),  # (N, 4, 4, 32)
            *down(c3), layers.LeakyReLU(0.2),  # (N, 2, 2, 64)
            *down(c4), layers.LeakyReLU(0.2),  # (N, 1, 1, 128)
            layers.Flatten(),  # (N, 128)
            layers.Dense(1, kernel_initializer=normal()),  # (N, 1): a score, no sigmoid
        ],
        name="critic",
    )  # fmt: skip
    # END SOLUTION Q1


def build(config):
    gendojo.check(
        config.image_size % 16 == 0,
        f"--image-size must be a multiple of 16 (four stride-2 layers), not {config.image_size}",
    )
    keras.utils.set_random_seed(config.seed)
    with keras.device(device_for(config)):
        return {"generator": Generator(config), "critic": Critic(config)}


# %% 4. Loss (Q2)
# Keras calls a compiled loss as loss(y_true, y_pred): hence (signs, scores) in this section
def critic_loss(signs, scores):
    """mean f(fake) − mean f(real) on a batch of n real (sign −1) then n fake (sign +1) images.

    The mean of sign × score over all 2n images is half of that, hence the 2: the same loss, and
    the same gradient, as in the other three frameworks.
    """
    # BEGIN SOLUTION Q2
    return 2 * ops.mean(signs * scores)
    # END SOLUTION Q2


def generator_loss(signs, scores):
    """−mean f(G(z)), with signs all −1: G moves its samples to where the critic scores higher."""
    # BEGIN SOLUTION Q2
    return ops.mean(signs * scores)
    # END SOLUTION Q2


# %% 5. Training step (Q3)
def train_step(networks, trainers, real_batches, latent_batches, clip):
    """len(real_batches) critic updates, then one generator update with the last noise batch."""
    # BEGIN SOLUTION Q3
    critic = networks["critic"]
    # Keras reads `trainable` at every update, so the critic is switched on for its own updates and
    # off for G's (questions/gan.md, the frozen-discriminator trap).
    critic.trainable = True
    for images, latents in zip(real_batches, latent_batches[:-1], strict=True):
        n = len(images)
        # G in training mode, compiled (gendojo/keras_tools.py); NumPy, so cut off from G
        fakes = trainers["fakes"].predict_on_batch(latents)
        signs = np.concatenate([-np.ones((n, 1)), np.ones((n, 1))]).astype(np.float32)
        loss = float(critic.train_on_batch(np.concatenate([images, fakes]), signs))
        # after every critic update, every critic weight (kernels, biases) back into [-clip, clip]
        for weight in critic.weights:
            weight.assign(ops.clip(weight, -clip, clip))
    critic.trainable = False  # the combined model G → critic updates G alone
    latents = latent_batches[-1]
    g_loss = trainers["generator"].train_on_batch(
        latents, -np.ones((len(latents), 1), dtype=np.float32)
    )
    return {"critic_loss": loss, "g_loss": float(g_loss), "wasserstein": -loss}
    # END SOLUTION Q3


# %% 6. Training loop
def train(config, data, networks=None, callback=None, run=None):
    """Train on ``data.images``; return the networks and the per-step history.

    ``run`` (from ``main``) continues a stopped run: see gendojo/runs.py."""
    networks = networks or build(config)
    generator, critic = networks["generator"], networks["critic"]
    with keras.device(device_for(config)):
        # BEGIN SOLUTION Q3
        # torch's RMSprop: rho 0.99 (Keras' default is 0.9); Keras adds epsilon *inside* the square
        # root, so 1e-16 there stands for torch's 1e-8 outside it.
        rmsprop = dict(learning_rate=config.lr, rho=0.99, epsilon=1e-16)
        critic.trainable = True
        critic.compile(optimizer=keras.optimizers.RMSprop(**rmsprop), loss=critic_loss)
        critic.trainable = False
        latents = keras.Input((config.latent_dim,))
        combined = keras.Model(latents, critic(generator(latents)), name="combined")
        combined.compile(optimizer=keras.optimizers.RMSprop(**rmsprop), loss=generator_loss)
        # G's update, and G's forward pass that makes the critic's fakes
        trainers = {"generator": combined, "fakes": TrainingMode(generator)}
        # END SOLUTION Q3
        run = gendojo.Run.of(run, config)  # counts steps and batches, so a run can stop and go on
        stream = run.stream(batches(data.images, config))
        # NumPy noise: the same numbers in all four frameworks, its state saved with the run
        noise = run.noise(np.random.default_rng(config.seed + 1))  # not the grid's noise
        fixed = fixed_latents(config)  # the diversity check's samples: main's grid
        history = run.history(
            {
                "critic_loss": [],
                "g_loss": [],
                "wasserstein": [],
                "diversity": [],
                "critic_updates": [],
            }
        )
        optimizers = {"critic": critic.optimizer, "generator": trainers["generator"].optimizer}
        for step in run.steps(optimizers, f"{TOPIC} {FRAMEWORK}"):
            real_batches = [next(stream) for _ in range(config.n_critic)]
            shape = (len(real_batches[0]), config.latent_dim)
            latent_batches = [  # fresh noise for each critic update, and for G's
                noise.standard_normal(shape, dtype=np.float32) for _ in range(config.n_critic + 1)
            ]
            losses = train_step(networks, trainers, real_batches, latent_batches, config.clip)
            for name, value in losses.items():
                history[name].append(value)
            # the critic optimizer's own count of its updates: n_critic more after every step
            history["critic_updates"].append(
                float(ops.convert_to_numpy(critic.optimizer.iterations))
            )
            if step % config.diversity_every == 0:  # a mode-collapse alarm, measured now and then
                history["diversity"].append(gan_metrics.diversity(generate(networks, fixed)))
            else:  # and held between measurements (a resumed run finds it in its history)
                history["diversity"].append(history["diversity"][-1])
            if callback:
                callback(step, networks)
    critic.trainable = True  # hand the critic back trainable, as build made it
    return networks, history


# %% 7. Inference (Q4)
def generate(networks, latents):
    """(N, latent_dim) noise → N images, NHWC float32 in [-1, 1]."""
    # BEGIN SOLUTION Q4
    # predict_on_batch runs in inference mode: BatchNorm uses its moving statistics
    images = networks["generator"].predict_on_batch(np.asarray(latents, dtype=np.float32))
    return ops.convert_to_numpy(images)
    # END SOLUTION Q4


def critique(networks, images):
    """NHWC images in [-1, 1] → the critic's scores, (N, 1) float32: higher is "more like data"."""
    # BEGIN SOLUTION Q4
    scores = networks["critic"].predict_on_batch(np.asarray(images, dtype=np.float32))
    return ops.convert_to_numpy(scores)
    # END SOLUTION Q4


def fixed_latents(config, count=64):
    """The latents of every sample grid and of the diversity check, the same in every framework."""
    return np.random.default_rng(config.seed).standard_normal(
        (count, config.latent_dim), dtype=np.float32
    )


# %% 8. Main
def main(argv=None):
    config = gendojo.parse_args(Config, argv, description="WGAN (weight clipping) in Keras 3")
    data = gendojo.load_dataset(config)
    fixed = fixed_latents(config)  # the same samples in every grid, and in every framework

    def samples(networks):
        return generate(networks, fixed)

    def score(networks):  # 1000 fresh samples against real images: see gendojo/quality.py
        return quality.score_generator(data, config, lambda z: generate(networks, z))

    gendojo.train_and_save(config, TOPIC, FRAMEWORK, build, train, data, samples, score)


if __name__ == "__main__":
    gendojo.run_main(main)
