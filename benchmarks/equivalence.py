"""Does a reference loop do the answer's arithmetic? Two steps from identical weights, same inputs.

The answer trains a few steps with its own ``train`` while a wrapper around its ``train_step``
records every step's inputs (images, noise, labels, ...). A second copy of the networks, built
alongside and given the same initial weights, is then trained by the reference's update on
exactly those inputs, and the losses of each step must agree. The first step checks the forward pass and the losses, the later
ones the update (optimizer, its settings, the order of updates, clipping).

Randomness inside a step is made the same on both sides: NumPy's and PyTorch's global generators
are reseeded before every step (Chainer's dropout and VAE noise, PyTorch's), and the VAE's noise
ε in TensorFlow and Keras, drawn inside a traced function, is replaced by a fixed draw on both
sides. Dropout in TensorFlow and Keras draws from generators that live in the networks, built
the same on both sides.

    python benchmarks/equivalence.py                      # every topic and framework
    python benchmarks/equivalence.py --topics ae dcgan --frameworks keras
"""

import argparse
import dataclasses
import inspect
import sys
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import gendojo
from benchmarks.reference import load_answer, module_for

TOPICS = ("ae", "convae", "vae", "gan", "dcgan", "cgan", "wgan", "pix2pix")
# Small enough for a test: 16 × 16 (a multiple of 16 for the DCGAN family and the U-Net), 8 per batch.
TINY = dict(image_size=16, dataset_size=16, batch_size=8, quiet=True)
INPUTS = ("images", "latents", "labels", "real_batches", "latent_batches", "sources", "targets")
RTOL, ATOL = 1e-4, 1e-7  # WGAN losses are ~1e-4: a looser atol would hide a difference


def _copy(value):
    """A snapshot of a step input (a tensor the loop might reuse or change in place)."""
    if isinstance(value, list | tuple):
        return [_copy(v) for v in value]
    if hasattr(value, "clone"):  # torch
        return value.clone()
    if isinstance(value, np.ndarray):
        return value.copy()
    return value  # TensorFlow tensors are immutable


def _copy_weights(source, target, framework):
    """Make ``target`` (a networks dict) start from ``source``'s weights, so that the check does
    not rest on two builds from one seed giving the same weights in a process that has already
    built other networks."""
    for name, network in source.items():
        other = target[name]
        if framework == "pytorch":
            other.load_state_dict(network.state_dict())
        elif framework == "tensorflow":
            for a, b in zip(network.variables, other.variables, strict=True):
                b.assign(a)
        elif framework == "keras":
            other.set_weights(network.get_weights())
        else:
            params = dict(other.namedparams())
            for path, parameter in network.namedparams():
                params[path].array[...] = parameter.array


def _reseed(step):
    np.random.seed(1000 + step)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(1000 + step)


def _fixed_noise(answer, framework):
    """A deterministic stand-in for the VAE's ``reparameterize`` (TensorFlow and Keras only)."""
    if framework == "tensorflow":
        tf = answer.tf

        def reparameterize(mean, log_variance, seed=None):  # seed: the VAE's generator, not used
            epsilon = tf.random.stateless_normal(tf.shape(mean), seed=[1, 2])
            return mean + tf.exp(0.5 * log_variance) * epsilon

    else:
        keras, ops = answer.keras, answer.ops

        def reparameterize(mean, log_variance, seed=None):
            epsilon = keras.random.normal(ops.shape(mean), seed=12)  # an int seed: the same draw each call
            return mean + ops.exp(0.5 * log_variance) * epsilon

    return reparameterize


def compare(topic, framework, steps=2, reference_overrides=None):
    """Run ``steps`` steps of the answer and replay them through the reference.

    Returns ``(answer_losses, reference_losses)``: one dict per step each, over the loss names
    both report. ``reference_overrides`` changes the reference's config alone (to check that a
    different update is noticed)."""
    answer = load_answer(topic, framework, name=f"benchmarks_equivalence_{topic}_{framework}")
    reference = module_for(framework)
    if topic == "vae" and framework in ("tensorflow", "keras"):
        answer.reparameterize = _fixed_noise(answer, framework)
    config = dataclasses.replace(answer.Config(), **TINY, steps=steps)
    data = gendojo.load_dataset(config)

    recorded = []
    original = answer.train_step
    signature = inspect.signature(getattr(original, "python_function", original))

    def recording_train_step(*args, **kwargs):
        arguments = signature.bind(*args, **kwargs).arguments
        recorded.append({name: _copy(arguments[name]) for name in INPUTS if name in arguments})
        _reseed(len(recorded) - 1)
        return original(*args, **kwargs)

    networks, copies = answer.build(config), answer.build(config)
    _copy_weights(networks, copies, framework)
    answer.train_step = recording_train_step
    try:
        _, history = answer.train(config, data, networks=networks)
    finally:
        answer.train_step = original
    reference_config = dataclasses.replace(config, **(reference_overrides or {}))
    reference_losses = reference.replay(answer, reference_config, copies, recorded, _reseed)
    names = sorted(set(reference_losses[0]) & set(history))
    answer_losses = [{name: float(history[name][step]) for name in names} for step in range(steps)]
    reference_losses = [{name: losses[name] for name in names} for losses in reference_losses]
    return answer_losses, reference_losses


def check(topic, framework, steps=2):
    """Raise AssertionError unless the reference's losses match the answer's, step by step."""
    answer_losses, reference_losses = compare(topic, framework, steps)
    assert answer_losses and answer_losses[0], f"{topic} {framework}: no loss to compare"
    for step, (ours, theirs) in enumerate(zip(answer_losses, reference_losses, strict=True)):
        for name in ours:
            np.testing.assert_allclose(
                theirs[name],
                ours[name],
                rtol=RTOL,
                atol=ATOL,
                err_msg=f"{topic} {framework}: step {step} {name}: reference {theirs[name]}, answer {ours[name]}",
            )
    return answer_losses, reference_losses


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--topics", nargs="+", default=list(TOPICS), choices=TOPICS)
    parser.add_argument(
        "--frameworks", nargs="+", default=list(gendojo.FRAMEWORKS), choices=gendojo.FRAMEWORKS
    )
    parser.add_argument("--steps", type=int, default=2)
    args = parser.parse_args(argv)
    failures = 0
    for framework in args.frameworks:
        for topic in args.topics:
            start = time.perf_counter()
            try:
                answer_losses, reference_losses = check(topic, framework, args.steps)
                verdict = "same"
            except AssertionError as error:
                failures += 1
                verdict = f"DIFFERENT: {str(error).strip().splitlines()[0]}"
                answer_losses = reference_losses = None
            print(f"{topic:8} {framework:10} {verdict}  ({time.perf_counter() - start:.1f} s)")
            if answer_losses:
                for step, (ours, theirs) in enumerate(zip(answer_losses, reference_losses, strict=True)):
                    pairs = ", ".join(f"{n} {ours[n]:.6f} / {theirs[n]:.6f}" for n in ours)
                    print(f"    step {step}: {pairs}  (answer / reference)")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
