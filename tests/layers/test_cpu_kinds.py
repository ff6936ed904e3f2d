"""The convolution tests again with TensorFlow's non-oneDNN CPU kernels.

On AVX2-only CPUs (e.g. AMD EPYC) TensorFlow runs its own (Eigen) kernels,
not oneDNN's, and some behave differently: its depthwise kernel rejects
unequal row / column strides, which broke `flattened_conv(strides=2)` there.
TF_ENABLE_ONEDNN_OPTS=0 selects those kernels on any x86 CPU, so this runs
every NumPy-reference convolution test (strided depthwise, grouped, spatial
separable, flattened, TFLite conversion) the way such a machine runs them.
"""

import os
import pathlib
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[2]


def test_convolution_kinds_without_onednn():
    env = dict(os.environ, TF_ENABLE_ONEDNN_OPTS="0", TF_CPP_MIN_LOG_LEVEL="3",
               CUDA_VISIBLE_DEVICES="")
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
         str(REPO / "tests" / "layers" / "test_convolution.py")],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert " passed" in run.stdout and "failed" not in run.stdout
