"""Reference loops in core TensorFlow, written as the TensorFlow tutorials write them.

``tf.data.Dataset.from_tensor_slices(...).shuffle(...).batch(...)``, an epoch loop around
``for batch in dataset``, noise from ``tf.random.normal``, and a ``@tf.function`` train step with
``tf.GradientTape`` (the "Deep Convolutional Generative Adversarial Network" and "Convolutional
Variational Autoencoder" tutorials). The networks (with their initial weights), the loss functions
and the optimizers are the answer's own (core TensorFlow has no optimizer classes, so the answers'
``gendojo.tf_core`` ones, with the answer's settings), so one step does the answer's arithmetic.
What the loop leaves out is GenDojo's: no progress bar, no history, no ``float()`` per loss, no
callback, no diversity measurement.

Where the tutorial differs in arithmetic, the answer's wins (the equivalence test checks it): the
DCGAN tutorial updates G and D at once from one forward pass, the answers update D first and then
G through the updated D.
"""

import inspect

import tensorflow as tf

from gendojo import tf_core


def training_mode(network):
    """``{"training": True}`` for the answers' networks that take a ``training`` flag (BatchNorm,
    dropout), ``{}`` for the others."""
    return {"training": True} if "training" in inspect.signature(network.__call__).parameters else {}


class AutoEncoder:
    """ae, convae: encoder → decoder, one Adam over both."""

    def __init__(self, answer, config, networks):
        self.loss_function = answer.reconstruction_loss
        self.encoder, self.decoder = networks["encoder"], networks["decoder"]
        variables = self.encoder.trainable_variables + self.decoder.trainable_variables
        self.optimizer = tf_core.Adam(variables, learning_rate=config.lr)

    def arrays(self, data):
        return (data.images,)

    def inputs(self, dataset):
        for (images,) in dataset:
            yield {"images": images}

    @tf.function
    def step(self, images):
        with tf.GradientTape() as tape:
            loss = self.loss_function(images, self.decoder(self.encoder(images)))
        self.optimizer.apply_gradients(
            zip(tape.gradient(loss, self.optimizer.var_list), self.optimizer.var_list, strict=True)
        )
        return {"loss": loss}


class VAE(AutoEncoder):
    """vae: the answer's VAE module (encoder → reparameterised sample → decoder), reconstruction
    + β · KL, one Adam (the tutorial's ``train_step``). Batches: images alone, as the auto
    encoder's."""

    def __init__(self, answer, config, networks):
        self.answer, self.beta = answer, config.beta
        self.model = answer.VAE(networks["encoder"], networks["decoder"])
        self.optimizer = tf_core.Adam(self.model.trainable_variables, learning_rate=config.lr)

    @tf.function
    def step(self, images):
        with tf.GradientTape() as tape:
            reconstructions, mean, log_variance = self.model(images)
            reconstruction = self.answer.reconstruction_loss(images, reconstructions)
            kl = self.answer.kl_divergence(mean, log_variance)
            loss = reconstruction + self.beta * kl
        self.optimizer.apply_gradients(
            zip(tape.gradient(loss, self.optimizer.var_list), self.optimizer.var_list, strict=True)
        )
        return {"reconstruction": reconstruction, "kl": kl, "loss": loss}


class GAN:
    """gan, dcgan, cgan: D's update on real and fake, then G's through the updated D; the cGAN
    passes one-hot labels to both networks."""

    def __init__(self, answer, config, networks):
        self.answer, self.config = answer, config
        self.conditional = hasattr(config, "num_classes")
        self.generator, self.discriminator = networks["generator"], networks["discriminator"]
        self.g_mode, self.d_mode = training_mode(self.generator), training_mode(self.discriminator)
        adam = dict(learning_rate=config.lr, beta_1=config.beta1)
        self.optimizer_g = tf_core.Adam(self.generator.trainable_variables, **adam)
        d_rate = getattr(config, "d_lr", config.lr)  # the DCGAN's D has a rate of its own
        self.optimizer_d = tf_core.Adam(
            self.discriminator.trainable_variables, **{**adam, "learning_rate": d_rate}
        )

    def arrays(self, data):
        if not self.conditional:
            return (data.images,)
        return data.images, tf.one_hot(data.labels, self.config.num_classes)

    def inputs(self, dataset):
        for batch in dataset:
            inputs = {
                "images": batch[0],
                "latents": tf.random.normal([len(batch[0]), self.config.latent_dim]),
            }
            if self.conditional:
                inputs["labels"] = batch[1]
            yield inputs

    @tf.function
    def step(self, images, latents, labels=None):
        condition = () if labels is None else (labels,)
        with tf.GradientTape() as g_tape:
            fakes = self.generator(latents, *condition, **self.g_mode)
            with tf.GradientTape() as d_tape:
                real_logits = self.discriminator(images, *condition, **self.d_mode)
                fake_logits = self.discriminator(tf.stop_gradient(fakes), *condition, **self.d_mode)
                d_loss = self.answer.discriminator_loss(real_logits, fake_logits)
            self.optimizer_d.apply_gradients(
                zip(
                    d_tape.gradient(d_loss, self.optimizer_d.var_list), self.optimizer_d.var_list, strict=True
                )
            )
            g_loss = self.answer.generator_loss(self.discriminator(fakes, *condition, **self.d_mode))
        self.optimizer_g.apply_gradients(
            zip(g_tape.gradient(g_loss, self.optimizer_g.var_list), self.optimizer_g.var_list, strict=True)
        )
        return {"d_loss": d_loss, "g_loss": g_loss}


class WGAN:
    """wgan: n_critic critic updates (RMSprop, weights clipped after each), then one G update;
    each step takes n_critic batches from the epoch's dataset."""

    def __init__(self, answer, config, networks):
        self.answer, self.config = answer, config
        self.generator, self.critic = networks["generator"], networks["critic"]
        self.g_mode, self.c_mode = training_mode(self.generator), training_mode(self.critic)
        rmsprop = dict(learning_rate=config.lr, rho=0.99, epsilon=1e-8)
        self.optimizer_g = tf_core.RMSprop(self.generator.trainable_variables, **rmsprop)
        self.optimizer_c = tf_core.RMSprop(self.critic.trainable_variables, **rmsprop)

    def arrays(self, data):
        return (data.images,)

    def inputs(self, dataset):
        batches = iter(dataset)
        n_critic, shape = self.config.n_critic, [self.config.batch_size, self.config.latent_dim]
        while True:
            try:
                real = [next(batches)[0] for _ in range(n_critic)]
            except StopIteration:  # the epoch is over
                return
            yield {
                "real_batches": real,
                "latent_batches": [tf.random.normal(shape) for _ in range(n_critic + 1)],
            }

    @tf.function
    def step(self, real_batches, latent_batches):
        clip = self.config.clip
        for images, latents in zip(real_batches, latent_batches[:-1], strict=True):
            fakes = self.generator(latents, **self.g_mode)
            with tf.GradientTape() as tape:
                loss = self.answer.critic_loss(
                    self.critic(images, **self.c_mode), self.critic(fakes, **self.c_mode)
                )
            self.optimizer_c.apply_gradients(
                zip(tape.gradient(loss, self.optimizer_c.var_list), self.optimizer_c.var_list, strict=True)
            )
            for variable in self.critic.trainable_variables:
                variable.assign(tf.clip_by_value(variable, -clip, clip))
        with tf.GradientTape() as tape:
            scores = self.critic(self.generator(latent_batches[-1], **self.g_mode), **self.c_mode)
            g_loss = self.answer.generator_loss(scores)
        self.optimizer_g.apply_gradients(
            zip(tape.gradient(g_loss, self.optimizer_g.var_list), self.optimizer_g.var_list, strict=True)
        )
        return {"critic_loss": loss, "g_loss": g_loss, "wasserstein": -loss}


class Pix2Pix:
    """pix2pix: D on real and fake pairs in one batch, then G on adversarial + λ · L1 (the
    tutorial's ``train_step``, with D updated before G)."""

    def __init__(self, answer, config, networks):
        self.answer, self.l1_weight = answer, config.l1_weight
        self.generator, self.discriminator = networks["generator"], networks["discriminator"]
        self.g_mode, self.d_mode = training_mode(self.generator), training_mode(self.discriminator)
        adam = dict(learning_rate=config.lr, beta_1=config.beta1)
        self.optimizer_g = tf_core.Adam(self.generator.trainable_variables, **adam)
        self.optimizer_d = tf_core.Adam(self.discriminator.trainable_variables, **adam)

    def arrays(self, data):
        return data.sources, data.images

    def inputs(self, dataset):
        for sources, targets in dataset:
            yield {"sources": sources, "targets": targets}

    @tf.function
    def step(self, sources, targets):
        n = tf.shape(sources)[0]
        fakes = self.generator(sources, **self.g_mode)
        with tf.GradientTape() as tape:
            logits = self.discriminator(
                tf.concat([sources, sources], 0), tf.concat([targets, fakes], 0), **self.d_mode
            )
            labels = tf.concat([tf.ones_like(logits[:n]), tf.zeros_like(logits[n:])], 0)
            d_loss = self.answer.adversarial_loss(labels, logits)
        self.optimizer_d.apply_gradients(
            zip(tape.gradient(d_loss, self.optimizer_d.var_list), self.optimizer_d.var_list, strict=True)
        )
        with tf.GradientTape() as tape:
            fakes = self.generator(sources, **self.g_mode)
            logits = self.discriminator(sources, fakes, **self.d_mode)
            g_loss = self.answer.adversarial_loss(tf.ones_like(logits), logits)
            l1 = self.answer.l1_loss(targets, fakes)
            loss = g_loss + self.l1_weight * l1
        self.optimizer_g.apply_gradients(
            zip(tape.gradient(loss, self.optimizer_g.var_list), self.optimizer_g.var_list, strict=True)
        )
        return {"d_loss": d_loss, "g_loss": g_loss, "l1": l1}


TRAINERS = {
    "ae": AutoEncoder,
    "convae": AutoEncoder,
    "vae": VAE,
    "gan": GAN,
    "dcgan": GAN,
    "cgan": GAN,
    "wgan": WGAN,
    "pix2pix": Pix2Pix,
}


def train(answer, config, data, steps, probe):
    networks = answer.build(config)
    trainer = TRAINERS[answer.TOPIC](answer, config, networks)
    arrays = trainer.arrays(data)
    dataset = tf.data.Dataset.from_tensor_slices(arrays).shuffle(len(arrays[0]))
    dataset = dataset.batch(config.batch_size, drop_remainder=True)
    step = 0
    with tf.device(answer.device_for(config)):
        while step < steps:  # one pass per epoch
            for inputs in trainer.inputs(dataset):
                trainer.step(**inputs)
                probe()
                step += 1
                if step == steps:
                    break


def replay(answer, config, networks, inputs, before_step=None):
    trainer = TRAINERS[answer.TOPIC](answer, config, networks)
    losses = []
    with tf.device(answer.device_for(config)):
        for index, step_inputs in enumerate(inputs):
            if before_step:
                before_step(index)
            losses.append({name: float(value) for name, value in trainer.step(**step_inputs).items()})
    return losses
