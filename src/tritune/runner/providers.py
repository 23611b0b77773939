"""ONNX Runtime's execution-provider names, defined once for the runner and for tritune.

The runner travels into the server alone and imports nothing from tritune, so it holds the one
definition; ``tritune.domain.devices`` re-exports it for the rest of tritune.
"""

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
TENSORRT = "TensorrtExecutionProvider"
# Providers that only run on a GPU.
GPU_PROVIDERS = (CUDA, TENSORRT)
