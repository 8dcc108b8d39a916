"""Resolve a recipe's input models to local folders and read what validation needs.

Only ``config.json``, tokenizer files and safetensors *headers* are read here:
no weights are loaded before validation passes.
"""

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lm_eval_iberian.merge._errors import RecipeError

SAFETENSORS_INDEX = "model.safetensors.index.json"
SAFETENSORS_SINGLE = "model.safetensors"
PICKLE_WEIGHTS = ("pytorch_model.bin", "pytorch_model.bin.index.json")
_SNAPSHOT_PATTERNS = ["*.json", "*.safetensors", "*.model", "*.txt", "*.jinja", "tokenizer*"]


@dataclass(frozen=True)
class TensorHeader:
    shape: tuple[int, ...]
    dtype: str


@dataclass
class InputModel:
    """One input model, resolved to a local folder."""

    ref: str  # as written in the recipe
    path: Path  # local folder (given, or the hub snapshot)
    revision: str | None  # hub commit of the snapshot, None for local folders
    config: dict[str, Any]
    tensors: dict[str, TensorHeader] = field(default_factory=dict)
    weight_files: list[Path] = field(default_factory=list)

    @property
    def architecture(self) -> str:
        archs = self.config.get("architectures") or [self.config.get("model_type", "?")]
        return archs[0]

    @property
    def tied(self) -> bool:
        return bool(self.config.get("tie_word_embeddings", False))

    def provenance(self) -> dict[str, Any]:
        """Enough to re-run: the hub revision, or file hashes of a local folder."""
        if self.revision is not None:
            return {"model": self.ref, "revision": self.revision}
        return {
            "model": self.ref,
            "path": str(self.path),
            "files": {f.name: _file_digest(f) for f in sorted(self.weight_files) + [self.path / "config.json"]},
        }


def _file_digest(path: Path) -> str:
    """sha256 of a file; multi-GB weights are hashed on their header, size and mtime instead."""
    stat = path.stat()
    digest = hashlib.sha256()
    if stat.st_size <= 64 << 20:
        digest.update(path.read_bytes())
        return digest.hexdigest()
    with path.open("rb") as fh:
        digest.update(fh.read(1 << 20))
    digest.update(f"{stat.st_size}:{int(stat.st_mtime)}".encode())
    return "header+size+mtime:" + digest.hexdigest()


def _resolve_folder(model_path: str, revision: str | None) -> tuple[Path, str | None]:
    local = Path(os.path.expanduser(model_path))
    if local.is_dir():
        return local, None
    if local.exists() or model_path.startswith((".", "/", "~")) or model_path.count("/") != 1:
        raise RecipeError(
            f"model {model_path!r}: no such folder, and not a hub id (ORG/NAME); fix the path or the id"
        )
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    try:
        folder = snapshot_download(model_path, revision=revision, allow_patterns=_SNAPSHOT_PATTERNS)
    except LocalEntryNotFoundError:
        raise RecipeError(
            f"model {model_path!r}: no such local folder, and not in the local Hugging Face cache while the hub "
            f"cannot be reached (offline node?); fix the path, or run `hf download {model_path}` where there is "
            "internet, with the same HF_HOME"
        ) from None
    except HfHubHTTPError as exc:
        raise RecipeError(f"model {model_path!r}: the hub refused it ({exc}); check the id, the revision and your access") from None
    folder = Path(folder)
    return folder, folder.name  # snapshot folders are named by commit hash


def read_safetensors_headers(files: list[Path]) -> dict[str, TensorHeader]:
    from safetensors import safe_open

    headers: dict[str, TensorHeader] = {}
    for file in files:
        with safe_open(str(file), framework="pt") as fh:
            for name in fh.keys():
                sl = fh.get_slice(name)
                headers[name] = TensorHeader(tuple(sl.get_shape()), str(sl.get_dtype()))
    return headers


def resolve_input(ref, allow_pickle: bool = False) -> InputModel:
    """``ref`` is a mergekit ModelReference."""
    if getattr(ref, "lora", None) is not None:
        raise RecipeError(
            f"model {ref}: LoRA inputs (model+adapter) are not supported by the in-memory merge; "
            "merge the adapter into its model first (e.g. peft's merge_and_unload) and use that folder"
        )
    path, revision = _resolve_folder(ref.model.path, ref.model.revision)
    config_file = path / "config.json"
    if not config_file.is_file():
        raise RecipeError(f"model {ref}: {path} has no config.json; point to a Hugging Face model folder")
    config = json.loads(config_file.read_text())
    index = path / SAFETENSORS_INDEX
    if index.is_file():
        files = sorted({path / f for f in json.loads(index.read_text())["weight_map"].values()})
    elif (path / SAFETENSORS_SINGLE).is_file():
        files = [path / SAFETENSORS_SINGLE]
    else:
        files = sorted(path.glob("*.safetensors"))
    missing = [f for f in files if not f.is_file()]
    if missing:
        raise RecipeError(f"model {ref}: weight files listed in its index are missing: {[m.name for m in missing]}")
    if not files:
        if any((path / p).is_file() for p in PICKLE_WEIGHTS):
            if not allow_pickle:
                raise RecipeError(
                    f"model {ref} has only pickle weights (pytorch_model.bin), which can run arbitrary code when "
                    "loaded; convert it to safetensors, or pass allow_pickle=true if you trust it"
                )
            return InputModel(str(ref), path, revision, config)
        raise RecipeError(f"model {ref}: no weights in {path} (no *.safetensors); download the full model")
    return InputModel(str(ref), path, revision, config, read_safetensors_headers(files), files)
