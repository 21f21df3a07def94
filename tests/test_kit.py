"""The rest of the shared kit: command line, outputs, checkpoints and parameter counts, and the
Chainer compatibility module."""

import dataclasses
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from harness import ROOT, load_local, reference

import gendojo
from gendojo import cli


@dataclasses.dataclass
class Config:
    image_size: int = 32
    lr: float = 1e-3
    dataset: str = "shapes"
    quiet: bool = False
    device: str = "auto"
    betas: tuple = (0.5, 0.999)


def test_every_config_field_is_a_flag():
    config = cli.parse_args(Config, ["--image-size", "64", "--lr", "0.5", "--quiet", "--betas", "0.1", "0.2"])
    assert config == Config(image_size=64, lr=0.5, quiet=True, betas=(0.1, 0.2))
    assert cli.parse_args(Config, []) == Config()
    with pytest.raises(SystemExit):
        cli.parse_args(Config, ["--device", "tpu"])
    with pytest.raises(SystemExit):
        cli.parse_args(Config, ["--no-such-flag"])


def test_inside_jupyter_the_kernels_arguments_are_ignored(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["ipykernel_launcher.py", "-f", "/tmp/kernel-1.json"])
    monkeypatch.setitem(sys.modules, "ipykernel", object())
    assert cli.parse_args(Config) == Config()


@dataclasses.dataclass
class TwoDefaults:
    dataset: str = "simple-shapes"
    steps: int = dataclasses.field(default=3000, metadata={"real_images": 2250})
    n_critic: int = dataclasses.field(default=2, metadata={"real_images": 3})


def test_a_second_default_for_real_images_applies_unless_the_flag_is_given(capsys):
    parse = lambda *flags: cli.parse_args(TwoDefaults, list(flags))  # noqa: E731
    assert parse() == TwoDefaults()
    assert parse("--dataset", "shapes") == TwoDefaults("shapes")
    for dataset in ("digits", "folder", "mnist"):
        assert parse("--dataset", dataset) == TwoDefaults(dataset, 2250, 3)
    assert parse("--dataset", "digits", "--n-critic", "2") == TwoDefaults("digits", 2250, 2)
    assert parse("--dataset=digits", "--steps=3000") == TwoDefaults("digits", 3000, 3)
    assert parse("--n-critic", "5") == TwoDefaults(n_critic=5)
    with pytest.raises(SystemExit):
        parse("--help")
    assert "(default: 2; 3 on real images, not shapes)" in " ".join(capsys.readouterr().out.split())


def test_progress_shows_latest_losses_and_yields_every_step():
    history = {"loss": []}
    steps = []
    for step in cli.progress(5, history, quiet=True):
        steps.append(step)
        history["loss"].append(1.0 / (step + 1))
    assert steps == [0, 1, 2, 3, 4] and len(history["loss"]) == 5


def test_user_errors_print_one_line_and_exit_2():
    script = "import gendojo\ndef main():\n    raise gendojo.GenDojoError('no such folder: x')\ngendojo.run_main(main)\n"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip() == "error: no such folder: x"


def test_grid_plot_and_history(tmp_path):
    rows = [np.full((3, 16, 16, 1), -1, np.float32), np.full((3, 16, 16, 1), 1, np.float32)]
    grid = gendojo.make_grid(rows, scale=1)
    assert grid.shape == (2 * 17 + 1, 3 * 17 + 1, 3) and grid[1, 1].tolist() == [0, 0, 0]
    assert grid[18, 1].tolist() == [255, 255, 255]
    square = gendojo.make_grid(np.zeros((10, 8, 8, 3), np.float32), scale=1)
    assert square.shape == (3 * 9 + 1, 4 * 9 + 1, 3)  # 10 images: 4 columns, 3 rows
    assert gendojo.save_grid(rows, tmp_path / "g.png").stat().st_size > 0
    history = {"d_loss": list(np.linspace(1, 0, 50)), "g_loss": list(np.linspace(0, 1, 50))}
    assert gendojo.save_loss_plot(history, tmp_path / "l.png").stat().st_size > 1000
    gendojo.save_history(history, tmp_path / "h.json", Config(), topic="gan", seconds=np.float32(1.5))
    record = json.loads((tmp_path / "h.json").read_text())
    assert record["config"]["betas"] == [0.5, 0.999] and record["topic"] == "gan"
    assert record["history"]["d_loss"][0] == 1.0 and record["seconds"] == 1.5


@pytest.mark.parametrize("framework", gendojo.FRAMEWORKS)
def test_checkpoint_round_trip_and_parameter_count(framework, tmp_path):
    answer = load_local(reference("ae", framework))
    config = dataclasses.replace(answer.Config(), image_size=16, channels=1, latent_dim=4)
    networks = answer.build(config)
    assert gendojo.count_parameters(networks["encoder"]) == 16 * 16 * 4 + 4
    images = np.random.default_rng(0).uniform(-1, 1, (2, 16, 16, 1)).astype(np.float32)
    before = answer.reconstruct(networks, images)
    gendojo.save_checkpoint(networks, tmp_path)
    fresh = answer.build(dataclasses.replace(config, seed=1))
    assert not np.allclose(answer.reconstruct(fresh, images), before)
    gendojo.load_checkpoint(fresh, tmp_path)
    assert np.allclose(answer.reconstruct(fresh, images), before, atol=1e-6)
    wrong = answer.build(dataclasses.replace(config, latent_dim=5))
    with pytest.raises(gendojo.GenDojoError, match="does not fit"):
        gendojo.load_checkpoint(wrong, tmp_path)
    with pytest.raises(gendojo.GenDojoError, match="no checkpoint"):
        gendojo.load_checkpoint(networks, tmp_path / "empty")


def test_chainer_compat_is_needed_and_enough():
    """Under NumPy 2, Chainer 7.8.1 fails to import alone and imports with gendojo.chainer_compat."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    bare = subprocess.run([sys.executable, "-c", "import chainer"], capture_output=True, text=True, env=env)
    if np.lib.NumpyVersion(np.__version__) >= "2.0.0":
        assert bare.returncode != 0 and "sctypes" in bare.stderr
    code = (
        "from gendojo.chainer_compat import import_chainer\n"
        "import numpy as np\n"
        "chainer = import_chainer()\n"
        "F = chainer.functions\n"
        "x = np.arange(6, dtype=np.float32)\n"
        "assert F.as_strided(x, (2, 3), (3, 1)).shape == (2, 3)\n"  # the module that reads np.sctypes
        "assert sorted(np.sctypes) == ['complex', 'float', 'int', 'others', 'uint']\n"
        "print(chainer.__version__)\n"
    )
    fixed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT)
    assert fixed.returncode == 0, fixed.stderr[-2000:]
    assert fixed.stdout.strip() == "7.8.1"


def check_training_mode(differences, backend):
    """gendojo.keras_tools.TrainingMode gives the eager training-mode call's numbers, compiled."""
    # BatchNorm: batch statistics, and the same output and moving averages as the eager call
    assert differences["batchnorm_output_vs_eager"] == 0.0, differences
    assert differences["batchnorm_moving_vs_eager"] == 0.0, differences
    assert differences["batchnorm_moving_moved"] > 1e-3, f"the moving statistics did not move: {differences}"
    assert differences["batchnorm_vs_inference"] > 1e-3, f"this is inference mode: {differences}"
    # dropout on, with a fresh mask each call (on TensorFlow the eager call's very masks)
    assert differences["dropout_between_calls"] > 1e-3, f"the same dropout mask twice: {differences}"
    assert differences["dropout_moving_vs_eager"] == 0.0, differences
    if backend == "tensorflow":
        assert differences["dropout_output_vs_eager"] == 0.0, differences


def test_keras_training_mode_is_the_eager_call_compiled():
    import keras
    from keras_checks import training_mode_differences

    check_training_mode(training_mode_differences(), keras.backend.backend())


def test_tensorflow_optimizers_with_a_variable_or_a_number_as_learning_rate(tmp_path):
    """gendojo.tf_core keeps its learning rate in a tf.Variable (a loop may change it between
    steps); a student's own tf.Module optimizer may hold a Python number. The checkpoint writer and
    the grader's learning-rate-0 probe work with both, and the probe's 0 stays when the answer's
    loop sets a rate again."""
    tf = pytest.importorskip("tensorflow")
    from gendojo import checkpoints, sandbox_worker, tf_core

    class Plain(tf.Module):
        def __init__(self, variable):
            super().__init__()
            self.var_list, self.learning_rate = [variable], 0.1
            self.iterations = tf.Variable(0.0)

    weights = tf.Variable([1.0])
    plain, adam = Plain(weights), tf_core.Adam([weights], learning_rate=0.1)
    for name, optimizer in (("plain", plain), ("adam", adam)):
        checkpoints.save_optimizer(optimizer, tmp_path / name)
        checkpoints.load_optimizer(optimizer, tmp_path / name)
        sandbox_worker._zero_learning_rate(optimizer)
    assert plain.learning_rate == 0.0
    adam.learning_rate.assign(0.5)  # what the DCGAN's loop does at every step
    assert float(adam.learning_rate.numpy()) == 0.0
