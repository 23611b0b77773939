"""Model names: the one rule by which every command names a model the user did not name, and
the check that a name can be a model repository directory. Pure: callers say what is a
directory, nothing here looks at the file system."""

from __future__ import annotations

import re
from pathlib import PurePath

from tritune.errors import UsageError

# ``package.module:function``: a Python factory that returns the model (what prepare takes).
_FACTORY_REFERENCE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
# Stems that say nothing about the model: its directory names it instead (``bert/model.onnx``).
_GENERIC_STEMS = ("model", "saved_model")


def is_factory_reference(text: str) -> bool:
    return _FACTORY_REFERENCE.match(text) is not None


def default_model_name(model: str | PurePath, *, directory: bool = False) -> str:
    """A factory's function name; else a file's stem (a directory's whole name), or the parent
    directory's name when that stem is generic (``<name>/model.onnx``, ``<name>/saved_model``).
    Characters other than letters, digits, ``_`` and ``-`` become ``_``: the name is a
    directory of the model repository and part of Triton's URLs."""
    text = str(model)
    if is_factory_reference(text):
        stem = text.rpartition(":")[2]
    else:
        path = PurePath(text)
        stem = path.name if directory else path.stem
        if stem in _GENERIC_STEMS and path.parent.name:
            stem = path.parent.name
    # ASCII only: str.isalnum() is true of "è", which Triton's URLs would carry percent-encoded.
    return "".join(c if (c.isascii() and c.isalnum()) or c in "_-" else "_" for c in stem) or "model"


# A directory name holds 255 bytes; a variant's name adds "_config_<n>", an ensemble step's
# ".<step>" beside it, so the model's own name keeps well under that.
MAX_NAME_LENGTH = 200


def check_model_name(name: str) -> str:
    """``name`` itself when it can be a directory of the model repository."""
    if not name or "/" in name or name.startswith(".") or name != name.strip():
        raise UsageError(f"model name {name!r} is not usable as a directory name: choose a plain name (--name)")
    if len(name.encode()) > MAX_NAME_LENGTH:
        raise UsageError(
            f"model name {name[:40]}... is {len(name.encode())} characters long, too long for a directory of the "
            f"model repository with its variants' suffixes: give one of at most {MAX_NAME_LENGTH} (--name)"
        )
    odd = sorted({c for c in name if not (c.isascii() and (c.isalnum() or c in "_-."))})
    if odd:
        # Triton looks a model up by its URL path, where these arrive percent-encoded and unmatched.
        raise UsageError(
            f"model name {name!r} has characters Triton cannot serve ({''.join(odd)!r}): "
            "use letters, digits, '_', '-' and '.' (--name)"
        )
    return name


# An ensemble variant's composing models are served beside it, each under the variant's name and
# its step's model name, so variants of one ensemble can be loaded together (the confirm step).
COMPOSING_SEPARATOR = "."


def composing_name(ensemble: str, model: str) -> str:
    """The name a composing ``model`` of the ensemble (variant) ``ensemble`` is served under."""
    return f"{ensemble}{COMPOSING_SEPARATOR}{model}"


def step_label(ensemble: str, served: str) -> str:
    """The step's own model name for a composing model served as ``served`` in ``ensemble``
    (the inverse of :func:`composing_name`; a user's ensemble keeps its models' names)."""
    return served.removeprefix(f"{ensemble}{COMPOSING_SEPARATOR}")


# Models profiled concurrently are one run, named by them all: a name Triton can serve inside a
# variant's models' names (``<run>_config_0.<model>``), as "+" (percent-encoded in a URL) is not.
CONCURRENT_JOIN = "_and_"


def concurrent_name(models: tuple[str, ...] | list[str]) -> str:
    """The name of the run that profiles ``models`` concurrently: ``a_and_b``."""
    return CONCURRENT_JOIN.join(models)
