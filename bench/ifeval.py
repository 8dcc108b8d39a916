"""Benchmark: score 5 x 541 IFEval responses (strict + loose, language ID included).

Responses are built from each language's own prompts (the prompt's text
repeated to ~1,000 characters, in the prompt's language), so every checker,
the sentence splitter and the language detector see realistic text. Target:
all five languages in under 3 s on the 2-core development machine.

Baseline in the same process: lm-eval's own English ``ifeval`` scoring of the
same English responses (needs NLTK punkt_tab data; skipped otherwise).

    python bench/ifeval.py [--shared ../shared]

Last line: one JSON object.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_S = 3.0


def _response(prompt: str) -> str:
    text = prompt
    while len(text) < 1000:
        text += "\n\n" + prompt
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", default=os.environ.get("IBERIAN_SHARED_DIR", str(ROOT.parent / "shared")))
    args = parser.parse_args()
    prompts_dir = Path(args.shared) / "data" / "ifeval"

    t0 = time.perf_counter()
    from lm_eval_iberian.ifeval import detect_language, prepare_records, score_responses, split_sentences

    detect_language("warm up the model")
    split_sentences("Warm up. The tokenizer.", "en")
    startup = time.perf_counter() - t0

    files = {"en": ROOT / "tests" / "ifeval" / "data" / "input_data.en.jsonl"}
    files |= {lang: prompts_dir / f"input_data.{lang}.jsonl" for lang in ("es", "ca", "gl", "eu")}
    missing = [lang for lang, path in files.items() if not path.is_file()]
    if missing:
        print(f"skipping {missing}: no prompt files under {prompts_dir} (use --shared)", file=sys.stderr)
    rows = {lang: [json.loads(x) for x in p.read_text(encoding="utf-8").splitlines()] for lang, p in files.items() if lang not in missing}

    per_lang, n_responses = {}, 0
    start = time.perf_counter()
    for lang, lang_rows in rows.items():
        t = time.perf_counter()
        records = prepare_records(lang_rows, lang, protocol="full")
        scores = score_responses(records, [_response(r.prompt) for r in records], lang, protocol="full")
        per_lang[lang] = round(time.perf_counter() - t, 3)
        n_responses += scores.n_prompts
    ours = time.perf_counter() - start

    baseline = None
    nltk_data = ROOT / "tests" / "ifeval" / "data" / "nltk_data"  # test-only copy of NLTK English punkt_tab
    if (nltk_data / "tokenizers" / "punkt_tab").is_dir():
        import langdetect
        import nltk

        nltk.data.path.insert(0, str(nltk_data))  # nltk is already imported: the env var is too late
        from lm_eval.tasks.ifeval import utils

        langdetect.DetectorFactory.seed = 0
        import logging

        logging.getLogger("lm_eval.tasks.ifeval.instructions").setLevel(logging.CRITICAL)
        en = rows["en"]
        t = time.perf_counter()
        for r in en:
            doc = {k: r[k] for k in ("key", "instruction_id_list", "prompt", "kwargs")}
            utils.process_results(doc, [_response(r["prompt"])])
        baseline = time.perf_counter() - t
        from lm_eval_iberian.ifeval._text import _split_sentences

        detect_language.cache_clear()  # no help from the first pass
        _split_sentences.cache_clear()
        t = time.perf_counter()
        records = prepare_records(en, "en", protocol="full")
        score_responses(records, [_response(r.prompt) for r in records], "en", protocol="full")
        ours_en = time.perf_counter() - t

    print(f"start-up (imports, language-ID model, Punkt): {startup:.2f} s")
    print(f"scored {n_responses} responses in {ours:.2f} s (target < {TARGET_S:.0f} s): per language {per_lang}")
    result = {"responses": n_responses, "seconds": round(ours, 3), "startup_s": round(startup, 3), "target_s": TARGET_S,
              "within_target": ours < TARGET_S, "per_language_s": per_lang}
    if baseline is not None:
        print(f"English 541: lm-eval ifeval {baseline:.2f} s, ours {ours_en:.2f} s, ratio ours/lm-eval {ours_en / baseline:.2f}")
        result |= {"en_lm_eval_s": round(baseline, 3), "en_ours_s": round(ours_en, 3), "en_ratio": round(ours_en / baseline, 3)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
