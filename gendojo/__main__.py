"""GenDojo's commands: ``python -m gendojo <command> …`` (or ``gendojo <command> …`` once installed).

starter DIR [--topic T]   a student's copy of answers/ with the solutions taken out
grade DIR [--topic T] [--framework F] [--report FILE] [--json FILE] [--grading FILE]
                          grade a student's tree, each answer in its own sealed process
grade CLASS_DIR --class [--out DIR] [-j N]
                          grade every student's tree of a class, resumably, with a roster CSV
gradescope --topic T [--framework F] [--out FILE.zip] [--grading FILE]
                          a Gradescope autograder (zip) for some topics and frameworks
compare TOPIC [--frameworks F …] [--out DIR] [--answers DIR] [-- FLAGS for every answer]
                          the four answers of a topic run with one config, side by side: a table
                          (parameters, ms per step, final losses, quality), samples and loss curves
export RUN_FOLDER [--out FILE.npz]
                          a run's checkpoint as framework-neutral weights, for any answer's --init-from
notebook TOPIC FRAMEWORK [--out FILE] [--execute] [-- FLAGS for the answer]
                          an answer as a Jupyter notebook: progress bar, grids and loss plot inline
"""

import sys

from gendojo.cli import run_main

COMMANDS = {
    "starter": ("gendojo.starter", "a student's copy of answers/ with the solutions taken out"),
    "grade": ("gendojo.grade", "grade a student's tree (each answer in its own sealed process)"),
    "gradescope": ("gendojo.gradescope", "write a Gradescope autograder (zip) for some topics"),
    "compare": ("gendojo.compare", "a topic's four answers run with one config, side by side"),
    "export": ("gendojo.weights", "a run's checkpoint as one .npz any framework's --init-from reads"),
    "notebook": ("gendojo.notebook", "an answer as a Jupyter notebook that shows what it makes"),
}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        lines = [f"  {name:<10} {text}" for name, (_, text) in COMMANDS.items()]
        print("usage: python -m gendojo <command> [options]\n\ncommands:\n" + "\n".join(lines))
        if argv and argv[0] not in ("-h", "--help"):
            print(f"\nerror: unknown command {argv[0]!r}", file=sys.stderr)
            raise SystemExit(2)
        return
    module = __import__(COMMANDS[argv[0]][0], fromlist=["main"])
    run_main(lambda: module.main(argv[1:]))


if __name__ == "__main__":
    main()
