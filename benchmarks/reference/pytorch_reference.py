"""Reference loops in plain PyTorch, written as pytorch/examples writes them.

A ``DataLoader`` over in-memory tensors, an epoch loop around ``for batch in loader``, noise from
``torch.randn``, and in each step ``zero_grad`` / ``backward`` / ``step`` per optimizer. The
networks (with their initial weights) and the loss functions are the answer's own, and the
optimizers have the answer's settings, so one step does the answer's arithmetic. What the loop
leaves out is GenDojo's: no progress bar, no history, no ``.item()`` per loss, no callback, no
diversity measurement.

Where pytorch/examples differs in arithmetic, the answer's arithmetic wins (the equivalence test
checks it): the DCGAN example backpropagates D's real and fake losses separately (their sum), the
answers take their mean in one backward pass; the pix2pix code computes G's fakes once, the
answers run G again after D's update; the WGAN code clips the critic before each update, the
answers after it.
"""

import numpy as np
import torch


def nchw(images):
    """NHWC NumPy images → an NCHW tensor (PyTorch keeps channels before height and width)."""
    return torch.from_numpy(images).permute(0, 3, 1, 2)


class AutoEncoder:
    """ae, convae: encoder → decoder, one Adam over both (pytorch/examples' mnist loop)."""

    def __init__(self, answer, config, networks):
        self.loss_function = answer.reconstruction_loss
        self.model = torch.nn.Sequential(networks["encoder"], networks["decoder"])
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.lr)

    def tensors(self, data):
        return (nchw(data.images),)

    def inputs(self, loader, device):
        for (images,) in loader:
            yield {"images": images.to(device)}

    def step(self, images):
        self.optimizer.zero_grad()
        loss = self.loss_function(images, self.model(images))
        loss.backward()
        self.optimizer.step()
        return {"loss": loss}


class VAE(AutoEncoder):
    """vae: the answer's VAE module (encoder → reparameterised sample → decoder), as
    pytorch/examples/vae: reconstruction + β · KL, one Adam. Batches: images alone, as the auto
    encoder's."""

    def __init__(self, answer, config, networks):
        self.answer, self.beta = answer, config.beta
        self.model = answer.VAE(networks["encoder"], networks["decoder"])
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.lr)

    def step(self, images):
        self.optimizer.zero_grad()
        reconstructions, mean, log_variance = self.model(images)
        reconstruction = self.answer.reconstruction_loss(images, reconstructions)
        kl = self.answer.kl_divergence(mean, log_variance)
        loss = reconstruction + self.beta * kl
        loss.backward()
        self.optimizer.step()
        return {"reconstruction": reconstruction, "kl": kl, "loss": loss}


class GAN:
    """gan, dcgan, cgan: D's update on real and fake, then G's through the updated D
    (pytorch/examples/dcgan); the cGAN passes one-hot labels to both networks."""

    def __init__(self, answer, config, networks):
        self.answer, self.latent_dim = answer, config.latent_dim
        self.conditional = hasattr(config, "num_classes")
        self.num_classes = getattr(config, "num_classes", 0)
        self.generator, self.discriminator = networks["generator"], networks["discriminator"]
        adam = dict(lr=config.lr, betas=(config.beta1, 0.999))
        self.optimizer_g = torch.optim.Adam(self.generator.parameters(), **adam)
        d_rate = getattr(config, "d_lr", config.lr)  # the DCGAN's D has a rate of its own
        self.optimizer_d = torch.optim.Adam(self.discriminator.parameters(), **{**adam, "lr": d_rate})

    def tensors(self, data):
        if not self.conditional:
            return (nchw(data.images),)
        return nchw(data.images), torch.from_numpy(np.eye(self.num_classes, dtype=np.float32)[data.labels])

    def inputs(self, loader, device):
        for batch in loader:
            images = batch[0].to(device)
            inputs = {"images": images, "latents": torch.randn(len(images), self.latent_dim, device=device)}
            if self.conditional:
                inputs["labels"] = batch[1].to(device)
            yield inputs

    def step(self, images, latents, labels=None):
        condition = () if labels is None else (labels,)
        fakes = self.generator(latents, *condition)
        self.optimizer_d.zero_grad()
        d_loss = self.answer.discriminator_loss(
            self.discriminator(images, *condition), self.discriminator(fakes.detach(), *condition)
        )
        d_loss.backward()
        self.optimizer_d.step()
        self.optimizer_g.zero_grad()
        g_loss = self.answer.generator_loss(self.discriminator(fakes, *condition))
        g_loss.backward()
        self.optimizer_g.step()
        return {"d_loss": d_loss, "g_loss": g_loss}


class WGAN:
    """wgan: n_critic critic updates (RMSprop, weights clipped after each), then one G update, as
    the WGAN authors' PyTorch code; each step takes n_critic batches from the epoch's loader."""

    def __init__(self, answer, config, networks):
        self.answer, self.latent_dim = answer, config.latent_dim
        self.n_critic, self.clip = config.n_critic, config.clip
        self.generator, self.critic = networks["generator"], networks["critic"]
        rmsprop = dict(lr=config.lr, alpha=0.99, eps=1e-8)
        self.optimizer_g = torch.optim.RMSprop(self.generator.parameters(), **rmsprop)
        self.optimizer_c = torch.optim.RMSprop(self.critic.parameters(), **rmsprop)

    def tensors(self, data):
        return (nchw(data.images),)

    def inputs(self, loader, device):
        batches = iter(loader)
        while True:
            try:
                real = [next(batches)[0].to(device) for _ in range(self.n_critic)]
            except StopIteration:  # the epoch is over
                return
            shape = (len(real[0]), self.latent_dim)
            latents = [torch.randn(*shape, device=device) for _ in range(self.n_critic + 1)]
            yield {"real_batches": real, "latent_batches": latents}

    def step(self, real_batches, latent_batches):
        for images, latents in zip(real_batches, latent_batches[:-1], strict=True):
            with torch.no_grad():
                fakes = self.generator(latents)
            self.optimizer_c.zero_grad()
            loss = self.answer.critic_loss(self.critic(images), self.critic(fakes))
            loss.backward()
            self.optimizer_c.step()
            with torch.no_grad():
                for parameter in self.critic.parameters():
                    parameter.clamp_(-self.clip, self.clip)
        self.optimizer_g.zero_grad()
        g_loss = self.answer.generator_loss(self.critic(self.generator(latent_batches[-1])))
        g_loss.backward()
        self.optimizer_g.step()
        return {"critic_loss": loss, "g_loss": g_loss, "wasserstein": -loss}


class Pix2Pix:
    """pix2pix: D on real and fake pairs in one batch, then G on adversarial + λ · L1."""

    def __init__(self, answer, config, networks):
        self.answer, self.l1_weight = answer, config.l1_weight
        self.generator, self.discriminator = networks["generator"], networks["discriminator"]
        adam = dict(lr=config.lr, betas=(config.beta1, 0.999))
        self.optimizer_g = torch.optim.Adam(self.generator.parameters(), **adam)
        self.optimizer_d = torch.optim.Adam(self.discriminator.parameters(), **adam)

    def tensors(self, data):
        return nchw(data.sources), nchw(data.images)

    def inputs(self, loader, device):
        for sources, targets in loader:
            yield {"sources": sources.to(device), "targets": targets.to(device)}

    def step(self, sources, targets):
        n = len(sources)
        with torch.no_grad():
            fakes = self.generator(sources)
        self.optimizer_d.zero_grad()
        logits = self.discriminator(torch.cat([sources, sources]), torch.cat([targets, fakes]))
        labels = torch.cat([torch.ones_like(logits[:n]), torch.zeros_like(logits[n:])])
        d_loss = self.answer.adversarial_loss(labels, logits)
        d_loss.backward()
        self.optimizer_d.step()
        self.optimizer_g.zero_grad()
        fakes = self.generator(sources)
        logits = self.discriminator(sources, fakes)
        g_loss = self.answer.adversarial_loss(torch.ones_like(logits), logits)
        l1 = self.answer.l1_loss(targets, fakes)
        (g_loss + self.l1_weight * l1).backward()
        self.optimizer_g.step()
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
    device = answer.device_for(config)
    trainer = TRAINERS[answer.TOPIC](answer, config, networks)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(*trainer.tensors(data)),
        batch_size=config.batch_size,
        shuffle=True,
        drop_last=True,
    )
    step = 0
    while step < steps:  # one pass per epoch
        for inputs in trainer.inputs(loader, device):
            trainer.step(**inputs)
            probe()
            step += 1
            if step == steps:
                break


def replay(answer, config, networks, inputs, before_step=None):
    trainer = TRAINERS[answer.TOPIC](answer, config, networks)
    losses = []
    for index, step_inputs in enumerate(inputs):
        if before_step:
            before_step(index)
        losses.append({name: value.item() for name, value in trainer.step(**step_inputs).items()})
    return losses
