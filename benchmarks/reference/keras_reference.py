"""Reference loops in Keras 3 (keras and keras.ops only, so any backend), as keras.io writes them.

The auto encoders train with ``model.compile`` + ``model.fit`` on the NumPy images: the AE and
ConvAE as ``Sequential([encoder, decoder])`` with the answer's loss, the VAE as the answer's own
``VAE`` model, whose ``compute_loss`` is all ``fit`` needs.

The GANs can't use ``fit``. keras.io's GAN examples subclass ``keras.Model`` and override
``train_step`` with the backend's own gradient code (``tf.GradientTape`` in "DCGAN to generate
face images", ``jax.value_and_grad`` or ``torch`` autograd in the backend-specific guides); a
backend-agnostic Keras 3 loop has no way to take gradients of two networks by hand, so the
reference is the classic Keras GAN loop instead: NumPy batches and noise, a compiled
discriminator and a compiled combined model G → D with D frozen, one ``train_on_batch`` each per
step, with nothing around them. For the same arithmetic as the answers, D's trainer and the
frozen-D handling are the answer's (two passes of D for real and fake in the DCGAN and cGAN, D's
weights frozen one by one so that its BatchNorm stays in training mode; signs and clipping in the
WGAN).
"""

import math

import keras
import numpy as np
from keras import layers, ops


class Probe(keras.callbacks.Callback):
    """Calls ``probe()`` after every training batch and stops ``fit`` after ``steps`` of them."""

    def __init__(self, probe, steps):
        super().__init__()
        self.probe, self.steps, self.count = probe, steps, 0

    def on_train_batch_end(self, batch, logs=None):
        self.probe()
        self.count += 1
        if self.count >= self.steps:
            self.model.stop_training = True


class Fit:
    """Auto encoders: ``fit`` over the images, as many epochs as ``steps`` needs."""

    def fit(self, data, steps, probe):
        epochs = math.ceil(steps / (len(data.images) // self.batch_size))
        y = data.images if self.supervised else None
        self.model.fit(
            data.images,
            y,
            batch_size=self.batch_size,
            epochs=epochs,
            shuffle=True,
            verbose=0,
            callbacks=[Probe(probe, steps)],
        )

    def step(self, images):
        """One ``fit`` epoch of one batch: one update on exactly these images."""
        y = images if self.supervised else None
        history = self.model.fit(images, y, batch_size=len(images), epochs=1, shuffle=False, verbose=0)
        return {name: values[-1] for name, values in history.history.items()}


class AutoEncoder(Fit):
    """ae, convae: ``Sequential([encoder, decoder])`` compiled with the answer's loss."""

    supervised = True

    def __init__(self, answer, config, networks):
        self.batch_size = config.batch_size
        self.model = keras.Sequential([networks["encoder"], networks["decoder"]])
        self.model.compile(
            optimizer=keras.optimizers.Adam(learning_rate=config.lr), loss=answer.reconstruction_loss
        )


class VAE(Fit):
    """vae: the answer's ``VAE`` model (its ``compute_loss``: reconstruction + β · KL)."""

    supervised = False

    def __init__(self, answer, config, networks):
        self.batch_size = config.batch_size
        self.model = answer.VAE(networks["encoder"], networks["decoder"], config.beta, config.seed)
        self.model.compile(optimizer=keras.optimizers.Adam(learning_rate=config.lr))


class TrainOnBatch:
    """GANs: a plain loop over NumPy batches, one ``train_on_batch`` per network and step."""

    def fit(self, data, steps, probe):
        step = 0
        while step < steps:  # one pass per epoch
            for inputs in self.inputs(data):
                self.step(**inputs)
                probe()
                step += 1
                if step == steps:
                    break

    def inputs(self, data):
        n = self.config.batch_size
        order = np.random.permutation(len(data.images))
        for start in range(0, len(order) - n + 1, n):
            chosen = order[start : start + n]
            yield {"images": data.images[chosen], "latents": self.noise(n)}

    def noise(self, n):
        return np.random.normal(size=(n, self.config.latent_dim)).astype(np.float32)


def adam(config, rate=None):
    return keras.optimizers.Adam(learning_rate=rate or config.lr, beta_1=config.beta1, epsilon=1e-8)


class GAN(TrainOnBatch):
    """gan: D compiled on a batch of real then fake images; the combined model G → D."""

    def __init__(self, answer, config, networks):
        self.config = config
        self.generator, self.discriminator = networks["generator"], networks["discriminator"]
        self.discriminator.trainable = True
        self.discriminator.compile(optimizer=adam(config), loss=answer.discriminator_loss)
        self.discriminator.trainable = False
        latents = keras.Input((config.latent_dim,))
        self.combined = keras.Model(latents, self.discriminator(self.generator(latents)))
        self.combined.compile(optimizer=adam(config), loss=answer.generator_loss)

    def step(self, images, latents):
        n = len(images)
        fakes = ops.convert_to_numpy(self.generator(latents, training=True))
        self.discriminator.trainable = True
        targets = np.concatenate([np.ones((n, 1)), np.zeros((n, 1))]).astype(np.float32)
        d_loss = self.discriminator.train_on_batch(np.concatenate([images, fakes]), targets)
        self.discriminator.trainable = False
        g_loss = self.combined.train_on_batch(latents, np.ones((n, 1), dtype=np.float32))
        return {"d_loss": d_loss, "g_loss": g_loss}


class DCGAN(TrainOnBatch):
    """dcgan, cgan: D's trainer runs D on real and on fake images in two passes, logits side by
    side; D's weights (not its layers) frozen for the combined model, so that its BatchNorm keeps
    normalising with batch statistics."""

    def __init__(self, answer, config, networks):
        self.config = config
        self.conditional = hasattr(config, "num_classes")
        self.generator, self.discriminator = networks["generator"], networks["discriminator"]
        shape = (config.image_size, config.image_size, config.channels)
        real, fake, latents = keras.Input(shape), keras.Input(shape), keras.Input((config.latent_dim,))
        if self.conditional:
            labels = keras.Input((config.num_classes,))
            pair = [self.discriminator([real, labels]), self.discriminator([fake, labels])]
            self.d_trainer = keras.Model([real, fake, labels], layers.Concatenate(axis=1)(pair))
            g_inputs = [latents, labels]
            g_output = self.discriminator([self.generator(g_inputs), labels])
        else:
            pair = [self.discriminator(real), self.discriminator(fake)]
            self.d_trainer = keras.Model([real, fake], layers.Concatenate(axis=1)(pair))
            g_inputs, g_output = latents, self.discriminator(self.generator(latents))
        self.d_weights = self.discriminator.trainable_weights
        d_rate = getattr(config, "d_lr", config.lr)  # the DCGAN's D has a rate of its own
        self.d_trainer.compile(optimizer=adam(config, d_rate), loss=answer.discriminator_loss)
        self.freeze_discriminator()
        self.combined = keras.Model(g_inputs, g_output)
        self.combined.compile(optimizer=adam(config), loss=answer.generator_loss)

    def freeze_discriminator(self, frozen=True):
        for weight in self.d_weights:
            weight.trainable = not frozen

    def inputs(self, data):
        onehots = np.eye(self.config.num_classes, dtype=np.float32)[data.labels] if self.conditional else None
        n = self.config.batch_size
        order = np.random.permutation(len(data.images))
        for start in range(0, len(order) - n + 1, n):
            chosen = order[start : start + n]
            inputs = {"images": data.images[chosen], "latents": self.noise(n)}
            if self.conditional:
                inputs["labels"] = onehots[chosen]
            yield inputs

    def step(self, images, latents, labels=None):
        n = len(images)
        condition = [] if labels is None else [labels]
        g_inputs = [latents, *condition] if condition else latents
        fakes = ops.convert_to_numpy(self.generator(g_inputs, training=True))
        self.freeze_discriminator(False)
        targets = np.tile(np.float32([[1, 0]]), (n, 1))
        d_loss = self.d_trainer.train_on_batch([images, fakes, *condition], targets)
        self.freeze_discriminator()
        g_loss = self.combined.train_on_batch(g_inputs, np.ones((n, 1), dtype=np.float32))
        return {"d_loss": d_loss, "g_loss": g_loss}


class WGAN(TrainOnBatch):
    """wgan: the critic compiled on signed scores (real −1, fake +1), clipped after each of its
    n_critic updates; then the combined model G → critic."""

    def __init__(self, answer, config, networks):
        self.config = config
        self.generator, self.critic = networks["generator"], networks["critic"]
        rmsprop = dict(learning_rate=config.lr, rho=0.99, epsilon=1e-16)  # as the answer: torch's
        self.critic.trainable = True
        self.critic.compile(optimizer=keras.optimizers.RMSprop(**rmsprop), loss=answer.critic_loss)
        self.critic.trainable = False
        latents = keras.Input((config.latent_dim,))
        self.combined = keras.Model(latents, self.critic(self.generator(latents)))
        self.combined.compile(optimizer=keras.optimizers.RMSprop(**rmsprop), loss=answer.generator_loss)

    def inputs(self, data):
        n, n_critic = self.config.batch_size, self.config.n_critic
        order = np.random.permutation(len(data.images))
        starts = range(0, len(order) - n * n_critic + 1, n * n_critic)
        for start in starts:
            real = [data.images[order[start + i * n : start + (i + 1) * n]] for i in range(n_critic)]
            yield {"real_batches": real, "latent_batches": [self.noise(n) for _ in range(n_critic + 1)]}

    def step(self, real_batches, latent_batches):
        clip = self.config.clip
        self.critic.trainable = True
        for images, latents in zip(real_batches, latent_batches[:-1], strict=True):
            n = len(images)
            fakes = ops.convert_to_numpy(self.generator(latents, training=True))
            signs = np.concatenate([-np.ones((n, 1)), np.ones((n, 1))]).astype(np.float32)
            loss = self.critic.train_on_batch(np.concatenate([images, fakes]), signs)
            for weight in self.critic.weights:
                weight.assign(ops.clip(weight, -clip, clip))
        self.critic.trainable = False
        latents = latent_batches[-1]
        g_loss = self.combined.train_on_batch(latents, -np.ones((len(latents), 1), dtype=np.float32))
        return {"critic_loss": loss, "g_loss": g_loss, "wasserstein": -loss}


class Pix2Pix(TrainOnBatch):
    """pix2pix: D compiled on real and fake pairs; the combined model A → (D(A, G(A)), G(A))
    with the adversarial and λ-weighted L1 losses."""

    def __init__(self, answer, config, networks):
        self.config = config
        self.generator, self.discriminator = networks["generator"], networks["discriminator"]
        self.discriminator.trainable = True
        self.discriminator.compile(optimizer=adam(config), loss=answer.adversarial_loss)
        self.discriminator.trainable = False
        sources = keras.Input(self.generator.input.shape[1:])
        fakes = self.generator(sources)
        self.combined = keras.Model(sources, [self.discriminator([sources, fakes]), fakes])
        self.combined.compile(
            optimizer=adam(config),
            loss=[answer.adversarial_loss, answer.l1_loss],
            loss_weights=[1.0, config.l1_weight],
        )

    def inputs(self, data):
        n = self.config.batch_size
        order = np.random.permutation(len(data.images))
        for start in range(0, len(order) - n + 1, n):
            chosen = order[start : start + n]
            yield {"sources": data.sources[chosen], "targets": data.images[chosen]}

    def step(self, sources, targets):
        n = len(sources)
        fakes = ops.convert_to_numpy(self.generator(sources, training=True))
        pairs = [np.concatenate([sources, sources]), np.concatenate([targets, fakes])]
        patches = self.discriminator.output.shape[1:]
        labels = np.concatenate([np.ones((n, *patches)), np.zeros((n, *patches))]).astype(np.float32)
        self.discriminator.trainable = True
        d_loss = self.discriminator.train_on_batch(pairs, labels)
        self.discriminator.trainable = False
        ones = np.ones((n, *patches), dtype=np.float32)
        _, g_loss, l1 = self.combined.train_on_batch(sources, [ones, targets])
        return {"d_loss": d_loss, "g_loss": g_loss, "l1": l1}


TRAINERS = {
    "ae": AutoEncoder,
    "convae": AutoEncoder,
    "vae": VAE,
    "gan": GAN,
    "dcgan": DCGAN,
    "cgan": DCGAN,
    "wgan": WGAN,
    "pix2pix": Pix2Pix,
}


def train(answer, config, data, steps, probe):
    networks = answer.build(config)
    with keras.device(answer.device_for(config)):
        TRAINERS[answer.TOPIC](answer, config, networks).fit(data, steps, probe)


def replay(answer, config, networks, inputs, before_step=None):
    losses = []
    with keras.device(answer.device_for(config)):
        trainer = TRAINERS[answer.TOPIC](answer, config, networks)
        for index, step_inputs in enumerate(inputs):
            if before_step:
                before_step(index)
            losses.append({name: float(value) for name, value in trainer.step(**step_inputs).items()})
    return losses
