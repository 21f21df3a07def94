# %% [markdown]
# # Wasserstein GAN (weight clipping) — Chainer (Chain, links, functions, chainer.optimizers)
#
# The DCGAN's networks trained on the Earth-Mover distance: a critic that scores, clipped weights,
# RMSprop and n_critic critic updates per generator update.
# Question sheet: questions/wgan.md. Run: `python answers/wgan/wgan_chainer.py --help`.

# %% 1. Config
from dataclasses import dataclass, field
from functools import partial

import numpy as np

import gendojo
from gendojo import gan_metrics, quality
from gendojo.chainer_compat import import_chainer

chainer = import_chainer()  # Chainer 7.8.1 predates NumPy 2: this backfills the two names it needs
F, L = chainer.functions, chainer.links

TOPIC, FRAMEWORK = "wgan", "chainer"


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
    gpu = chainer.get_device("@cupy:0") if chainer.backends.cuda.available else None
    return gendojo.choose_device(config, gpu, chainer.get_device("@numpy"), "Chainer")


# %% 2. Data
def batches(images, config):
    """Endless shuffled NCHW batches: Chainer, like PyTorch, puts channels before height, width."""
    dataset = np.ascontiguousarray(images.transpose(0, 3, 1, 2))
    order = chainer.iterators.ShuffleOrderSampler(np.random.RandomState(config.seed))
    iterator = chainer.iterators.SerialIterator(
        dataset, min(config.batch_size, len(images)), repeat=True, order_sampler=order
    )
    device = device_for(config)
    while True:
        yield chainer.dataset.concat_examples(iterator.next(), device)


# %% 3. Models (Q1)
class Generator(chainer.Chain):
    def __init__(self, config):
        super().__init__()
        # BEGIN SOLUTION Q1
        self.size = config.image_size // 16
        self.top, c1, c2, c3 = (max(1, round(n * config.g_width)) for n in (256, 512, 256, 128))
        normal = chainer.initializers.Normal(0.02)  # the DCGAN paper's N(0, 0.02), zero biases

        def up(cin, cout, size):  # pad=2 with k=5 gives 2n - 1 pixels: outsize asks for 2n ("same")
            return L.Deconvolution2D(
                cin, cout, 5, stride=2, pad=2, outsize=(size, size), initialW=normal
            )

        def norm(c):
            return L.BatchNormalization(c, decay=0.9, eps=1e-5)

        s = self.size
        with self.init_scope():
            self.dense = L.Linear(config.latent_dim, s * s * self.top, initialW=normal)
            self.norm = norm(self.top)
            self.layers = chainer.Sequential(
                up(self.top, c1, 2 * s), norm(c1), F.relu,  # (N, 128, 2, 2)
                up(c1, c2, 4 * s), norm(c2), F.relu,  # (N, 64, 4, 4)
                up(c2, c3, 8 * s), norm(c3), F.relu,  # (N, 32, 8, 8)
                up(c3, config.channels, 16 * s), F.tanh,  # (N, 3, 16, 16); no BatchNorm before tanh
            )  # fmt: skip
        # END SOLUTION Q1

    def forward(self, z):
        # BEGIN SOLUTION Q1
        x = F.reshape(self.dense(z), (-1, self.top, self.size, self.size))  # (N, 64, 1, 1)
        return self.layers(F.relu(self.norm(x)))
        # END SOLUTION Q1


class Critic(chainer.Chain):
    def __init__(self, config):
        super().__init__()
        # BEGIN SOLUTION Q1
        c1, c2, c3, c4 = (max(1, round(n * config.d_width)) for n in (32, 64, 128, 256))
        size = config.image_size // 16
        normal = chainer.initializers.Normal(0.02)

        def down(cin, cout):
            return L.Convolution2D(cin, cout, 5, stride=2, pad=2, initialW=normal)

        leaky_relu = partial(F.leaky_relu, slope=0.2)
        # no BatchNorm, unlike the DCGAN's D: here it made the critic worse (see the sheet)
        with self.init_scope():
            self.layers = chainer.Sequential(
                down(config.channels, c1), leaky_relu,  # (N, 16, 8, 8)
                down(c1, c2), leaky_relu,  # (N, 32, 4, 4)
                down(c2, c3), leaky_relu,  # (N, 64, 2, 2)
                down(c3, c4), leaky_relu,  # (N, 128, 1, 1)
                L.Linear(c4 * size * size, 1, initialW=normal),  # (N, 1): flattens; a score
            )  # fmt: skip
        # END SOLUTION Q1

    def forward(self, x):
        # BEGIN SOLUTION Q1
        return self.layers(x)
        # END SOLUTION Q1


def build(config):
    gendojo.check(
        config.image_size % 16 == 0,
        f"--image-size must be a multiple of 16 (four stride-2 layers), not {config.image_size}",
    )
    np.random.seed(config.seed)  # Chainer's initializers draw from NumPy's global generator
    device = device_for(config)
    networks = {"generator": Generator(config), "critic": Critic(config)}
    for network in networks.values():
        network.to_device(device)
    return networks


# %% 4. Loss (Q2)
def critic_loss(real_scores, fake_scores):
    """mean f(fake) − mean f(real): minimising it raises the critic's Earth-Mover estimate."""
    # BEGIN SOLUTION Q2
    return F.mean(fake_scores) - F.mean(real_scores)
    # END SOLUTION Q2


def generator_loss(fake_scores):
    """−mean f(G(z)): G moves its samples to where the critic scores higher."""
    # BEGIN SOLUTION Q2
    return -F.mean(fake_scores)
    # END SOLUTION Q2


# %% 5. Training step (Q3)
def train_step(networks, optimizers, real_batches, latent_batches, clip):
    """len(real_batches) critic updates, then one generator update with the last noise batch."""
    # BEGIN SOLUTION Q3
    generator, critic = networks["generator"], networks["critic"]
    for images, latents in zip(real_batches, latent_batches[:-1], strict=True):
        # the critic's update must not reach G: no graph through it
        with chainer.no_backprop_mode():
            fakes = generator(latents)
        loss = critic_loss(critic(images), critic(fakes))
        critic.cleargrads()
        loss.backward()
        optimizers["critic"].update()
        # after every critic update, every critic weight (kernels, biases) back into [-clip, clip]
        for parameter in critic.params():
            parameter.array[...] = critic.xp.clip(parameter.array, -clip, clip)
    # Then G, through the clipped critic; only G's optimizer updates.
    g_loss = generator_loss(critic(generator(latent_batches[-1])))
    generator.cleargrads()
    g_loss.backward()
    optimizers["generator"].update()
    return {
        "critic_loss": float(loss.array),
        "g_loss": float(g_loss.array),
        "wasserstein": -float(loss.array),
    }
    # END SOLUTION Q3


# %% 6. Training loop
def train(config, data, networks=None, callback=None, run=None):
    """Train on ``data.images``; return the networks and the per-step history.

    ``run`` (from ``main``) continues a stopped run: see gendojo/runs.py."""
    networks = networks or build(config)
    optimizers = {}
    for name, network in networks.items():
        # RMSprop, no momentum; as torch's: alpha 0.99, eps 1e-8 added after the square root
        optimizers[name] = chainer.optimizers.RMSprop(lr=config.lr, alpha=0.99, eps=1e-8)
        optimizers[name].setup(network)
    device = device_for(config)
    run = gendojo.Run.of(run, config)  # counts steps and batches, so a run can stop and go on
    stream = run.stream(batches(data.images, config))
    # NumPy noise: the same numbers in all four frameworks, its state saved with the run
    noise = run.noise(np.random.default_rng(config.seed + 1))  # not the grid's noise
    fixed = fixed_latents(config)  # the diversity check's samples: main's grid
    history = run.history(
        {"critic_loss": [], "g_loss": [], "wasserstein": [], "diversity": [], "critic_updates": []}
    )
    for step in run.steps(optimizers, f"{TOPIC} {FRAMEWORK}"):
        real_batches = [next(stream) for _ in range(config.n_critic)]
        shape = (len(real_batches[0]), config.latent_dim)
        latent_batches = [  # fresh noise for each critic update, and for G's
            device.send(noise.standard_normal(shape, dtype=np.float32))
            for _ in range(config.n_critic + 1)
        ]
        losses = train_step(networks, optimizers, real_batches, latent_batches, config.clip)
        for name, value in losses.items():
            history[name].append(value)
        # the critic optimizer's own count of its updates: n_critic more after every step
        history["critic_updates"].append(float(optimizers["critic"].t))
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
    generator = networks["generator"]
    z = generator.xp.asarray(np.asarray(latents, dtype=np.float32))
    # train=False: BatchNorm uses its running statistics, so a sample does not depend on its batch
    with chainer.using_config("train", False), chainer.no_backprop_mode():
        images = generator(z)
    return chainer.backends.cuda.to_cpu(images.array).transpose(0, 2, 3, 1)
    # END SOLUTION Q4


def critique(networks, images):
    """NHWC images in [-1, 1] → the critic's scores, (N, 1) float32: higher is "more like data"."""
    # BEGIN SOLUTION Q4
    critic = networks["critic"]
    x = critic.xp.asarray(np.asarray(images, dtype=np.float32).transpose(0, 3, 1, 2))
    with chainer.using_config("train", False), chainer.no_backprop_mode():
        scores = critic(x)
    return chainer.backends.cuda.to_cpu(scores.array)
    # END SOLUTION Q4


def fixed_latents(config, count=64):
    """The latents of every sample grid and of the diversity check, the same in every framework."""
    return np.random.default_rng(config.seed).standard_normal(
        (count, config.latent_dim), dtype=np.float32
    )


# %% 8. Main
def main(argv=None):
    config = gendojo.parse_args(Config, argv, description="WGAN (weight clipping) in Chainer")
    data = gendojo.load_dataset(config)
    fixed = fixed_latents(config)  # the same samples in every grid, and in every framework

    def samples(networks):
        return generate(networks, fixed)

    def score(networks):  # 1000 fresh samples against real images: see gendojo/quality.py
        return quality.score_generator(data, config, lambda z: generate(networks, z))

    gendojo.train_and_save(config, TOPIC, FRAMEWORK, build, train, data, samples, score)


if __name__ == "__main__":
    gendojo.run_main(main)
