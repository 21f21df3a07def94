"""Run by test_keras_backends.py in a fresh process with KERAS_BACKEND set: import each Keras
answer given on the command line, train it for 3 tiny steps, and print one JSON line per answer."""

import json
import sys

import keras
from harness import AnswerRef, load, tiny_config, tiny_data

for argument in sys.argv[1:]:
    topic, path = argument.split("=", 1)
    result = {"topic": topic, "backend": keras.backend.backend()}
    try:
        answer = load(AnswerRef(topic, "keras", __import__("pathlib").Path(path)))
        config = tiny_config(answer, topic, steps=3)
        networks, history = answer.train(config, tiny_data(config))
        result["history"] = {k: [float(v) for v in values] for k, values in history.items()}
    except BaseException as error:  # reported, not raised: one answer must not hide the others
        result["error"] = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
    print("RESULT " + json.dumps(result), flush=True)

# gendojo/keras_tools.py's compiled training-mode pass, on this backend too (test_kit.py checks it)
result = {"topic": "keras_tools", "backend": keras.backend.backend()}
try:
    from keras_checks import training_mode_differences

    result["training_mode"] = training_mode_differences()
except BaseException as error:
    result["error"] = f"{type(error).__name__}: {error}"
print("RESULT " + json.dumps(result), flush=True)
