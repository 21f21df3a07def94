"""WGAN checks (questions/wgan.md), on one cached tiny run per framework (tests/topics/wgan.py).

Every critic weight stays within [-clip, clip]; the critic's Earth-Mover estimate rises and it
scores real images above G's samples; G's samples move towards the data; the critic's own
optimizer counts exactly n_critic updates per generator step; both networks learn.
"""

import json

import numpy as np
from harness import answer_code
from test_gan import _fresh, _run, _samples, check_diversity_reported, check_generator_learns, weights

TOPIC = "wgan"
RISE = 10  # the last 5 steps of the estimate above this × |its first 5| (n_critic 2: 85-439 ×)
SECOND_N_CRITIC = dict(n_critic=3, steps=2)  # a second run, not at the default 2: the count follows


def test_critic_weights_clipped(answer):
    """After training every critic weight, kernels and biases, lies in [-clip, clip].

    It also catches a Keras critic left trainable in the combined model: G's update would then move
    the critic's weights after their last clipping.
    """
    run = _run(answer)
    clip = run.config.clip
    for number, weight in enumerate(weights(answer, run.networks["critic"])):
        worst = float(np.abs(weight).max())
        assert worst <= clip + 1e-6, (
            f"critic weight tensor number {number} {weight.shape} reaches {worst:.4g}, outside "
            f"[-{clip}, {clip}]: clip every critic parameter after every critic update"
        )


def test_wasserstein_rises(answer):
    """history['wasserstein'] = −critic_loss rises clearly, and the critic scores real above fake."""
    run = _run(answer)
    estimate = np.asarray(run.history["wasserstein"], dtype=np.float64)
    critic_loss = np.asarray(run.history["critic_loss"], dtype=np.float64)
    assert np.allclose(estimate, -critic_loss, rtol=1e-5, atol=1e-7), (
        f"history['wasserstein'] should be −history['critic_loss']: {estimate[:3]} vs {critic_loss[:3]}"
    )
    first, last = estimate[:5].mean(), estimate[-5:].mean()
    assert last > RISE * abs(first) and last > first, (
        f"the critic's Earth-Mover estimate did not rise: first 5 steps {first:.4g}, last 5 {last:.4g} "
        f"(needed above {RISE} × |first|)"
    )
    fakes = _samples(answer, run.networks, run.config, count=len(run.data.images))
    real, fake = answer.critique(run.networks, run.data.images), answer.critique(run.networks, fakes)
    assert np.mean(real) > np.mean(fake), (
        f"after training the critic does not score real images above G's samples: mean score "
        f"{np.mean(real):.4g} (real) vs {np.mean(fake):.4g} (fake); is the sign of the critic's loss right?"
    )


def test_generator_learns(answer):
    check_generator_learns(answer)


def test_n_critic_respected(answer):
    """history['critic_updates'], read from the critic's optimizer, grows by n_critic per step."""
    for overrides in ({}, SECOND_N_CRITIC):
        run = _run(answer, **overrides)
        n, steps = run.config.n_critic, run.config.steps
        assert "critic_updates" in run.history, (
            f"history has no 'critic_updates' (it has {sorted(run.history)})"
        )
        counts = np.asarray(run.history["critic_updates"], dtype=np.float64)
        assert counts.shape == (steps,), f"history['critic_updates'] has shape {counts.shape}, not ({steps},)"
        added = np.diff(counts, prepend=0.0)
        assert np.all(added == n), (
            f"with n_critic={n} the critic's optimizer counted {sorted(set(added.tolist()))} updates per "
            f"step, expected exactly {n}"
        )
        assert counts[-1] == n * steps, (
            f"{counts[-1]:g} critic updates in {steps} steps, expected {n * steps}"
        )


def test_both_networks_change(answer):
    """Every trainable tensor of G and of the critic differs from its value at step 0, except the
    critic's output bias: a constant added to every score cancels in both losses, so its gradient
    is exactly 0."""
    run = _run(answer)
    start = _fresh(answer, run)
    for name in ("generator", "critic"):
        assert name in run.networks, f"the networks dict has no {name!r} (it has {sorted(run.networks)})"
        old, new = weights(answer, start[name]), weights(answer, run.networks[name])
        assert [w.shape for w in old] == [w.shape for w in new], f"the {name} is not the one build() makes"
        frozen = [
            i
            for i, (a, b) in enumerate(zip(old, new, strict=True))
            if np.array_equal(a, b) and not (name == "critic" and a.size == 1)  # the output bias
        ]
        assert not frozen, (
            f"training left {len(frozen)} of the {name}'s {len(old)} weight tensors unchanged "
            f"(e.g. number {frozen[0]}): is it frozen, or missing from its optimizer?"
        )


def test_diversity_reported(answer):
    check_diversity_reported(answer)


def test_real_images_get_three_critic_updates(answer):
    """On real images the command line's default is n_critic 3 (and 2250 steps), on the drawn
    shapes 2 (the sheet's Hyperparameters; gendojo/cli.py): a 2-step run of ``main`` on the
    digits makes 6 critic updates, and 4 with ``--n-critic 2``."""
    common = ["--dataset", "digits", "--channels", "1", "--image-size", "16", "--steps", "2"]
    common += ["--dataset-size", "32", "--quiet"]
    for extra, updates in (([], 6), (["--n-critic", "2"], 4)):
        out = answer.workdir / f"real-images{len(extra)}"
        with answer_code(f"main({common + extra})", answer=answer):
            answer.main([*common, *extra, "--out", str(out)])
        record = json.loads((out / "history.json").read_text())
        counted = record["history"]["critic_updates"][-1]
        assert counted == updates, (
            f"a 2-step run on the digits with {extra or 'no --n-critic'} made {counted:g} critic "
            f"updates, expected {updates}: Config's n_critic should carry metadata "
            '{"real_images": 3}'
        )
