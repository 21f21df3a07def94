"""The grader cannot be fooled: one example of each way to pass without learning, and of each real
mistake that used to pass, must fail the check that guards against it, with a fitting reason.

Each example is the reference PyTorch answer with a small edit (a real mistake), or a file that
tries to cheat. It runs through the grader's own machinery (a sealed process, the checks of
``test_learning.py`` and ``test_answers.py``), so a check that stops catching its example fails
here.
"""

import json
import os
import socket
import subprocess
import sys
import threading
import time

import pytest
import test_answers as answers
import test_learning as learning
from harness import REFERENCE, AnswerProblem, AnswerRef, load, release

from gendojo import sandbox
from gendojo.starter import strip_solutions


def edited(topic, *edits, framework="pytorch"):
    source = (REFERENCE / topic / f"{topic}_{framework}.py").read_text()
    for old, new in edits:
        assert source.count(old) == 1, f"the reference {topic}_{framework}.py changed: update {old!r}"
        source = source.replace(old, new)
    return source


FABRICATED = (
    "    networks = networks or build(config)\n",
    "    networks = networks or build(config)\n"
    "    history = {'loss': list(np.linspace(0.3, 0.05, config.steps))}\n"
    "    return networks, history  # nothing trained: a made-up, falling history\n",
)
# D's update over G's variables too, in TensorFlow: one variable list for D's tape and optimizer
D_MOVES_G = [
    (
        "        with tf.GradientTape() as d_tape:\n"
        "            d_loss = discriminator_loss(\n"
        "                discriminator(images, training=True),\n"
        "                discriminator(tf.stop_gradient(fakes), training=True),\n"
        "            )\n"
        "        gradients = d_tape.gradient(d_loss, discriminator.trainable_variables)\n"
        '        optimizers["discriminator"].apply_gradients(\n'
        "            zip(gradients, discriminator.trainable_variables, strict=True)\n"
        "        )\n",
        "        both = discriminator.trainable_variables + generator.trainable_variables\n"
        "        with tf.GradientTape() as d_tape:\n"
        "            fakes = generator(latents)\n"
        "            d_loss = discriminator_loss(\n"
        "                discriminator(images, training=True), discriminator(fakes, training=True)\n"
        "            )\n"
        "        gradients = d_tape.gradient(d_loss, both)\n"
        '        optimizers["discriminator"].apply_gradients(zip(gradients, both, strict=True))\n',
    ),
    (
        "    run = gendojo.Run.of(run, config)",
        '    optimizers["discriminator"] = tf_core.Adam(\n'
        '        networks["discriminator"].trainable_variables + networks["generator"].trainable_variables,\n'
        "        learning_rate=config.lr, beta_1=config.beta1,\n"
        "    )\n"
        "    run = gendojo.Run.of(run, config)",
    ),
]
# mistake → (topic, edits, the check that must catch it, words its reason must contain[, framework])
MISTAKES = {
    "a fabricated history (train returns untrained networks)": (
        "ae", [FABRICATED], learning.test_learns_on_unseen_images, "did not improve",
    ),
    "a pix2pix train that returns untrained networks": (
        "pix2pix", [FABRICATED], learning.test_learns_on_unseen_images, "did not improve",
    ),
    "reconstruct returns its input": (
        "ae",
        [("    y = decoder(encoder(x)).clamp(-1, 1)\n", "    y = x\n")],
        learning.test_learns_on_unseen_images, "returns its input unchanged",
    ),
    "a DCGAN generator that ignores its noise": (
        "dcgan",
        [("        return self.layers(z)\n", "        return self.layers(0 * z)\n")],
        learning.test_samples_in_range_and_driven_by_noise, "ignores its noise",
    ),
    "a GAN generator without its output tanh": (
        "gan", [("            nn.Tanh(),  # images live in [-1, 1]\n", "")],
        learning.test_samples_in_range_and_driven_by_noise, "needs a tanh",
    ),
    "a VAE whose KL is logged but not optimised": (
        "vae",
        [("loss = reconstruction + beta * kl", "loss = reconstruction")],
        learning.test_vae_kl_is_optimised, "not only of the history",
    ),
    "a VAE that decodes the mean while training": (
        "vae",
        [("return self.decoder(reparameterize(mean, log_variance)), mean, log_variance",
          "return self.decoder(mean), mean, log_variance")],
        learning.test_vae_decoder_sees_samples, "or the mean",
    ),
    "a generator that hands back training images": (
        "gan",
        [("    networks = networks or build(config)\n",
          "    networks = networks or build(config)\n    globals()['STORE'] = data.images\n"),
         ('    """(N, latent_dim) noise → N images, NHWC float32 in [-1, 1]."""\n',
          '    """(N, latent_dim) noise → N images, NHWC float32 in [-1, 1]."""\n'
          "    if 'STORE' in globals():\n"
          "        return STORE[np.arange(len(latents)) % len(STORE)]  # noqa: F821\n")],
        learning.test_samples_are_not_copies, "copies of training images",
    ),
    "a D update that also moves G (TensorFlow)": (
        "gan", D_MOVES_G, learning.test_d_update_leaves_g_alone, "update reaches G", "tensorflow",
    ),
}  # fmt: skip


def grade_one(tmp_path, topic, source, check, framework="pytorch"):
    path = tmp_path / topic / f"{topic}_{framework}.py"
    path.parent.mkdir(parents=True)
    path.write_text(source)
    ref = AnswerRef(topic, framework, path)
    answer = load(ref)
    answer.REF = ref
    try:
        check(answer)
    finally:
        release(ref)


@pytest.mark.e2e  # a sealed answer process and a tiny training run each: CI's e2e step
@pytest.mark.parametrize("mistake", list(MISTAKES))
def test_mistake_is_caught(mistake, tmp_path):
    topic, edits, check, words, *framework = MISTAKES[mistake]
    source = edited(topic, *edits, framework=framework[0] if framework else "pytorch")
    with pytest.raises((AssertionError, AnswerProblem)) as failure:
        grade_one(tmp_path, topic, source, check, *framework)
    assert words in str(failure.value), f"{mistake}: caught for another reason: {failure.value}"


def test_a_fabricated_history_still_passes_the_history_check(tmp_path):
    """The history check reads the answer's own claim, which is why it is information (0 points)
    and the grader measures learning itself: the fabricated history passes it."""
    grade_one(tmp_path, "ae", edited("ae", FABRICATED), answers.test_loss_falls)


# --- files that attack the grader -----------------------------------------------------------------

ATTACK = """
import os as _os, socket as _socket, sys as _sys
from pathlib import Path as _Path
import gendojo as _gendojo

# 1. find the instructor's answer and run it instead of this starter
_reference = _Path(_gendojo.__file__).parent.parent / "answers" / "ae" / "ae_pytorch.py"
SAW_REFERENCE = _reference.is_file()
if SAW_REFERENCE:
    exec(compile(_reference.read_text(), str(_reference), "exec"))
# 2. turn the grader's checks into no-ops, wherever they are
SAW_HARNESS = False
for _module in list(_sys.modules.values()) + [None]:
    if _module is not None and hasattr(_module, "check_falls"):
        SAW_HARNESS = True
        _module.check_falls = lambda *a, **k: None
# 3. phone home
try:
    _socket.create_connection(("127.0.0.1", int(PORT)), timeout=2).close()
    NETWORK = True
except OSError:
    NETWORK = False
# 4. rewrite the grade report, now, at exit, and later from a process of its own
def _rewrite():
    for _pid in ("self", str(_os.getppid())):
        try:
            _words = _Path(f"/proc/{_pid}/cmdline").read_bytes().split(b"\\0")
        except OSError:
            continue
        for _word in _words:
            if _word.endswith((b".md", b".json")):
                try:
                    _Path(_word.decode()).write_text("all checks passed")
                except OSError:
                    pass
_rewrite()
import atexit as _atexit
_atexit.register(_rewrite)
if _os.fork() == 0:
    _os.setsid()
    if _os.fork() == 0:
        import time as _time
        _time.sleep(4)
        _rewrite()
    _os._exit(0)
"""


def attacking_starter(port):
    source = strip_solutions((REFERENCE / "ae" / "ae_pytorch.py").read_text(), "ae")
    return source + ATTACK.replace("int(PORT)", str(port))


@pytest.fixture
def listener():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.5)
    calls, stop = [], threading.Event()

    def accept():
        while not stop.is_set():
            try:
                calls.append(server.accept())
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1], calls
    stop.set()
    thread.join()
    server.close()


@pytest.mark.e2e
def test_an_attacking_file_gets_nothing(tmp_path, listener):
    """A starter file that looks for the instructor's answer, patches the grader's checks, phones
    home and rewrites the reports is graded as the unfinished starter it is."""
    port, calls = listener
    answers, report, results = tmp_path / "answers", tmp_path / "report.md", tmp_path / "results.json"
    (answers / "ae").mkdir(parents=True)
    (answers / "ae" / "ae_pytorch.py").write_text(attacking_starter(port))
    command = [
        sys.executable, "-m", "gendojo", "grade", str(answers), "--framework", "pytorch",
        "--report", str(report), "--json", str(results), "--time-limit", "60",
    ]  # fmt: skip
    run = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path,
                         env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})  # fmt: skip
    assert run.returncode == 1, f"grading should report failures: {run.returncode}\n{run.stdout[-2000:]}"
    time.sleep(5)  # the attack's own process writes 4 s after the import
    assert report.read_text().startswith("# GenDojo grade report"), "the report was rewritten"
    rows = {row["check"]: row for row in json.loads(results.read_text())}
    learned = rows["learns_on_unseen_images"]
    assert learned["outcome"] == "failed" and "not implemented yet" in learned["reason"], learned
    protections = sandbox.protections()
    if protections["namespaces"]:
        assert not calls, "the answer's process reached the network"
        ref = AnswerRef("ae", "pytorch", answers / "ae" / "ae_pytorch.py")
        answer = load(ref)
        try:
            assert answer.SAW_REFERENCE is False, "the answer's process could read the instructor's answers"
            assert answer.NETWORK is False
        finally:
            release(ref)
    else:
        pytest.skip(f"network and folder isolation not available here: {protections['why']}")


def test_protections_are_named_in_the_report():
    text = sandbox.describe_protections()
    assert "own process per answer" in text and "one thread per framework" in text
    if sandbox.protections()["user"]:
        assert "unprivileged user id" in text and "no network" in text


def test_answer_processes_use_one_thread_whatever_the_grader_uses(monkeypatch):
    """The same tree gets the same numbers in one process with two threads and under -n 2 with
    one (issue 16): the answer's process always computes with one thread."""
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    ref = AnswerRef("ae", "pytorch", REFERENCE / "ae" / "ae_pytorch.py")
    answer = load(ref)
    try:
        assert answer.kit.threads() == {"OMP_NUM_THREADS": "1", "torch": 1}
    finally:
        release(ref)


def test_grading_works_where_the_os_allows_no_isolation(monkeypatch):
    """Without root or namespaces the answer still runs in its own limited process, and the report
    says which protections were missing."""
    monkeypatch.setenv("GENDOJO_SANDBOX", "off")
    sandbox.protections.cache_clear()
    ref = AnswerRef("ae", "pytorch", REFERENCE / "ae" / "ae_pytorch.py")
    try:
        assert "(no network or user isolation: GENDOJO_SANDBOX=off)" in sandbox.describe_protections()
        answer = load(ref)
        assert answer.Config().latent_dim > 0 and answer.kit.threads()["OMP_NUM_THREADS"] == "1"
    finally:
        release(ref)
        monkeypatch.delenv("GENDOJO_SANDBOX")
        sandbox.protections.cache_clear()
