"""pyproject.toml lists every package, so a non-editable install is complete."""

import pathlib
import re
import tomllib

REPO = pathlib.Path(__file__).resolve().parents[1]


def test_every_package_is_listed():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    listed = set(project["tool"]["setuptools"]["packages"])
    found = {
        ".".join(p.parent.relative_to(REPO).parts)
        for p in (REPO / "kerascnn").rglob("__init__.py")
    }
    assert found - listed == set(), "add these to [tool.setuptools] packages"
    assert "kerascnn.tools" in listed
    assert project["tool"]["setuptools"]["package-dir"]["kerascnn.tools"] == "tools"


def test_console_scripts_point_at_tools():
    """Each kerascnn-X script is kerascnn_cli.X, which runs tools/X.py's run()
    after quieting TensorFlow's start-up; kerascnn_cli is installed as a module."""
    import kerascnn_cli

    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "kerascnn_cli" in project["tool"]["setuptools"]["py-modules"]
    scripts = project["project"]["scripts"]
    assert set(scripts) == {f"kerascnn-{tool}" for tool in kerascnn_cli.TOOLS}
    for name, target in scripts.items():
        module, func = target.split(":")
        assert module == "kerascnn_cli" and callable(getattr(kerascnn_cli, func)), name
        path = REPO / "tools" / (func + ".py")
        assert path.exists(), name
        assert "def run()" in path.read_text(), name


def test_import_kerascnn_loads_no_tensorflow_only_module():
    """Models and layers are backend-agnostic: `import kerascnn` must not pull in
    tf.data / augmentation / TFDS / export code (those load on first use).
    tests/no_tensorflow/ checks, in an environment without TensorFlow, that it imports
    no TensorFlow at all."""
    import subprocess
    import sys

    code = (
        "import sys, kerascnn; print(sorted(m for m in sys.modules if m.startswith(("
        "'tensorflow_datasets', 'kerascnn.data', 'kerascnn.export', 'kerascnn.evaluate', "
        "'kerascnn.train.train_lib', 'kerascnn.augment.'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    # The policy layers' module is TensorFlow-free; it registers them for .keras files.
    assert out.stdout.strip().splitlines()[-1] == "['kerascnn.augment.layers']"


def requirement(spec_list, name):
    """The requirement string for `name` in a list of requirement strings."""
    found = [s for s in spec_list if re.match(rf"{re.escape(name)}\s*[<>=!~;\[]", s + ";")]
    assert len(found) == 1, (name, spec_list)
    return found[0]


def test_keras_and_tensorflow_are_pinned_to_the_tested_range():
    """Private Keras internals (kerascnn/_compat.py) hold only for the versions the
    suite has passed on: both bounds are there, and the TensorFlow-free test
    environment (tests/no_tensorflow/requirements.txt) pins Keras the same way."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    deps = project["project"]["dependencies"]
    for name in ("keras", "tensorflow"):
        spec = requirement(deps, name)
        assert ">=" in spec and "<" in spec.replace("<=", ""), spec
    jax_reqs = [line.strip() for line in (REPO / "tests" / "no_tensorflow" / "requirements.txt")
                .read_text().splitlines() if line.strip() and not line.startswith("#")]
    assert requirement(jax_reqs, "keras") == requirement(deps, "keras")
    assert not any(line.startswith(("tensorflow", "tf-")) for line in jax_reqs)


def test_installed_versions_are_in_the_pinned_range():
    from importlib import metadata

    from packaging.requirements import Requirement

    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    for name in ("keras", "tensorflow"):
        req = Requirement(requirement(project["project"]["dependencies"], name))
        assert req.specifier.contains(metadata.version(name)), (name, metadata.version(name))
