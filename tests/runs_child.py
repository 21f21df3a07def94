"""The runs behind tests/test_runs.py, several in one process per framework (importing TensorFlow or
Keras takes seconds). Every task goes through an answer's real ``main`` (or, for the crash test,
the kit's real checkpoint writer in real processes) and records what it saw in a JSON file:

    python tests/runs_child.py FRAMEWORK WORKDIR RESULT_JSON TASK [TASK …]

Tasks: ``resume:<topic>`` (N steps, --resume to N + M, against one run of N + M), ``table`` (a bad
value for every setting of every topic), ``diverge``, ``device``, ``crash`` (PyTorch only: SIGKILL
at every line of a checkpoint write).
"""

import contextlib
import hashlib
import importlib.util
import io
import json
import os
import shutil
import signal
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import gendojo  # noqa: E402
from gendojo import checkpoints  # noqa: E402

TOPICS = ("ae", "convae", "vae", "gan", "dcgan", "cgan", "pix2pix", "wgan")
TINY = ["--image-size", "16", "--dataset-size", "32", "--quiet"]
N, M = 5, 3  # with batches of 8 out of 32 images, the first run ends past an epoch's end

# flag, bad value; each is tried on every answer that has the flag, after flags that would make a
# wrongly accepted value train for one tiny step instead of thousands
BAD_VALUES = [
    ("--lr", "-1"), ("--lr", "0"), ("--lr", "nan"), ("--lr", "inf"), ("--lr", "abc"),
    ("--steps", "0"), ("--steps", "-3"), ("--batch-size", "0"), ("--dataset-size", "-1"),
    ("--seed", "-1"), ("--sample-every", "-1"), ("--image-size", "0"), ("--channels", "2"),
    ("--latent-dim", "0"), ("--hidden-dim", "0"), ("--beta", "-1"), ("--beta", "nan"),
    ("--beta1", "1"), ("--beta1", "-0.5"), ("--g-width", "0"), ("--d-width", "-1"),
    ("--diversity-every", "0"), ("--n-critic", "0"), ("--clip", "0"), ("--clip", "-inf"),
    ("--l1-weight", "-1"), ("--depth", "0"), ("--num-classes", "0"), ("--class-id", "9"),
    ("--lr-decay", "1.5"), ("--lr-decay", "-0.1"),
    ("--device", "tpu"), ("--out", "{file}/inside"),
]  # fmt: skip


def load(topic, framework):
    path = ROOT / "answers" / topic / f"{topic}_{framework}.py"
    spec = importlib.util.spec_from_file_location(f"runs_child_{topic}_{framework}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def call_main(answer, argv):
    """``answer.main(argv)`` as ``gendojo.run_main`` would see it: (outcome, message, stdout)."""
    stderr, stdout = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(stdout):
            answer.main(argv)
    except gendojo.GenDojoError as error:
        return "error", str(error), stdout.getvalue()
    except gendojo.runs.Interrupted as stop:  # Ctrl-C (simulated: stopped_after): saved, then stopped
        return "stopped", str(stop), stdout.getvalue()
    except SystemExit as exit:  # argparse: a value that is not a number, a choice not offered
        return f"exit {exit.code}", stderr.getvalue().strip(), stdout.getvalue()
    except Exception as error:  # a traceback for the user: recorded, for the test to report
        return "crash", f"{type(error).__name__}: {error}", stdout.getvalue()
    return "ok", "", stdout.getvalue()


def history(out):
    return json.loads((Path(out) / "history.json").read_text())


def digests(folder):
    return {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in sorted(Path(folder).glob("*.png"))}


@contextlib.contextmanager
def stopped_after(steps):
    """Runs stop after step ``steps``, as Ctrl-C makes them (gendojo.runs.stop_on_ctrl_c)."""
    end_step = gendojo.runs.Run.end_step

    def end_step_then_stop(run, index):
        end_step(run, index)
        if run.step == steps:
            run.interrupted = True

    gendojo.runs.Run.end_step = end_step_then_stop
    try:
        yield
    finally:
        gendojo.runs.Run.end_step = end_step


def resume(framework, topic, work):
    answer = load(topic, framework)
    flags = [*TINY, "--batch-size", "8", "--sample-every", "2", "--device", "cpu"]
    if hasattr(answer.Config(), "diversity_every"):
        flags += ["--diversity-every", "2"]  # a resumed run must hold the measurement in between
    split, whole = work / f"{topic}-split", work / f"{topic}-whole"
    ctrl_c = hasattr(answer.Config(), "lr_decay")
    if ctrl_c:
        # rates that fall over the run's last steps make a run of N steps another run than the
        # first N of N + M: this one asks for N + M and is stopped after N, as by Ctrl-C
        with stopped_after(N):
            first = call_main(answer, [*flags, "--steps", str(N + M), "--out", str(split)])
    else:
        first = call_main(answer, [*flags, "--steps", str(N), "--out", str(split)])
    one = call_main(answer, [*flags, "--steps", str(N + M), "--out", str(whole)])  # another run between
    resumed = call_main(answer, [*flags, "--steps", str(N + M), "--out", str(split), "--resume"])
    record = {"outcomes": [first[:2], one[:2], resumed[:2]], "ctrl_c": ctrl_c}
    if first[0] in ("ok", "stopped") and one[0] == resumed[0] == "ok":
        record.update(
            split=history(split), whole=history(whole), latest=checkpoints.read(split)["state"]["step"],
            split_grids=digests(split / "samples"), whole_grids=digests(whole / "samples"),
        )  # fmt: skip
    if topic == "ae" and framework == "pytorch":  # what --resume refuses (the kit's), and a new lr
        go_on = [*flags, "--out", str(split), "--resume"]
        record["refused"] = {
            "empty": call_main(answer, [*flags, "--steps", "9", "--out", str(work / "none"), "--resume"])[1],
            "no more steps": call_main(answer, [*go_on, "--steps", str(N + M)])[1],
            "other batch size": call_main(answer, [*go_on, "--steps", "9", "--batch-size", "4"])[1],
            "other lr": call_main(answer, [*go_on, "--steps", "9", "--lr", "0.0005"])[2],
        }
    return record


def table(framework, work):
    blocker = work / "a-file"
    blocker.write_text("a file, so no folder can be made inside it\n")
    results = []
    for topic in TOPICS:
        answer = load(topic, framework)
        fields = {"--" + name.replace("_", "-") for name in vars(answer.Config())}
        for flag, value in BAD_VALUES:
            if flag not in fields:
                continue
            value = value.format(file=blocker)
            base = [*TINY, "--steps", "1", "--sample-every", "0", "--out", str(work / "table")]
            outcome, message, _ = call_main(answer, [*base, f"{flag}={value}"])  # = lets "-inf" be a value
            results.append(
                {"topic": topic, "flag": flag, "value": value, "outcome": outcome, "message": message}
            )
    return results


def diverge(framework, work):
    answer = load("ae", framework)
    out = work / "diverge"
    outcome, message, _ = call_main(
        answer, [*TINY, "--lr", "1e30", "--steps", "30", "--sample-every", "1", "--out", str(out)]
    )
    record = {"outcome": outcome, "message": message}
    if (out / "checkpoint").exists():
        checkpoint = checkpoints.read(out)
        networks = answer.build(answer.Config(image_size=16, device="cpu"))
        checkpoints.load_networks(networks, checkpoint)  # raises if it does not load
        record["checkpoint_step"] = checkpoint["state"]["step"]
        record["checkpoint_history"] = checkpoint["state"]["history"]["loss"]
    if (out / "history.json").exists():
        record["history"] = history(out)["history"]["loss"]
    return record


def device(framework, work):
    """What ``auto`` picks (the resume runs ran with ``--device cpu``), and ``gpu``/``cuda``: two
    steps where there is a GPU, else the one-line error."""
    answer = load("ae", framework)
    record = {"auto": {"device": str(answer.device_for(answer.Config()))}}
    for choice in ("gpu", "cuda"):
        flags = [*TINY, "--steps", "2", "--device", choice, "--out", str(work / f"device-{choice}")]
        outcome, message, _ = call_main(answer, flags)
        record[choice] = {"outcome": outcome, "message": message}
        if outcome == "ok":
            record[choice]["device"] = str(answer.device_for(answer.Config(device=choice)))
    return record


def killer(point, source):
    """A trace function that SIGKILLs this process at the ``point``-th line it runs in ``source``."""
    lines = 0

    def trace(frame, event, arg):
        nonlocal lines
        if frame.f_code.co_filename != source:
            return None
        if event == "line":
            lines += 1
            if lines == point:
                os.kill(os.getpid(), signal.SIGKILL)
        return trace

    return trace


def crash(framework, work):
    """Train 2 steps (checkpoint of step 2), then fork a process per point of writing the
    checkpoint of step 3 and SIGKILL it at that point: the k-th line run in gendojo/checkpoints.py.
    After each, the checkpoint on disk must load, and be the one of step 2 or of step 3."""
    import torch

    torch.set_num_threads(1)  # a forked process inherits no thread pool
    answer = load("ae", framework)
    out, pristine = work / "crash", work / "crash-pristine"
    outcome, message, _ = call_main(answer, [*TINY, "--steps", "2", "--sample-every", "0", "--out", str(out)])
    assert outcome == "ok", message
    config = answer.Config(image_size=16, dataset_size=32, quiet=True, steps=3, out=str(out), resume=True)
    data = gendojo.load_dataset(config)
    run = gendojo.Run(config, out, "ae", framework, checkpoints.read(out))
    networks = checkpoints.load_networks(answer.build(config), run.checkpoint)
    answer.train(config, data, networks, run=run)  # one more step, in memory only
    shutil.copytree(out / "checkpoint", pristine)

    def fresh_copy():
        shutil.rmtree(out / "checkpoint")
        shutil.copytree(pristine, out / "checkpoint")

    def check(status):
        """Whether the writer was killed, and the step of the checkpoint that loads after it."""
        killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
        try:
            loaded = checkpoints.read(out)
            fresh = answer.build(config)
            checkpoints.load_networks(fresh, loaded)
            parameters = [p for network in fresh.values() for p in network.parameters()]
            checkpoints.load_optimizers({"optimizer": torch.optim.Adam(parameters)}, loaded)
        except Exception as error:
            return {"killed": killed, "step": None, "error": f"{type(error).__name__}: {error}"}
        return {"killed": killed, "step": loaded["state"]["step"]}

    points = []
    for point in range(1, 2000):
        fresh_copy()
        pid = os.fork()
        if pid == 0:  # the process to kill
            sys.settrace(killer(point, checkpoints.__file__))
            run.save(networks)
            sys.settrace(None)
            os._exit(0)
        points.append(check(os.waitpid(pid, 0)[1]))
        if not points[-1]["killed"]:  # the write ran to its end before reaching this point
            break

    # and at moments spread over a whole write, which also land inside the files being written.
    # The writing process says through a pipe when it starts, and times its write itself: timed
    # from the parent, a write also counted the fork and the exit, and moments spread over that
    # fell after the write had ended (CI: 9 of 40 kills landed). The shortest of three writes.
    def fork_writer():
        reader, writer = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(reader)
            os.write(writer, b"start")
            started = time.perf_counter()
            run.save(networks)
            os.write(writer, f" {time.perf_counter() - started}".encode())
            os._exit(0)
        os.close(writer)
        os.read(reader, 5)  # the write has started
        return pid, reader

    durations = []
    for _ in range(3):
        fresh_copy()
        pid, reader = fork_writer()
        os.waitpid(pid, 0)
        with os.fdopen(reader) as pipe:
            durations.append(float(pipe.read()))
    timed = []
    for moment in range(40):
        fresh_copy()
        pid, reader = fork_writer()
        time.sleep(min(durations) * moment / 40)
        os.kill(pid, signal.SIGKILL)
        timed.append(check(os.waitpid(pid, 0)[1]))
        os.close(reader)
    run._saved_step = None
    run.save(networks)  # a write after all these kills clears what they left
    left = sorted(p.name for p in (out / "checkpoint").iterdir())
    return {"points": points, "timed": timed, "left": left, "seconds": durations}


def main():
    framework, work, result = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    work.mkdir(parents=True, exist_ok=True)
    os.chdir(work)  # default output folders (outputs/…) land in the work folder
    results = {"cpu_seconds": {"imports": round(time.process_time(), 2)}}
    for task in sys.argv[4:]:
        name, _, topic = task.partition(":")
        started = time.process_time()
        if name == "resume":
            results[task] = resume(framework, topic, work)
        else:
            results[task] = globals()[name](framework, work)
        results["cpu_seconds"][task] = round(time.process_time() - started, 2)
        result.write_text(json.dumps(results, default=str))


if __name__ == "__main__":
    main()
