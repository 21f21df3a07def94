"""Reference loops in Chainer, written as chainer/examples writes them.

A ``SerialIterator`` over the data set, an updater and a ``Trainer`` that runs it for a number of
iterations. The auto encoders use the plain ``StandardUpdater`` with a ``loss_func``
(chainer/examples/vae); the GANs a ``StandardUpdater`` subclass whose ``update_core`` takes a
batch, draws noise and calls each optimizer's ``update(loss_function, ...)`` (the ``DCGANUpdater``
of chainer/examples/dcgan, the ``FacadeUpdater`` of chainer/examples/pix2pix; the WGAN's takes
n_critic batches per iteration, as chainer-gan-lib's does). Losses are reported with
``chainer.report``, as the examples do. The networks (with their initial weights), the loss
functions and the optimizer settings are the answer's own, so one iteration does the answer's
arithmetic; the ``Trainer`` has no extensions but the benchmark's timestamp, and nothing of
GenDojo's loop (progress bar, history, callback, diversity measurement) is there.

Where the examples differ in arithmetic, the answer's wins (the equivalence test checks it): the
DCGAN example updates G from the same D outputs it used for D's update, the answers run D again
after its update.
"""

import tempfile

import numpy as np

from gendojo.chainer_compat import import_chainer

chainer = import_chainer()
StandardUpdater = chainer.training.updaters.StandardUpdater

# The per-example arrays each topic's iterator serves, in order.
FIELDS = {
    "ae": ("images",),
    "convae": ("images",),
    "vae": ("images",),
    "gan": ("images",),
    "dcgan": ("images",),
    "cgan": ("images", "labels"),
    "wgan": ("images",),
    "pix2pix": ("sources", "targets"),
}


def autoencoder(answer, config, networks, iterator, device):
    """ae, convae: encoder → decoder, one Adam over both."""
    model = chainer.Sequential(networks["encoder"], networks["decoder"])
    optimizer = chainer.optimizers.Adam(alpha=config.lr)
    optimizer.setup(model)

    def loss_func(images):
        loss = answer.reconstruction_loss(images, model(images))
        chainer.report({"loss": loss})
        return loss

    return StandardUpdater(iterator, optimizer, device=device, loss_func=loss_func)


def vae(answer, config, networks, iterator, device):
    """vae: the answer's VAE chain, reconstruction + β · KL, one Adam (chainer/examples/vae)."""
    model = answer.VAE(networks["encoder"], networks["decoder"])
    optimizer = chainer.optimizers.Adam(alpha=config.lr)
    optimizer.setup(model)

    def loss_func(images):
        reconstructions, mean, log_variance = model(images)
        reconstruction = answer.reconstruction_loss(images, reconstructions)
        kl = answer.kl_divergence(mean, log_variance)
        loss = reconstruction + config.beta * kl
        chainer.report({"reconstruction": reconstruction, "kl": kl, "loss": loss})
        return loss

    return StandardUpdater(iterator, optimizer, device=device, loss_func=loss_func)


def optimizers_for(networks, make):
    optimizers = {}
    for name, network in networks.items():
        optimizers[name] = make()
        optimizers[name].setup(network)
    return optimizers


class GANUpdater(StandardUpdater):
    """gan, dcgan, cgan: D's update on real and fake, then G's through the updated D; the cGAN
    passes one-hot labels to both networks."""

    def __init__(self, answer, config, networks, iterator, device):
        self.answer, self.config = answer, config
        self.generator, self.discriminator = networks["generator"], networks["discriminator"]
        optimizers = optimizers_for(
            networks, lambda: chainer.optimizers.Adam(alpha=config.lr, beta1=config.beta1, eps=1e-8)
        )
        optimizers["discriminator"].alpha = getattr(config, "d_lr", config.lr)  # the DCGAN's D's own rate
        super().__init__(iterator, optimizers, device=device)

    def make_latents(self, n):
        return self.device.send(np.random.standard_normal((n, self.config.latent_dim)).astype(np.float32))

    def loss_discriminator(self, real_logits, fake_logits):
        loss = self.answer.discriminator_loss(real_logits, fake_logits)
        chainer.report({"d_loss": loss})
        return loss

    def loss_generator(self, fake_logits):
        loss = self.answer.generator_loss(fake_logits)
        chainer.report({"g_loss": loss})
        return loss

    def update_core(self):
        arrays = self.converter(self.get_iterator("main").next(), self.device)
        images, condition = (arrays[0], arrays[1:]) if isinstance(arrays, tuple) else (arrays, ())
        generator, discriminator = self.generator, self.discriminator
        fakes = generator(self.make_latents(len(images)), *condition)
        self.get_optimizer("discriminator").update(
            self.loss_discriminator,
            discriminator(images, *condition),
            discriminator(fakes.array, *condition),
        )
        self.get_optimizer("generator").update(self.loss_generator, discriminator(fakes, *condition))


class WGANUpdater(StandardUpdater):
    """wgan: n_critic critic updates (RMSprop, weights clipped after each), each on its own batch,
    then one G update per iteration."""

    def __init__(self, answer, config, networks, iterator, device):
        self.answer, self.config = answer, config
        self.generator, self.critic = networks["generator"], networks["critic"]
        optimizers = optimizers_for(
            networks, lambda: chainer.optimizers.RMSprop(lr=config.lr, alpha=0.99, eps=1e-8)
        )
        super().__init__(iterator, optimizers, device=device)

    make_latents = GANUpdater.make_latents

    def loss_critic(self, real_scores, fake_scores):
        loss = self.answer.critic_loss(real_scores, fake_scores)
        chainer.report({"critic_loss": loss, "wasserstein": -loss})
        return loss

    def loss_generator(self, fake_scores):
        loss = self.answer.generator_loss(fake_scores)
        chainer.report({"g_loss": loss})
        return loss

    def update_core(self):
        generator, critic = self.generator, self.critic
        for _ in range(self.config.n_critic):
            images = self.converter(self.get_iterator("main").next(), self.device)
            latents = self.make_latents(len(images))
            with chainer.no_backprop_mode():
                fakes = generator(latents)
            self.get_optimizer("critic").update(self.loss_critic, critic(images), critic(fakes))
            for parameter in critic.params():
                parameter.array[...] = critic.xp.clip(parameter.array, -self.config.clip, self.config.clip)
        latents = self.make_latents(len(images))
        self.get_optimizer("generator").update(self.loss_generator, critic(generator(latents)))


class Pix2PixUpdater(StandardUpdater):
    """pix2pix: D on real and fake pairs in one batch, then G on adversarial + λ · L1."""

    def __init__(self, answer, config, networks, iterator, device):
        self.answer, self.config = answer, config
        self.generator, self.discriminator = networks["generator"], networks["discriminator"]
        optimizers = optimizers_for(
            networks, lambda: chainer.optimizers.Adam(alpha=config.lr, beta1=config.beta1)
        )
        super().__init__(iterator, optimizers, device=device)

    def loss_discriminator(self, labels, logits):
        loss = self.answer.adversarial_loss(labels, logits)
        chainer.report({"d_loss": loss})
        return loss

    def loss_generator(self, logits, targets, fakes):
        g_loss = self.answer.adversarial_loss(self.generator.xp.ones(logits.shape, dtype=np.int32), logits)
        l1 = self.answer.l1_loss(targets, fakes)
        chainer.report({"g_loss": g_loss, "l1": l1})
        return g_loss + self.config.l1_weight * l1

    def update_core(self):
        sources, targets = self.converter(self.get_iterator("main").next(), self.device)
        generator, discriminator = self.generator, self.discriminator
        xp, n = generator.xp, len(sources)
        with chainer.no_backprop_mode():
            fakes = generator(sources).array
        logits = discriminator(xp.concatenate([sources, sources]), xp.concatenate([targets, fakes]))
        labels = xp.zeros(logits.shape, dtype=np.int32)
        labels[:n] = 1
        self.get_optimizer("discriminator").update(self.loss_discriminator, labels, logits)
        fakes = generator(sources)
        self.get_optimizer("generator").update(
            self.loss_generator, discriminator(sources, fakes), targets, fakes
        )


TRAINERS = {
    "ae": autoencoder,
    "convae": autoencoder,
    "vae": vae,
    "gan": GANUpdater,
    "dcgan": GANUpdater,
    "cgan": GANUpdater,
    "wgan": WGANUpdater,
    "pix2pix": Pix2PixUpdater,
}


def dataset(arrays):
    """One array: the data set itself; several: a TupleDataset of them."""
    return arrays[0] if len(arrays) == 1 else chainer.datasets.TupleDataset(*arrays)


def nchw(images):
    return np.ascontiguousarray(images.transpose(0, 3, 1, 2))


def train(answer, config, data, steps, probe):
    networks = answer.build(config)
    available = {"images": nchw(data.images), "sources": None, "labels": None}
    if data.sources is not None:
        available["sources"] = nchw(data.sources)
    if data.labels is not None and hasattr(config, "num_classes"):
        available["labels"] = np.eye(config.num_classes, dtype=np.float32)[data.labels]
    available["targets"] = available["images"]
    arrays = [available[field] for field in FIELDS[answer.TOPIC]]
    iterator = chainer.iterators.SerialIterator(dataset(arrays), config.batch_size, repeat=True, shuffle=True)
    updater = TRAINERS[answer.TOPIC](answer, config, networks, iterator, answer.device_for(config))
    with tempfile.TemporaryDirectory() as out:
        trainer = chainer.training.Trainer(updater, (steps, "iteration"), out=out)
        trainer.extend(lambda trainer: probe(), name="probe", trigger=(1, "iteration"))
        trainer.run()


def replay(answer, config, networks, inputs, before_step=None):
    """Feed the recorded batches through a non-shuffling iterator, and the recorded noise through
    ``make_latents``; run one ``updater.update()`` per step and collect what it reports."""
    fields = FIELDS[answer.TOPIC]
    per_field = {field: [] for field in fields}
    latents = []
    for step_inputs in inputs:
        if "real_batches" in step_inputs:
            per_field["images"].extend(step_inputs["real_batches"])
            latents.extend(step_inputs["latent_batches"])
        else:
            for field in fields:
                per_field[field].append(step_inputs[field])
            if "latents" in step_inputs:
                latents.append(step_inputs["latents"])
    arrays = [np.concatenate([chainer.backends.cuda.to_cpu(a) for a in per_field[f]]) for f in fields]
    n = len(inputs[0].get("images", inputs[0].get("sources", inputs[0].get("real_batches", [[]])[0])))
    iterator = chainer.iterators.SerialIterator(dataset(arrays), n, repeat=False, shuffle=False)
    updater = TRAINERS[answer.TOPIC](answer, config, networks, iterator, answer.device_for(config))
    if latents:
        queue = iter(latents)
        updater.make_latents = lambda n: next(queue)
    losses = []
    for index in range(len(inputs)):
        if before_step:
            before_step(index)
        observation = {}
        with chainer.Reporter().scope(observation):
            updater.update()
        losses.append({name: float(value.array) for name, value in observation.items()})
    return losses
