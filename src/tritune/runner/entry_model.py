# Deployed as <model>/<version>/model.py by tritune: Triton's Python backend loads this file.
# The runner package sits beside it as ``tritune_runner`` so no tritune install is needed
# inside the server's environment.
import os
import site
import sys

# The backend stub embeds its interpreter without honouring PYTHONPATH, so the paths the
# launcher passes (the venv with numpy and onnxruntime) are added here, .pth files included,
# and put in front of site-packages as the interpreter would: tritune's process imports them
# first, so the stub must too (an onnxruntime-gpu installed on PYTHONPATH must win over the
# CPU onnxruntime of the venv the stub found).
_given = [e for e in os.environ.get("PYTHONPATH", "").split(os.pathsep) if e and os.path.isdir(e)]
_known = set(sys.path)
for _entry in _given:
    site.addsitedir(_entry)
_front = _given + [p for p in sys.path if p not in _known and p not in _given]
sys.path[:] = [os.path.dirname(os.path.abspath(__file__)), *_front, *(p for p in sys.path if p not in _front)]

from tritune_runner.triton_model import TritonPythonModel  # noqa: E402,F401
