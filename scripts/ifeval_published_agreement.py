"""How closely the published scoring reproduces the authors' own verdicts, and what the corrections change.

Reads the fixture of the authors' verdicts (tests/ifeval/data/published/<lang>.jsonl,
built by build_ifeval_published_fixture.py), scores every response with
``errata=False`` (published scoring) and with the default corrected scoring
(paper protocol, as the authors scored), and prints per language: verdicts
compared, how many differ from the authors' and which, and the corrected-minus-
published strict accuracy in points on these responses, at instruction level and
at prompt level (a response passes when all its instructions pass).

    python scripts/ifeval_published_agreement.py [--shared ../shared] [--show]
"""

import argparse
import json
from collections import Counter
from pathlib import Path

from lm_eval_iberian.ifeval import prepare_records, score_record

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "ifeval" / "data" / "published"


def _prompt_rows(lang: str, shared: Path) -> list[dict]:
    path = (
        ROOT / "tests" / "ifeval" / "data" / "input_data.en.jsonl"
        if lang == "en"
        else shared / "data" / "ifeval" / f"input_data.{lang}.jsonl"
    )
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def compare(lang: str, shared: Path) -> dict:
    """Verdict counts, the differing verdicts, and the corrected-minus-published accuracy for ``lang``."""
    rows = _prompt_rows(lang, shared)
    published = {r.key: r for r in prepare_records(rows, lang, errata=False)}
    corrected = {r.key: r for r in prepare_records(rows, lang)}
    fixture = [json.loads(line) for line in (FIXTURE / f"{lang}.jsonl").read_text(encoding="utf-8").splitlines()]
    differences, total, ours_published, ours_corrected = [], 0, 0, 0
    prompts_published, prompts_corrected = 0, 0
    changed: Counter[str] = Counter()
    for item in fixture:
        mine = score_record(published[item["key"]], item["response"]).verdicts
        fixed = score_record(corrected[item["key"]], item["response"]).verdicts
        for verdict, theirs, right in zip(mine, item["follow_instruction_list"], fixed, strict=True):
            total += 1
            ours_published += verdict.strict
            if verdict.strict != theirs:
                differences.append((item["source"], item["key"], verdict.instruction_id, theirs, verdict.strict))
            if right.strict != verdict.strict:
                changed[f"{verdict.instruction_id} {'+' if right.strict else '-'}"] += 1
        ours_corrected += sum(v.strict for v in fixed)
        prompts_published += all(v.strict for v in mine)
        prompts_corrected += all(v.strict for v in fixed)
    return {
        "lang": lang,
        "responses": len(fixture),
        "verdicts": total,
        "differences": differences,
        "published_acc": ours_published / total,
        "corrected_acc": ours_corrected / total,
        "published_prompt_acc": prompts_published / len(fixture),
        "corrected_prompt_acc": prompts_corrected / len(fixture),
        "changed": changed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared", help="folder with data/ifeval/")
    parser.add_argument("--show", action="store_true", help="list every differing verdict")
    args = parser.parse_args()
    print(
        "| lang | responses | verdicts | differ from the authors' | agreement "
        "| corrected − published, instruction level | prompt level |"
    )
    print("|---|---|---|---|---|---|---|")
    results = [compare(lang, args.shared) for lang in ("en", "es", "ca", "eu") if (FIXTURE / f"{lang}.jsonl").exists()]
    for r in results:
        agree = 1 - len(r["differences"]) / r["verdicts"]
        delta = (r["corrected_acc"] - r["published_acc"]) * 100
        prompt_delta = (r["corrected_prompt_acc"] - r["published_prompt_acc"]) * 100
        print(
            f"| {r['lang']} | {r['responses']} | {r['verdicts']} | {len(r['differences'])} | {agree:.1%} | "
            f"{delta:+.1f} points ({r['published_acc']:.1%} → {r['corrected_acc']:.1%}) | "
            f"{prompt_delta:+.1f} points ({r['published_prompt_acc']:.1%} → {r['corrected_prompt_acc']:.1%}) |"
        )
    verdicts = sum(r["verdicts"] for r in results)
    differing = sum(len(r["differences"]) for r in results)
    print(f"| all | {sum(r['responses'] for r in results)} | {verdicts} | {differing} | {1 - differing / verdicts:.1%} | | |")
    print("\nVerdicts the corrected scoring changes on these responses (+ now passes, − now fails):\n")
    for r in results:
        changed = ", ".join(f"`{k.split()[0]}` {k.split()[1].replace('-', '−')}{n}" for k, n in sorted(r["changed"].items()))
        print(f"* {r['lang']}: {changed or 'none'}")
    if args.show:
        for r in results:
            for source, key, instruction_id, theirs, ours in r["differences"]:
                print(f"  {r['lang']} {source} key {key} {instruction_id}: authors {theirs}, published scoring {ours}")


if __name__ == "__main__":
    main()
