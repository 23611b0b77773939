"""The generic runner that Triton's Python backend executes for every tritune model.

This package is copied, as the top-level package ``tritune_runner``, into each deployed
model version directory next to a small ``model.py`` entry file, so a model runs in any
Triton with a Python backend (embedded or the user's own) without tritune installed there.
It must therefore import nothing from ``tritune`` and use relative imports only.

Triton plumbing lives in ``triton_model.py``; runtimes (ONNX Runtime now, PyTorch or
OpenVINO later) register in ``runtimes/`` and never see Triton types.
"""
