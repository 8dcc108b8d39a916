"""Rebuild tests/ifeval/data/published/<lang>.jsonl from saved pages of the authors' verdict files.

The authors of the paper committed, next to their model responses, their own
per-instruction verdicts: eneko98/Iber-IFEval, ``results/seed{0,1,2}/<lang>/<system>/strict.jsonl``
(one JSON object per response: prompt, response, instruction_id_list,
follow_instruction_list). No snapshot of that repository can be fetched here, so
the files were read with the code-search index's ``read_file`` in 16,000-character
pages; each page's ``text`` was saved verbatim (still JSON-escaped, without the
outer quotes) as ``<lang>__<seed>__<system>__<offset>.txt``.

This script decodes the pages, joins consecutive pages of one file, keeps the
complete rows, finds each row's record key by its prompt in the published prompt
file (``<shared>/data/ifeval/input_data.<lang>.jsonl``; English: the copy in
tests/ifeval/data), checks that the verdict list matches the record's
instructions, and writes one fixture file per language (prompts are not copied:
the tests read them from the prompt files).

    python scripts/build_ifeval_published_fixture.py --pages PAGES_DIR [--shared ../shared]
"""

import argparse
import json
import os
import tempfile
from collections import defaultdict
from pathlib import Path

REPO = "eneko98/Iber-IFEval"
COMMIT = "3f939167333664cf0b4bac4bcaa0b5a9695a828a"
PAGE = 16000
ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "ifeval" / "data" / "published"
UNSCORED = {"language:response_language"}  # left out of the authors' registry


def _prompt_file(lang: str, shared: Path) -> Path:
    if lang == "en":
        return ROOT / "tests" / "ifeval" / "data" / "input_data.en.jsonl"
    return shared / "data" / "ifeval" / f"input_data.{lang}.jsonl"


def _segments(pages: Path) -> dict[tuple[str, str, str], list[tuple[int, str]]]:
    """``{(lang, seed, system): [(offset, decoded text of consecutive pages), ...]}``."""
    by_file: dict[tuple[str, str, str], list[tuple[int, str]]] = defaultdict(list)
    for path in sorted(pages.glob("*__*__*__*.txt")):
        lang, seed, system, offset = path.stem.split("__")
        text = json.loads('"' + path.read_text(encoding="utf-8").rstrip("\n") + '"')
        by_file[(lang, seed, system)].append((int(offset), text))
    joined: dict[tuple[str, str, str], list[tuple[int, str]]] = {}
    for name, parts in by_file.items():
        parts.sort()
        segments: list[tuple[int, str]] = []
        for offset, text in parts:
            if segments and segments[-1][0] + len(segments[-1][1]) == offset:
                segments[-1] = (segments[-1][0], segments[-1][1] + text)
            else:
                segments.append((offset, text))
        joined[name] = segments
    return joined


def _rows(offset: int, text: str) -> list[dict]:
    lines = text.split("\n")
    if offset > 0:
        lines = lines[1:]  # starts inside a row
    rows = []
    for line in lines:
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # the row the page cut off
    return rows


def build(pages: Path, shared: Path) -> tuple[dict[str, list[dict]], list[tuple]]:
    """The fixture rows per language, and ``(lang, source, page offsets, rows kept)`` per source file."""
    prompts: dict[str, dict[str, dict]] = {}
    fixture: dict[str, list[dict]] = defaultdict(list)
    sources: list[tuple] = []
    for (lang, seed, system), segments in sorted(_segments(pages).items()):
        kept = len(fixture[lang])
        if lang not in prompts:
            records = [json.loads(line) for line in _prompt_file(lang, shared).read_text(encoding="utf-8").splitlines()]
            prompts[lang] = {r["prompt"]: r for r in records}
        source = f"results/{seed}/{lang}/{system}/strict.jsonl"
        for offset, text in segments:
            for row in _rows(offset, text):
                record = prompts[lang].get(row["prompt"])
                if record is None:
                    raise SystemExit(f"{source} @ {offset}: prompt not in the {lang} prompt file: {row['prompt'][:80]!r}")
                scored = [i.split(":", 1)[-1] if i.count(":") > 1 else i for i in record["instruction_id_list"]]
                scored = [i for i in scored if i not in UNSCORED]
                if scored != row["instruction_id_list"] or len(row["follow_instruction_list"]) != len(scored):
                    raise SystemExit(f"{source} key {record['key']}: verdicts do not match the record's instructions")
                if not scored:
                    continue  # a response_language-only prompt: nothing was scored
                fixture[lang].append(
                    {
                        "source": source,
                        "key": record["key"],
                        "instruction_id_list": row["instruction_id_list"],
                        "follow_instruction_list": row["follow_instruction_list"],
                        "response": row["response"],
                    }
                )
        offsets = [f"{o}–{o + len(t)}" for o, t in segments]
        sources.append((lang, f"results/{seed}/{lang}/{system}/strict.jsonl", offsets, len(fixture[lang]) - kept))
    return fixture, sources


PROVENANCE_HEAD = f"""# The authors' IFEval verdicts: provenance

Repository `{REPO}`, commit `{COMMIT}` (the commit `read_file` reported for every page).
Each file below is `results/<seed>/<lang>/<system>/strict.jsonl` there: the authors' own
strict verdicts (`follow_instruction_list`) for one system's responses, written by their
`evaluation_lib.py`. No snapshot of the repository could be fetched, so the files were read
with the code-search index's `read_file` in 16,000-character pages; each page's text was
saved verbatim and `scripts/build_ifeval_published_fixture.py --pages DIR` rebuilds these
files from the saved pages (it checks every row's instructions against the prompt file).

What a fixture row keeps: `source` (the file), `key` (found by the row's prompt in the
published prompt file; prompts are not copied, the tests read them from the prompt files),
`instruction_id_list` and `follow_instruction_list` (their verdicts, `language:response_language`
left out as their registry does) and `response`, unchanged. Rows for prompts whose only
instruction is response_language (nothing scored) are dropped, as are the rows a page cut.

How the pages were chosen: across seeds and systems (Llama-3.1-8B instruct, language
experts, merges; Qwen3-8B), at offsets spread over the prompt order and weighted towards
the stretches densest in the instructions where the two scorings differ (postscript,
first words, change_case, sections, constrained answers, end phrases), mostly as runs of
contiguous pages; pages whose long repetitive responses could not be copied exactly were
left out. Every page's decoded text was checked to be exactly 16,000 characters (or the
file's remaining length), with three exceptions: two pages were saved only up to the end
of the last row before a long non-Latin-script answer (ca seed2 instruct 830000, eu seed0
joint-eu 436000; their ranges below end there, and the rows after it were dropped), and in
one page (eu seed0 instruct 200000, key 1793) a degenerate answer repeats " zuen" and its
count (248) was fixed by the page length. The authors published no Galician verdicts, so
there is no gl fixture.

The responses are the outputs of the models the paper evaluates; they are test data only
and the package does not ship them.

| lang | file | characters read | rows kept |
|---|---|---|---|
"""


def _provenance(sources: list[tuple]) -> str:
    lines = [f"| {lang} | `{source}` | {', '.join(offsets)} | {kept} |" for lang, source, offsets, kept in sources]
    return PROVENANCE_HEAD + "\n".join(lines) + "\n"


def _write(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        for line in lines:
            fh.write(line + "\n")
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", required=True, type=Path, help="folder of saved read_file pages")
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared", help="folder with data/ifeval/")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    fixture, sources = build(args.pages, args.shared)
    for lang, rows in sorted(fixture.items()):
        _write(args.out / f"{lang}.jsonl", [json.dumps(row, ensure_ascii=False) for row in rows])
        files = sorted({r["source"] for r in rows})
        verdicts = sum(len(r["follow_instruction_list"]) for r in rows)
        print(f"{lang}: {len(rows)} responses, {verdicts} verdicts, from {len(files)} files ({REPO} @ {COMMIT[:8]})")
    _write(args.out / "PROVENANCE.md", _provenance(sources).splitlines())


if __name__ == "__main__":
    main()
