"""Hub inputs against a fake hub on loopback: validation reads configs and safetensors headers only (range
requests); weights are downloaded once validation passed, never before."""

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

COMMIT = "fa1e" * 10


class _FakeHub(BaseHTTPRequestHandler):
    """The few hub routes huggingface_hub uses: repo info, and file HEAD/GET (with Range) at a revision."""

    repos: dict[str, Path] = {}
    log: list[tuple[str, str, str | None]] = []

    def log_message(self, *args) -> None:  # keep pytest's output clean
        pass

    def _repo_file(self) -> tuple[Path | None, str]:
        parts = self.path.split("?")[0].strip("/").split("/")
        if len(parts) >= 5 and parts[2] == "resolve":
            repo, name = f"{parts[0]}/{parts[1]}", "/".join(parts[4:])
            folder = self.repos.get(repo)
            return (folder / name if folder is not None else None), name
        return None, ""

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _file(self) -> None:
        self.log.append((self.command, self.path, self.headers.get("Range")))
        path, name = self._repo_file()
        if path is None or not path.is_file():
            self._send(404, b"{}", {"X-Error-Code": "EntryNotFound", "X-Error-Message": f"{name} not found"})
            return
        data = path.read_bytes()
        headers = {"X-Repo-Commit": COMMIT, "ETag": f'"{hash(data) & 0xFFFFFFFF:x}"', "Accept-Ranges": "bytes"}
        if self.headers.get("Range", "").startswith("bytes="):
            start, _, end = self.headers["Range"][6:].partition("-")
            end_i = min(int(end) if end else len(data) - 1, len(data) - 1)
            chunk = data[int(start): end_i + 1]
            self._send(206, chunk, {**headers, "Content-Range": f"bytes {start}-{end_i}/{len(data)}"})
            return
        self._send(200, data, headers)

    def do_HEAD(self) -> None:  # noqa: N802 - http.server's names
        self._file()

    def do_GET(self) -> None:  # noqa: N802
        parts = self.path.split("?")[0].strip("/").split("/")
        if parts[:2] == ["api", "models"]:
            self.log.append(("GET", self.path, None))
            repo = f"{parts[2]}/{parts[3]}"
            folder = self.repos.get(repo)
            if folder is None:
                self._send(404, b"{}", {"X-Error-Code": "RepoNotFound"})
                return
            files = [p for p in sorted(folder.rglob("*")) if p.is_file()]
            if len(parts) > 4 and parts[4] == "tree":  # list_repo_tree
                body = json.dumps([{"type": "file", "path": str(p.relative_to(folder)), "size": p.stat().st_size,
                                    "oid": f"{hash(p.name) & 0xFFFFFFFF:040x}"} for p in files]).encode()
            else:  # repo_info / model_info
                siblings = [{"rfilename": str(p.relative_to(folder))} for p in files]
                body = json.dumps({"id": repo, "modelId": repo, "sha": COMMIT, "siblings": siblings, "private": False}).encode()
            self._send(200, body, {"Content-Type": "application/json", "X-Repo-Commit": COMMIT})
            return
        self._file()


@pytest.fixture
def fake_hub(tiny_families, tmp_path, tiny_tokenizer):
    from safetensors.torch import load_file, save_file

    from lm_eval_iberian.testing import build_tiny_model

    llama = tiny_families["llama"]
    repos = {"TinyOrg/expert": llama["expert"], "TinyOrg/instruct": llama["instruct"]}
    # A sharded repo (index + 2 shards), and one whose vocabulary differs (validation must fail before downloads).
    sharded = tmp_path / "sharded"
    sharded.mkdir()
    state = load_file(str(llama["base"] / "model.safetensors"))
    names = sorted(state)
    shards = {"model-00001-of-00002.safetensors": names[: len(names) // 2], "model-00002-of-00002.safetensors": names[len(names) // 2:]}
    for shard, keys in shards.items():
        save_file({k: state[k] for k in keys}, str(sharded / shard), metadata={"format": "pt"})
    (sharded / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": {k: s for s, ks in shards.items() for k in ks}}))
    for f in llama["base"].iterdir():
        if f.suffix != ".safetensors":
            (sharded / f.name).write_bytes(f.read_bytes())
    repos["TinyOrg/base-sharded"] = sharded
    other = build_tiny_model(tmp_path / "othervocab", "llama", seed=3, tokenizer=tiny_tokenizer)
    cfg = json.loads((other / "config.json").read_text())
    cfg["vocab_size"] += 64
    (other / "config.json").write_text(json.dumps(cfg))
    repos["TinyOrg/other-vocab"] = other
    _FakeHub.repos, _FakeHub.log = repos, []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeHub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _FakeHub.log, llama
    server.shutdown()


_SCRIPT = """
import json, sys
from lm_eval_iberian.merge import MergeRecipe, RecipeError, merge_model, validate_recipe
args = json.loads(sys.argv[1])
recipe = MergeRecipe.from_inline(args)
try:
    model, _ = merge_model(recipe, verbose=False)
except RecipeError as exc:
    print(json.dumps({"error": str(exc)}))
    raise SystemExit(0)
print(json.dumps({"tensors": {k: v.flatten()[:4].tolist() for k, v in model.state_dict().items()},
                  "inputs": [i.model_dump() for i in model.merge_summary.record.inputs]}))
"""


def _run(endpoint: str, hf_home: Path, args: dict, subprocess_env) -> dict:
    env = subprocess_env(HF_ENDPOINT=endpoint, HF_HOME=str(hf_home), HF_HUB_OFFLINE="0", HF_HUB_DISABLE_XET="1",
                         HF_HUB_ETAG_TIMEOUT="30", HF_HUB_DOWNLOAD_TIMEOUT="30")
    env.pop("HF_HUB_CACHE", None)
    proc = subprocess.run([sys.executable, "-c", _SCRIPT, json.dumps(args)], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _full_weight_downloads(log) -> list[str]:
    return [path for method, path, rng in log if method == "GET" and path.endswith(".safetensors") and rng is None]


def test_validation_reads_only_headers_and_refuses_before_downloading(fake_hub, tmp_path, subprocess_env):
    endpoint, log, _ = fake_hub
    out = _run(endpoint, tmp_path / "hf", {"method": "linear", "models": "TinyOrg/expert@1.0+TinyOrg/other-vocab@1.0"}, subprocess_env)
    assert "vocabulary sizes differ" in out["error"], out
    assert any(rng for method, path, rng in log if path.endswith(".safetensors")), "headers were read by range request"
    assert _full_weight_downloads(log) == []  # nothing but headers crossed the wire
    assert not list((tmp_path / "hf").rglob("*.safetensors"))


def test_weights_are_downloaded_once_after_validation_and_merge_like_local_folders(fake_hub, tmp_path, subprocess_env):
    from lm_eval_iberian.merge import MergeRecipe, merge_model

    endpoint, log, llama = fake_hub
    args = {"method": "task_arithmetic", "base": "TinyOrg/base-sharded", "models": "TinyOrg/expert@1.0+TinyOrg/instruct@0.5"}
    out = _run(endpoint, tmp_path / "hf", args, subprocess_env)
    assert "error" not in out, out
    downloads = _full_weight_downloads(log)
    assert sorted(p.rsplit("/", 1)[-1] for p in downloads) == sorted(
        ["model.safetensors", "model.safetensors", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"])
    assert {i["model"]: i["revision"] for i in out["inputs"]} == {m: COMMIT for m in ("TinyOrg/expert", "TinyOrg/instruct", "TinyOrg/base-sharded")}
    local, _ = merge_model(MergeRecipe.from_inline({"method": "task_arithmetic", "base": str(llama["base"]),
                                                    "models": f"{llama['expert']}@1.0+{llama['instruct']}@0.5"}), verbose=False)
    for name, tensor in local.state_dict().items():
        assert out["tensors"][name] == pytest.approx(tensor.flatten()[:4].tolist()), name
    # A second run finds everything in the cache: no weight crosses the wire again.
    log.clear()
    _run(endpoint, tmp_path / "hf", args, subprocess_env)
    assert _full_weight_downloads(log) == []
