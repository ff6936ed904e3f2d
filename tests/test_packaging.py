"""pyproject.toml lists every package, so a non-editable install is complete."""

import pathlib
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
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    scripts = project["project"]["scripts"]
    for name, target in scripts.items():
        module, func = target.split(":")
        path = REPO / "tools" / (module.rsplit(".", 1)[1] + ".py")
        assert path.exists(), name
        assert f"def {func}()" in path.read_text(), name


def test_import_kerascnn_loads_no_tensorflow_only_module():
    """Models and layers are backend-agnostic: `import kerascnn` must not pull in
    tf.data / TFDS / export code (those load on first use)."""
    import subprocess
    import sys

    code = (
        "import sys, kerascnn; print(sorted(m for m in sys.modules if m.startswith(("
        "'tensorflow_datasets', 'kerascnn.data', 'kerascnn.export', "
        "'kerascnn.train.train_lib'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"
