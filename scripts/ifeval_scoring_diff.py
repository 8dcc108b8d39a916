"""How the corrected scoring differs from the authors' (published) scoring.

For every instruction the errata or the per-prompt response language touch
(paper protocol), build an answer that does exactly what the prompt asks for
that instruction, and score it both ways. Prints, per language, how many of
those instructions each scoring accepts; the README reports the numbers.

    python scripts/ifeval_scoring_diff.py [--shared ../shared]
"""

import argparse
import json
from pathlib import Path

from lm_eval_iberian.ifeval import prepare_records, score_record

NEUTRAL = {
    "es": "Gracias por la pregunta. Aquí tienes mi respuesta completa y ordenada.",
    "ca": "Gràcies per la pregunta. Aquí tens la meva resposta completa i ordenada.",
    "gl": "Grazas pola pregunta. Aquí tes a miña resposta completa e ordenada.",
    "eu": "Eskerrik asko galderagatik. Hona hemen nire erantzun osoa eta txukuna.",
}


def oracle(instruction_id: str, kwargs: dict, record, english_prompt: str) -> str | None:
    """An answer that follows ``instruction_id`` as the (corrected) record asks."""
    base = english_prompt if record.answer_language == "en" else record.prompt
    match instruction_id:
        case "change_case:english_capital":
            return base.upper()
        case "change_case:english_lowercase":
            return base.lower()
        case "keywords:existence":
            return NEUTRAL[record.lang] + " " + " ".join(kwargs["keywords"])
        case "keywords:forbidden_words":
            return NEUTRAL[record.lang]
        case "detectable_content:postscript":
            return NEUTRAL[record.lang] + "\n\n" + kwargs["postscript_marker"] + " Ondo izan."
        case "startend:end_checker":
            return NEUTRAL[record.lang] + " " + kwargs["end_phrase"]
    return None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shared", default=str(Path(__file__).resolve().parents[2] / "shared"))
    args = parser.parse_args()
    folder = Path(args.shared) / "data" / "ifeval"
    english = {json.loads(x)["key"]: json.loads(x)["prompt"] for x in (folder / "input_data.en.jsonl").open()}
    for lang in ("es", "ca", "gl", "eu"):
        rows = [json.loads(x) for x in (folder / f"input_data.{lang}.jsonl").open()]
        corrected = {r.key: r for r in prepare_records(rows, lang)}
        published = {r.key: r for r in prepare_records(rows, lang, errata=False)}
        touched = corrected_ok = published_ok = 0
        for key, record in corrected.items():
            for index, (instruction_id, kwargs) in enumerate(zip(record.instruction_id_list, record.kwargs, strict=True)):
                affected = record.applied_errata or record.answer_language != lang or instruction_id == "change_case:english_lowercase"
                answer = oracle(instruction_id, kwargs, record, english[key]) if affected else None
                if answer is None:
                    continue
                touched += 1
                ok = score_record(record, answer).verdicts[index].strict
                corrected_ok += ok
                if not ok:
                    print(f"  {lang} {key} {instruction_id}: the corrected scoring rejects {answer[:80]!r}")
                published_ok += score_record(published[key], answer).verdicts[index].strict
        total = sum(len(r.instruction_id_list) for r in corrected.values())
        print(
            f"{lang}: {touched} of {total} instructions touched; an answer doing what the prompt asks passes "
            f"{corrected_ok}/{touched} with the errata and {published_ok}/{touched} with the published scoring "
            f"({(corrected_ok - published_ok) / total * 100:+.1f} points of inst-level accuracy)"
        )


if __name__ == "__main__":
    main()
