"""``lm-eval-iberian demo`` (``make demo``): the whole Merge-and-Conquer pipeline, offline, at toy scale.

1. Corpora: the demo mirror's text split by language; FLORES+ ``devtest`` sentences are held out.
2. The bundled CPT trainer makes a tiny *base* model (all five languages, from random weights),
   an *instruct* variant (base + English/Spanish chat-formatted questions and answers), and
   Basque and Galician *experts* (base + 90 % target language, 10 % English).
3. Merges on the fly: ``linear`` [expert w, instruct 1] swept over w, and ``task_arithmetic``
   (base = base), through ``lm-eval-iberian sweep``'s machinery (inputs read once).
4. ``iberian_*`` evaluation (language benchmarks, Flores into the language, IFEval, held-out
   perplexity) of every model and merge; then the paper's tables and the sweep plot.

Every number is computed by the run; at this scale they show the mechanics, and whether the
expert and the merges lower the target language's perplexity relative to the instruct model.
"""

import json
import os
import time
from pathlib import Path
from typing import Any

from lm_eval_iberian import demo_data_dir, tasks_path

EXPERT_LANGS = ("eu", "gl")
SWEEP_WEIGHTS = (0.5, 1.0, 2.0)
SEQ_LEN = 128

# Which language each demo-mirror file is in: (path prefix, language); FLORES+ by config.
_LANG_BY_PREFIX = [
    ("HiTZ/BertaQA/en", "en"), ("HiTZ/", "eu"), ("proxectonos/", "gl"), ("projecte-aina/", "ca"), ("nbel/CatCoLA", "ca"),
    ("nbel/EsCoLA", "es"), ("BSC-LT/", "es"), ("allenai/", "en"), ("google/", "en"),
    ("eneko98/Iber-IFEval/eu", "eu"), ("eneko98/Iber-IFEval/gl", "gl"),
]
_CODE_LANG = {"eus": "eu", "glg": "gl", "cat": "ca", "spa": "es", "eng": "en", "eu": "eu", "gl": "gl", "ca": "ca", "es": "es", "en": "en"}


def _file_language(rel: str) -> str | None:
    parts = rel.split("/")
    if parts[0] in {"openlanguagedata", "facebook", "juletxara"}:
        return _CODE_LANG.get(parts[2].split("_")[0])
    return next((lang for prefix, lang in _LANG_BY_PREFIX if rel.startswith(prefix)), None)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if len(value) > 20 else []
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    return []


def demo_corpora() -> dict[str, list[str]]:
    """Training text per language from the demo mirror; FLORES+ devtest is held out for perplexity."""
    root = Path(demo_data_dir())
    texts: dict[str, list[str]] = {lang: [] for lang in ("eu", "gl", "ca", "es", "en")}
    for path in sorted(root.rglob("*.jsonl")):
        rel = path.relative_to(root).as_posix()
        lang = _file_language(rel)
        if lang is None or (rel.startswith("openlanguagedata/") and path.stem == "devtest"):
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                texts[lang].extend(_strings(json.loads(line)))
    return {lang: list(dict.fromkeys(t)) for lang, t in texts.items()}


def instruct_conversations() -> list[str]:
    """Chat-formatted question/answer pairs (English and Spanish OpenBookQA rows of the demo mirror)."""
    root = Path(demo_data_dir())
    out = []
    for rel in ("allenai/openbookqa/main/train.jsonl", "allenai/openbookqa/main/test.jsonl", "BSC-LT/openbookqa-es/default/test.jsonl",
                "BSC-LT/openbookqa-es/default/validation.jsonl"):
        path = root / rel
        if not path.is_file():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            answer = row["choices"]["text"][row["choices"]["label"].index(row["answerKey"].strip())]
            out.append(f"<|im_start|>user\n{row['question_stem']}<|im_end|>\n<|im_start|>assistant\n{answer}<|im_end|>\n")
    return out


def _write_jsonl(path: Path, texts: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(json.dumps({"text": t}, ensure_ascii=False) for t in texts) + "\n")
    return path


def _train(name: str, model: Path, sources: list[tuple[str, Path, float]], out: Path, steps: int, lr: float) -> Path:
    from lm_eval_iberian.cpt import load_config, train

    cfg = load_config(
        None,
        None,
        model=str(model),
        output_dir=str(out / "cpt" / name),
        data={"sources": [{"name": n, "path": str(p), "ratio": r} for n, p, r in sources], "cache_dir": str(out / "cpt" / "cache")},
        seq_len=SEQ_LEN,
        global_batch_size=8,
        micro_batch_size=8,
        max_steps=steps,
        dtype="float32",
        activation_checkpointing=False,
        checkpoint_every=10**6,
        tensorboard=False,
        log_every=steps,
        optim={"lr": lr, "warmup_ratio": 0.1, "weight_decay": 0.1},
    )
    final = train(cfg)
    target = out / "models" / name  # a folder named after the model: recipes and reports show the name
    if target.exists():
        import shutil

        shutil.rmtree(target)
    os.replace(final, target)
    return target


def _tasks(lang: str) -> list[str]:
    return [f"iberian_{lang}", f"iberian_flores_to_{lang}", f"iberian_ifeval_{lang}"]


def _eval_args(limit: int, chat: bool) -> dict[str, Any]:
    return {
        "limit": limit,
        "bootstrap_iters": 0,  # stderr bootstraps of BLEU/mcc would dominate the demo's time
        "gen_kwargs": "max_gen_toks=24",
        "apply_chat_template": chat,
        "fewshot_as_multiturn": chat,
        "random_seed": 0,
    }


def _evaluate_model(name: str, model: Path, tasks: list[str], out: Path, limit: int, chat: bool) -> Path:
    import lm_eval
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    lm = HFLM(pretrained=str(model), device="cpu", batch_size=16, max_length=1024)
    results = lm_eval.simple_evaluate(model=lm, tasks=tasks, task_manager=TaskManager(include_path=tasks_path()), **_eval_args(limit, chat))
    results.pop("samples", None)
    path = out / "results" / name / "results.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, default=str, indent=1))
    return path


def _merge_recipe(method: str, expert: Path, instruct: Path, base: Path):
    from lm_eval_iberian.merge import MergeRecipe

    data: dict[str, Any] = {
        "merge_method": method,
        "dtype": "float32",
        "models": [{"model": str(expert), "parameters": {"weight": 1.0}}, {"model": str(instruct), "parameters": {"weight": 1.0}}],
    }
    if method == "task_arithmetic":
        data["base_model"] = str(base)
    return MergeRecipe.from_mergekit_dict(data, seed=0)


def run_demo(out_dir: str | Path, limit: int = 4) -> dict[str, Any]:
    """Train, merge, evaluate, report; returns a summary (also written to ``out_dir/summary.json``)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ["IBERIAN_DATA_DIR"] = demo_data_dir()
    from lm_eval_iberian.merge._sweep import run_sweep
    from lm_eval_iberian.report import build_table, load_runs, plot_sweep, render
    from lm_eval_iberian.testing import build_tiny_model, build_tiny_tokenizer

    out = Path(out_dir)
    start = time.perf_counter()

    def step(message: str) -> None:
        print(f"[demo {time.perf_counter() - start:6.1f}s] {message}", flush=True)

    corpora = demo_corpora()
    files = {lang: _write_jsonl(out / "corpora" / f"{lang}.jsonl", texts) for lang, texts in corpora.items()}
    chat = _write_jsonl(out / "corpora" / "instruct.jsonl", instruct_conversations())
    step(f"corpora: {', '.join(f'{k} {len(v)} texts' for k, v in corpora.items())}; FLORES+ devtest held out")

    init = build_tiny_model(out / "models" / "init", "llama", seed=0, tokenizer=build_tiny_tokenizer(), hidden_size=64, num_layers=2)
    base = _train("base", init, [(lang, files[lang], 1.0) for lang in files], out, steps=80, lr=3e-3)
    step(f"base model trained on all five languages: {base}")
    instruct = _train("instruct", base, [("chat", chat, 0.7), ("en", files["en"], 0.3)], out, steps=40, lr=2e-3)
    step(f"instruct variant trained on chat-formatted questions and answers: {instruct}")
    experts = {
        lang: _train(f"{lang}-expert", base, [(lang, files[lang], 0.9), ("en", files["en"], 0.1)], out, steps=60, lr=2e-3)
        for lang in EXPERT_LANGS
    }
    step("experts trained: " + ", ".join(f"{k} {v}" for k, v in experts.items()))

    ppl = ["iberian_ppl"]
    runs: dict[str, Path] = {"base": _evaluate_model("base", base, ppl, out, limit, chat=False)}
    runs["instruct"] = _evaluate_model("instruct", instruct, ppl + [t for lang in EXPERT_LANGS for t in _tasks(lang)], out, limit, chat=True)
    for lang, expert in experts.items():
        runs[f"{lang}-expert"] = _evaluate_model(f"{lang}-expert", expert, ppl + _tasks(lang), out, limit, chat=False)
    step("base, instruct and experts evaluated")

    for lang, expert in experts.items():
        for method, weights in (("linear", SWEEP_WEIGHTS), ("task_arithmetic", (1.0,))):
            sweep_dir = out / "results" / f"{lang}-{method}"
            run_sweep(
                _merge_recipe(method, expert, instruct, base),
                f"weight:{expert.name}",
                list(weights),
                ppl + _tasks(lang),
                sweep_dir,
                device="cpu",
                hflm_args={"batch_size": 16, "max_length": 1024},
                eval_args=_eval_args(limit, chat=True),
                log=lambda _m: None,
            )
            for folder in sorted(sweep_dir.glob("point-*")):
                runs[f"{lang}-{method}-{folder.name.removeprefix('point-')}"] = folder / "results.json"
        step(f"{lang}: linear merges at w={', '.join(map(str, SWEEP_WEIGHTS))} and task_arithmetic evaluated")

    records = load_runs([str(p) for p in runs.values()])
    for table in ("benchmarks", "mt", "ifeval", "methods", "perplexity"):
        print(render(build_table(table, records), "md"), end="\n\n")
    plot = plot_sweep(records, out / "sweep.png")
    step(f"sweep plot written to {plot}")

    transfer: dict[str, Any] = {}
    by_label = {r.label: r for r in records}
    for lang in EXPERT_LANGS:
        ref = by_label["instruct"].value(f"iberian_ppl_{lang}", "bits_per_byte")
        candidates = {r.label: r.value(f"iberian_ppl_{lang}", "bits_per_byte") for r in records if r.target_lang == lang}
        transfer[lang] = {
            "instruct_bits_per_byte": ref,
            "lower_than_instruct": {n: v is not None and ref is not None and v < ref for n, v in candidates.items()},
            "bits_per_byte": candidates,
        }
        wins = [n for n, ok in transfer[lang]["lower_than_instruct"].items() if ok]
        print(f"[demo] {lang.upper()}: {len(wins)} of {len(candidates)} experts/merges have lower {lang} perplexity than the "
              "instruct model" + (f" ({'; '.join(wins)})" if wins else ""))
    summary = {"seconds": round(time.perf_counter() - start, 1), "runs": {k: str(v) for k, v in runs.items()},
               "plot": str(plot), "transfer": transfer}
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    step(f"done; summary in {out / 'summary.json'}")
    return summary
