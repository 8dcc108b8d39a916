"""Resolve a recipe's input models to local folders and read what validation needs.

Only ``config.json``, tokenizer files and safetensors *headers* are read here: no weights are loaded (and, for
hub models, none downloaded) before validation passes. Local headers are parsed from the files themselves (the
8-byte length and the JSON header of the safetensors format), which also shows a truncated file; hub headers are
read with ``huggingface_hub.get_safetensors_metadata`` (range requests) unless the weights are already cached.
:func:`fetch_weights` downloads hub weights once the recipe is valid.
"""

import hashlib
import json
import math
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lm_eval_iberian._errors import UsageError
from lm_eval_iberian._paths import user_path
from lm_eval_iberian.merge._errors import RecipeError

SAFETENSORS_INDEX = "model.safetensors.index.json"
SAFETENSORS_SINGLE = "model.safetensors"
PICKLE_WEIGHTS = ("pytorch_model.bin", "pytorch_model.bin.index.json")
# Everything a model folder holds except its weights: configs, tokenizer, chat template, the safetensors index.
_METADATA_PATTERNS = ["*.json", "*.model", "*.txt", "*.jinja", "tokenizer*"]
# Bytes per element of each safetensors dtype (to check a header's data offsets).
_SAFETENSORS_DTYPE_SIZE = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1,
                           "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1, "U16": 2, "U32": 4, "U64": 8}


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
    hub_repo: str | None = None  # hub id, for models read from the hub
    weights_to_fetch: list[str] = field(default_factory=list)  # weight files not in the local cache yet

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


def read_json_file(path: Path, what: str, fix: str) -> Any:
    """A JSON file of a model folder; an error naming the file, what is wrong and ``fix`` otherwise."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise RecipeError(f"{path}: {what} is not UTF-8 text (damaged file?); {fix}") from None
    except json.JSONDecodeError as exc:
        raise RecipeError(f"{path}: {what} is not valid JSON ({exc.msg} at line {exc.lineno}; truncated or damaged?); {fix}") from None
    except OSError as exc:
        raise RecipeError(f"{path}: cannot read {what} ({exc.strerror}); {fix}") from None


def _redownload(ref: str) -> str:
    return f"re-download or re-save the model {ref}"


def _is_hub_id(model_path: str) -> bool:
    return not model_path.startswith((".", "/", "~")) and model_path.count("/") == 1 and " " not in model_path


def _resolve_folder(model_path: str, revision: str | None) -> tuple[Path, str | None, str | None]:
    """(local folder, hub commit or None, hub id or None). Hub models: metadata files only, no weights."""
    try:
        local = user_path(model_path, "model")
    except UsageError as exc:
        raise RecipeError(str(exc)) from None
    if local.is_dir():
        return local, None, None
    if local.exists():
        raise RecipeError(f"model {model_path!r} is a file; give the model's folder (config.json, *.safetensors, tokenizer)")
    if not _is_hub_id(model_path):
        raise RecipeError(f"model {model_path!r}: no such folder, and not a hub id (ORG/NAME); fix the path or the id")
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    try:
        folder = snapshot_download(model_path, revision=revision, allow_patterns=_METADATA_PATTERNS)
    except LocalEntryNotFoundError:
        raise RecipeError(
            f"model {model_path!r}: no such local folder, and not in the local Hugging Face cache while the hub "
            f"cannot be reached (offline node?); fix the path, or run `hf download {model_path}` where there is "
            "internet, with the same HF_HOME"
        ) from None
    except HfHubHTTPError as exc:
        raise RecipeError(f"model {model_path!r}: the hub refused it ({exc}); check the id, the revision and your access") from None
    folder = Path(folder)
    return folder, folder.name, model_path  # snapshot folders are named by commit hash


def read_safetensors_header(file: Path) -> dict[str, TensorHeader]:
    """Tensor names, shapes and dtypes from a safetensors file's header; a damaged or truncated file is named.

    The format: 8 bytes (little-endian length N), N bytes of JSON (``{name: {dtype, shape, data_offsets}}``),
    then the data; the file must be long enough for the last tensor's data.
    """
    fix = "the file is damaged or incomplete (an interrupted download or copy?); download or save the model again"
    try:
        with file.open("rb") as fh:
            head = fh.read(8)
            if len(head) < 8:
                raise RecipeError(f"{file}: not a safetensors file (only {len(head)} bytes); {fix}")
            (length,) = struct.unpack("<Q", head)
            size = file.stat().st_size
            if length > size - 8 or length > 100 << 20:
                raise RecipeError(f"{file}: safetensors header length {length} does not fit the file ({size} bytes); {fix}")
            header = json.loads(fh.read(length))
    except OSError as exc:
        raise RecipeError(f"{file}: cannot read ({exc.strerror}); check the file's permissions") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise RecipeError(f"{file}: the safetensors header is not valid JSON; {fix}") from None
    if not isinstance(header, dict):
        raise RecipeError(f"{file}: the safetensors header is not a JSON object; {fix}")
    tensors: dict[str, TensorHeader] = {}
    data_end = 0
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype, shape, (begin, end) = info["dtype"], tuple(int(d) for d in info["shape"]), info["data_offsets"]
        except (KeyError, TypeError, ValueError):
            raise RecipeError(f"{file}: the safetensors header entry for {name!r} lacks dtype, shape or data_offsets; {fix}") from None
        tensors[name] = TensorHeader(shape, dtype)
        data_end = max(data_end, int(end))
        expected = _SAFETENSORS_DTYPE_SIZE.get(dtype)
        if expected is not None and int(end) - int(begin) != expected * math.prod(shape):
            raise RecipeError(f"{file}: tensor {name} has {int(end) - int(begin)} bytes of data but shape {list(shape)} "
                              f"of {dtype} needs {expected * math.prod(shape)}; {fix}")
    if 8 + length + data_end > size:
        raise RecipeError(f"{file}: truncated: the header promises {8 + length + data_end} bytes, the file has {size}; {fix}")
    return tensors


def read_safetensors_headers(files: list[Path]) -> dict[str, TensorHeader]:
    headers: dict[str, TensorHeader] = {}
    for file in files:
        headers.update(read_safetensors_header(file))
    return headers


def _hub_headers(repo: str, revision: str, ref: str) -> dict[str, TensorHeader]:
    """Headers of a hub model's safetensors files, by range request (no weights downloaded)."""
    from huggingface_hub import get_safetensors_metadata
    from huggingface_hub.errors import HfHubHTTPError, NotASafetensorsRepoError

    try:
        meta = get_safetensors_metadata(repo, revision=revision)
    except NotASafetensorsRepoError:
        raise RecipeError(f"model {ref}: the hub repository has no safetensors weights (model.safetensors or its index); "
                          "the in-memory merge reads safetensors only") from None
    except (HfHubHTTPError, OSError) as exc:
        raise RecipeError(
            f"model {ref}: could not read its safetensors headers from the hub ({exc}); on an offline node run "
            f"`hf download {repo}` where there is internet, with the same HF_HOME"
        ) from None
    return {
        name: TensorHeader(tuple(info.shape), info.dtype)
        for file_meta in meta.files_metadata.values()
        for name, info in file_meta.tensors.items()
    }


def _weight_files(path: Path, ref: str) -> list[Path]:
    """The safetensors files a folder's index names (or the single file); an error if the index is damaged."""
    index = path / SAFETENSORS_INDEX
    if index.is_file():
        data = read_json_file(index, "the safetensors index", _redownload(ref))
        weight_map = data.get("weight_map") if isinstance(data, dict) else None
        if not isinstance(weight_map, dict) or not weight_map:
            raise RecipeError(f"{index}: the safetensors index has no 'weight_map'; {_redownload(ref)}")
        return sorted({path / str(f) for f in weight_map.values()})
    if (path / SAFETENSORS_SINGLE).exists():
        return [path / SAFETENSORS_SINGLE]
    return sorted(path.glob("*.safetensors"))


def resolve_input(ref, allow_pickle: bool = False) -> InputModel:
    """``ref`` is a mergekit ModelReference."""
    if getattr(ref, "lora", None) is not None:
        raise RecipeError(
            f"model {ref}: LoRA inputs (model+adapter) are not supported by the in-memory merge; "
            "merge the adapter into its model first (e.g. peft's merge_and_unload) and use that folder"
        )
    path, revision, hub_repo = _resolve_folder(ref.model.path, ref.model.revision)
    config_file = path / "config.json"
    if not config_file.is_file():
        raise RecipeError(f"model {ref}: {path} has no config.json; point to a Hugging Face model folder")
    config = read_json_file(config_file, "config.json", _redownload(str(ref)))
    if not isinstance(config, dict):
        raise RecipeError(f"{config_file}: config.json is not a JSON object; {_redownload(str(ref))}")
    files = _weight_files(path, str(ref))
    if hub_repo is not None:
        # Neither index nor single file in the metadata snapshot: the single file, headers from the hub.
        files = files or [path / SAFETENSORS_SINGLE]
        to_fetch = [f.name for f in files if not f.is_file()]
        tensors = _hub_headers(hub_repo, revision, str(ref)) if to_fetch else read_safetensors_headers(files)
        return InputModel(str(ref), path, revision, config, tensors, files, hub_repo, to_fetch)
    missing = [f for f in files if not f.is_file()]
    if missing:
        raise RecipeError(f"model {ref}: weight files listed in its index are missing: {[m.name for m in missing]}; "
                          f"{_redownload(str(ref))}")
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


def fetch_weights(inputs: list[InputModel]) -> None:
    """Download the weight files of hub inputs that the cache lacks (after validation passed)."""
    from huggingface_hub import snapshot_download

    for model in inputs:
        if not model.weights_to_fetch:
            continue
        snapshot_download(model.hub_repo, revision=model.revision, allow_patterns=model.weights_to_fetch)
        still = [name for name in model.weights_to_fetch if not (model.path / name).is_file()]
        if still:
            raise RecipeError(f"model {model.ref}: the download did not bring {still}; run `hf download {model.hub_repo}`")
        model.weights_to_fetch = []
