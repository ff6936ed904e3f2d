"""The front door of every kerascnn tool: `tools/*.py` and the `kerascnn-*` console scripts.

    kerascnn-train --help              # the tool's docstring and its flags
    kerascnn-train --config=configs/resnet20_digits.py --show_config
    kerascnn-train ... --traceback     # a failure's full traceback (or KERASCNN_TRACEBACK=1)

What `run` adds to `absl.app.run`:

- `--help` (`-h`, `--helpshort`) prints the tool's docstring and its own
  flags, however the tool was started (absl lists only the flags of the
  `__main__` module, which for a console script is pip's wrapper).
- A user error (a bad flag or config value, a misspelt config key, missing
  data, a run folder of another config) prints one `error:` message naming
  the value and what is allowed (for a misspelt key, the closest one), with
  exit status 2 and no traceback; `--traceback` or `KERASCNN_TRACEBACK=1`
  shows the full trace.
- An error that carries an `exit_status` (a run stopped by a non-finite
  loss, status 3; too little disk space or an unwritable workdir, status 2:
  kerascnn.train.fault_tolerance) is printed the same way, with its status.
- TensorFlow's start-up lines on a CPU-only machine (CUDA probing, oneDNN
  and CPU-feature notes, which TF's C++ code writes to stderr before
  `TF_CPP_MIN_LOG_LEVEL` applies) are filtered out; any other line TF writes
  while loading is passed through. Setting `TF_CPP_MIN_LOG_LEVEL` yourself
  turns the filter off and keeps TF's own levels.

This module is outside the `kerascnn` package on purpose: importing any
`kerascnn.*` module imports Keras, and with it TensorFlow, before a tool
could quiet it.
"""

import contextlib
import importlib
import importlib.util
import os
import re
import sys
import tempfile

# The tools with a console script kerascnn-<name>: tools/<name>.py, installed as
# kerascnn.tools.<name>.
TOOLS = ("train", "evaluate", "export", "costs")
EXIT_USER_ERROR = 2
TRACEBACK_ENV = "KERASCNN_TRACEBACK"
# Set beside TF_CPP_MIN_LOG_LEVEL when quiet_tensorflow set the level itself, so
# that a process a tool starts (tools/benchmark.py's memory probes) filters too.
QUIETED_ENV = "KERASCNN_QUIETED_TF"
HELP_ARGS = ("--help", "-help", "-h", "--helpshort", "-helpshort", "-?")
# TF start-up lines that say nothing to a CPU user (tests/tools/test_front_door.py).
NOISE = re.compile(
    r"cuda|cuInit|cudart|cuDNN|cuFFT|cuBLAS|TensorRT|GPU will not be used"
    r"|All log messages before absl::InitializeLog"
    r"|oneDNN custom operations are on|TF_ENABLE_ONEDNN_OPTS"
    r"|cpu_feature_guard|This TensorFlow binary is optimized"
    r"|To enable the following instructions|rebuild TensorFlow with the appropriate compiler"
    # The TFLite converter's quantizer and LiteRT's interpreter (kerascnn.export):
    r"|fully_quantize: \d|Created TensorFlow Lite XNNPACK delegate",
    re.IGNORECASE,
)


class UserError(Exception):
    """An error in what the user asked for; printed in one line, exit status 2."""


def user_errors():
    """The exception types a tool reports as a user error (no traceback)."""
    from absl import app, flags

    return (UserError, ValueError, FileNotFoundError, FileExistsError, NotADirectoryError,
            IsADirectoryError, app.UsageError, flags.Error)


def quiet_tensorflow():
    """Imports TensorFlow and Keras with TF's CPU start-up chatter filtered out.

    Does nothing if TensorFlow is loaded already, not installed, or not
    the Keras backend (KERAS_BACKEND). With `TF_CPP_MIN_LOG_LEVEL`
    unset (or set by a parent process's call), sets it to 3 (TF's C++ errors
    are raised as Python exceptions anyway) and filters stderr while
    TensorFlow loads and looks for devices; a level the user set is left alone.
    """
    if "tensorflow" in sys.modules or importlib.util.find_spec("tensorflow") is None:
        return
    if os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow":
        return  # Keras will not load TensorFlow
    level = os.environ.get("TF_CPP_MIN_LOG_LEVEL")
    if level is not None and level != os.environ.get(QUIETED_ENV):
        importlib.import_module("tensorflow")
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = os.environ[QUIETED_ENV] = "3"
    with filtered_stderr():
        tf = importlib.import_module("tensorflow")
        importlib.import_module("keras")
        tf.config.list_physical_devices()  # CUDA is probed here (cuInit)


@contextlib.contextmanager
def filtered_stderr():
    """Everything written to file descriptor 2 inside the block (C++ code
    included), less the `NOISE` lines, printed to stderr when it ends."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            text = captured.read().decode("utf-8", "replace")
            kept = [line for line in text.splitlines() if line.strip() and not NOISE.search(line)]
            if kept:
                print("\n".join(kept), file=sys.stderr)


def _wants_traceback(argv):
    return ("--traceback" in argv or "-traceback" in argv
            or os.environ.get(TRACEBACK_ENV, "") not in ("", "0"))


def _tool_module_name(module):
    # absl files the flags of the __main__ module under sys.argv[0].
    return sys.argv[0] if module.__name__ == "__main__" else module.__name__


def help_text(module):
    """The tool's docstring, then its flags with their defaults."""
    from absl import flags

    doc = (module.__doc__ or "").strip()
    own = flags.FLAGS.module_help(_tool_module_name(module)).strip("\n").splitlines()
    if own and own[0].rstrip().endswith(":"):  # absl's "<module name>:" header
        own = own[1:]
    lines = [doc, "", "Flags:", *own, "",
             "  --traceback: show the full traceback of a failure (or set "
             f"{TRACEBACK_ENV}=1).",
             "  --helpfull: every flag, absl's included."]
    return "\n".join(lines) + "\n"


def _parser(module):
    def parse(argv):
        from absl import flags

        if any(arg in HELP_ARGS for arg in argv[1:]):
            sys.stdout.write(help_text(module))
            sys.exit(0)
        quiet_tensorflow()
        argv = [a for a in argv if a not in ("--traceback", "-traceback")]
        if _wants_traceback(sys.argv):
            return flags.FLAGS(argv)
        try:
            return flags.FLAGS(argv)
        except Exception as err:  # noqa: BLE001  (any parse failure is the user's input)
            _fail(_flag_error_message(argv, err))

    return parse


def _fail(message, status=EXIT_USER_ERROR):
    name = os.path.basename(sys.argv[0])
    print(f"{name}: error: {message}", file=sys.stderr)
    if not _wants_traceback(sys.argv):
        print(f"{name}: (rerun with --traceback for the full trace)", file=sys.stderr)
    sys.exit(status)


def _flag_error_message(argv, err):
    """One line for a failed flag parse: the misspelt config key and the closest
    one, else the innermost message."""
    message = _config_override_message(argv)
    if message:
        return message
    while err.__cause__ is not None or err.__context__ is not None:
        err = err.__cause__ or err.__context__
    text = " ".join(str(err).split())
    return text.strip("'\"") or type(err).__name__


def _config_override_message(argv):
    """For `--config.a.b=v` overrides: the first whose key the config lacks."""
    config_path = next((a.split("=", 1)[1] for a in argv if a.startswith("--config=")), None)
    overrides = [a[2:].split("=", 1)[0] for a in argv if a.startswith("--config.")]
    if not config_path or not overrides:
        return None
    try:
        spec = importlib.util.spec_from_file_location("_kerascnn_config", config_path)
        config_module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(config_module)
        config = config_module.get_config().to_dict()
    except Exception:  # noqa: BLE001  (the config file's own error is reported instead)
        return None
    from kerascnn import _checks as checks  # loaded with the config file's kerascnn import

    for override in overrides:
        node, walked = config, "config"
        for part in override.split(".")[1:]:
            if not isinstance(node, dict):
                break
            if part not in node:
                hint = checks.did_you_mean(part, node, f"{walked}.")
                return (f"--{override}: {walked} has no key {part!r}{hint}; "
                        f"{walked} has {sorted(node)}. "
                        "See every key: --show_config.")
            node, walked = node[part], f"{walked}.{part}"
    return None


def run(main, module):
    """`absl.app.run(main)` with the front door's help, errors and quiet start.

    Args:
        main: the tool's `main(argv)`.
        module: the tool's module (for its docstring and flags).
    """
    from absl import app, logging

    def guarded(argv):
        logging.set_verbosity(logging.ERROR)  # TF's INFO and WARNING lines would bury the results
        if _wants_traceback(sys.argv):
            return main(argv)
        try:
            return main(argv)
        except Exception as err:  # noqa: BLE001  (re-raised unless reported below)
            status = getattr(err, "exit_status", None)
            if not isinstance(err, user_errors()) and not isinstance(status, int):
                raise
            message = " ".join(str(err).split()) if str(err).count("\n") < 2 else str(err)
            _fail(message, status if isinstance(status, int) else EXIT_USER_ERROR)

    app.run(guarded, flags_parser=_parser(module))


def _console_script(tool):
    def entry():
        quiet_tensorflow()  # before kerascnn.tools.* imports Keras, and with it TensorFlow
        importlib.import_module(f"kerascnn.tools.{tool}").run()

    entry.__name__ = tool
    entry.__doc__ = f"The kerascnn-{tool} console script (tools/{tool}.py)."
    return entry


train = _console_script("train")
evaluate = _console_script("evaluate")
export = _console_script("export")
costs = _console_script("costs")
