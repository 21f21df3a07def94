"""The one exception type GenDojo raises for problems a user can fix (bad flags, missing data)."""


class GenDojoError(Exception):
    """A problem with the user's input or environment, explained in plain words.

    The command line prints its message without a traceback (see ``gendojo.cli.run_main``).
    """
