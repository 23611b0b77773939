"""Everything that talks to, or lays out files for, the Triton Inference Server."""

from tritune.triton.control import ModelControl
from tritune.triton.server import EmbeddedTriton, Endpoints, RemoteTriton, TritonServer

__all__ = ["EmbeddedTriton", "Endpoints", "ModelControl", "RemoteTriton", "TritonServer"]
