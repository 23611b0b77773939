# Deployed as <model>/<version>/model.py by tritune: Triton's Python backend loads this file.
# The runner package sits beside it as ``tritune_runner`` so no tritune install is needed
# inside the server's environment.
import os
import site
import sys

# The backend stub embeds its interpreter without honouring PYTHONPATH, so the paths the
# launcher passes (the venv with numpy and onnxruntime) are added here, .pth files included.
for _entry in filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep)):
    if _entry not in sys.path and os.path.isdir(_entry):
        site.addsitedir(_entry)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from tritune_runner.triton_model import TritonPythonModel  # noqa: E402,F401
