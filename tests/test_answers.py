"""The checks every answer of every topic must pass (see CONTRIBUTING.md, "The answer contract").

Each test runs once per answer file (topic × framework); ``--answers DIR`` points them at a
student's tree. A check that fails says why in one sentence; the grade report collects them.
"""

import dataclasses
import json

import numpy as np
import pytest
from harness import (
    answer_code,
    check_falls,
    check_history,
    deadline,
    load,
    outline,
    reference,
    reference_config,
    runs_main_as_a_script,
    sheet_parameter_counts,
    stop_if_hung,
    tiny_config,
    tiny_data,
    topic_spec,
    train_tiny,
)

import gendojo
from gendojo.notebook import config_defaults


def test_imports(answer_ref):
    load(answer_ref)


def test_config(answer):
    """The Config fields and defaults equal the reference answer's (which are the sheet's)."""
    mine = dataclasses.asdict(answer.Config())
    theirs = reference_config(answer.REF.topic)
    missing = sorted(theirs.keys() - mine.keys())
    extra = sorted(mine.keys() - theirs.keys())
    assert not missing and not extra, f"Config fields differ: missing {missing}, unexpected {extra}"
    differ = {k: (mine[k], theirs[k]) for k in theirs if mine[k] != theirs[k]}
    assert not differ, "Config defaults differ from the sheet: " + ", ".join(
        f"{k}={a!r} (sheet: {b!r})" for k, (a, b) in differ.items()
    )
    # a run on real images may get other defaults (gendojo/cli.py); read from the source, as the
    # metadata that holds them does not travel back from the answer's process
    mine = config_defaults(answer.REF.path, real_images=True)
    theirs = reference_config(answer.REF.topic, real_images=True)
    differ = {k: (mine[k], theirs[k]) for k in theirs if mine[k] != theirs[k]}
    assert not differ, "Config defaults on real images differ from the sheet: " + ", ".join(
        f"{k}={a!r} (sheet: {b!r})" for k, (a, b) in differ.items()
    )


def test_layout(answer):
    """Same ``# %%`` sections and top-level classes/functions, in the same order, as the reference."""
    sections, names = outline(answer.REF.path)
    ref_sections, ref_names = outline(reference(answer.REF.topic).path)
    assert sections == ref_sections, f"sections {sections} differ from the reference's {ref_sections}"
    assert names == ref_names, f"top-level names {names} differ from the reference's {ref_names}"


def test_parameter_counts(answer):
    """Trainable parameters of each network (default Config) equal the sheet's table."""
    expected = sheet_parameter_counts(answer.REF.topic)
    with answer_code("build(Config())"):
        networks = answer.build(answer.Config())
        counts = {name: answer.kit.count_parameters(network) for name, network in networks.items()}
    assert counts == expected, f"parameter counts {counts}, the sheet says {expected}"


def test_inference(answer):
    """Every inference function returns the sheet's shape, float32, finite, in range."""
    run = train_tiny(answer, answer.REF.topic)
    with answer_code("the inference functions", 60):
        outputs = list(
            topic_spec(answer.REF.topic).inference_checks(answer, run.networks, run.config, run.data)
        )
    for label, array, shape, value_range in outputs:
        array = np.asarray(array)
        assert array.shape == tuple(shape), f"{label} has shape {array.shape}, expected {tuple(shape)}"
        assert array.dtype == np.float32, f"{label} has dtype {array.dtype}, expected float32"
        assert np.all(np.isfinite(array)), f"{label} contains NaN or infinity"
        if value_range:
            low, high = value_range
            assert array.min() >= low - 1e-6 and array.max() <= high + 1e-6, (
                f"{label} ranges over [{array.min():.3f}, {array.max():.3f}], expected [{low}, {high}]"
            )


def test_loss_falls(answer):
    """On a tiny subset the topic's loss falls: mean of the last 10 steps < ratio × first 10 (in a
    GAN game: of the lowest 10 steps after the first 10, see ``harness.check_falls``)."""
    spec = topic_spec(answer.REF.topic)
    run = train_tiny(answer, answer.REF.topic)
    check_history(run.history, spec.LOSSES)
    values = np.asarray(run.history[spec.FALLING], dtype=np.float64)
    assert len(values) == run.config.steps, (
        f"history has {len(values)} {spec.FALLING} values for {run.config.steps} steps"
    )
    check_falls(values, spec.FALLING, spec.FALL_RATIO, getattr(spec, "FALL_WINDOW", "last"))


def test_same_seed_same_history(answer):
    """A second run with the seed of the tiny run, 4 steps long, repeats its first 4 steps (to
    float32 rounding). A schedule that ends with the run (the DCGAN's ``lr_decay``) is switched
    off in the short run: the tiny run's first 4 steps come before its decay starts."""
    first = train_tiny(answer, answer.REF.topic).history
    no_decay = {"lr_decay": 0.0} if hasattr(answer.Config(), "lr_decay") else {}
    config = tiny_config(answer, answer.REF.topic, steps=4, **no_decay)
    with answer_code("train(config, data) for 4 steps", answer=answer):
        again = answer.train(config, tiny_data(config))[1]
    for name in first:
        a = np.asarray(first[name], dtype=np.float64)[:4]
        b = np.asarray(again.get(name, []), dtype=np.float64)
        assert a.shape == b.shape and np.allclose(a, b, rtol=1e-5, atol=1e-7), (
            f"history[{name!r}] differs between two runs with seed {config.seed}: {a[:4]} vs {b[:4]}"
        )


def test_command_line(answer):
    """The answer's command line, ``main(["--steps", "2", …])``, runs in its process and writes its
    grid, plot and history; the file calls it when run as a script."""
    spec = topic_spec(answer.REF.topic)
    stop_if_hung(answer)
    assert runs_main_as_a_script(answer.REF.path), (
        'the file does not end with `if __name__ == "__main__": gendojo.run_main(main)`'
    )
    out = answer.workdir / "command-line"
    args = ["--steps", "2", "--image-size", "16", "--dataset-size", "32", "--quiet", *spec.CLI_ARGS]
    with answer_code(f"main({args})", answer=answer):
        answer.main([*args, "--out", str(out)])
    missing = [name for name in spec.OUTPUTS if not (out / name).is_file()]
    assert not missing, f"the run did not write {missing} into --out"
    if getattr(spec, "QUALITY", ()):  # the GAN topics score their samples (gendojo/quality.py)
        record = json.loads((out / "history.json").read_text())
        scores = record.get("quality") or {}
        numbers = {k: v for k, v in scores.items() if isinstance(v, int | float) and np.isfinite(v)}
        absent = [k for k in spec.QUALITY if k not in numbers]
        assert not absent, (
            f"history.json has no finite quality score {absent}: pass main's score(networks), which "
            f"returns gendojo.quality.score(...), to train_and_save (found {sorted(scores)})"
        )


def test_clear_errors(answer):
    """An impossible setting stops ``main`` with a GenDojoError that says what is wrong."""
    out = str(answer.workdir / "clear-errors")
    with pytest.raises(gendojo.GenDojoError) as error, deadline(60, "main(['--image-size', '4'])"):
        answer.main(["--image-size", "4", "--steps", "1", "--quiet", "--out", out])
    assert "image" in str(error.value).lower(), f"the message does not mention the image size: {error.value}"
