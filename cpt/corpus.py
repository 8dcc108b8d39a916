"""Corpus filtering on datatrove: URL TLD, C4 line/document rules, Gopher repetition and quality.

The engine is datatrove (readers, writers, local and Slurm executors, per-step
statistics), so a run scales from this laptop to a cluster unchanged. What is
ours is what makes the rules work outside English:

* a datatrove ``WordTokenizer`` for eu/gl/ca/es/en built on the IFEval language
  tools (Punkt with per-language abbreviations + Treebank tokens), so no spaCy
  or stanza model is downloaded and Galician gets a real tokenizer;
* localized stop words, bad words, mean-word-length bounds and terminal
  punctuation (``lexicons``), passed to datatrove's Gopher filters;
* a C4 filter with Dolma's rules (datatrove's hard-codes English punctuation);
* a TLD filter (the paper kept Spanish web documents from .es/.eus/.cat/.gal);
* a JSON-lines reader that counts and writes out malformed lines instead of
  skipping them with a log message.

Thresholds are Dolma's: Gopher (words 50-100k, mean word length 3-10, symbol
ratio 0.1, bullet lines 0.9, ellipsis lines 0.3, alphabetic words 0.8, 2 stop
words; duplicate line and duplicate-line character fractions 0.3, top 2/3/4-gram
0.20/0.18/0.16, duplicate 5-10-gram 0.15...0.10) and C4 (drop lines without
terminal punctuation, with fewer than 3 words or mentioning "javascript";
drop documents with a bad word, "lorem ipsum" or "{").
"""

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.filters.base_filter import BaseFilter
from datatrove.pipeline.readers import JsonlReader
from datatrove.utils.word_tokenizers import WordTokenizer
from lm_eval_iberian.cpt import lexicons

__all__ = [
    "C4LocalizedFilter",
    "IberianWordTokenizer",
    "JsonlReaderCountingMalformed",
    "TLDFilter",
    "build_pipeline",
    "filter_corpus",
    "make_executor",
    "summarize",
]

ExecutorKind = Literal["local", "slurm"]


def _check_lang(lang: str) -> str:
    if lang not in lexicons.LANGUAGES:
        raise ValueError(f"unsupported corpus language {lang!r}; choose one of {', '.join(lexicons.LANGUAGES)}")
    return lang


class IberianWordTokenizer(WordTokenizer):
    """datatrove tokenizer for eu/gl/ca/es/en: Punkt sentences + Treebank tokens, nothing downloaded."""

    def __init__(self, language: str):
        super().__init__(_check_lang(language))

    def word_tokenize(self, text: str) -> list[str]:
        from lm_eval_iberian.ifeval._text import word_tokens

        return word_tokens(text, self.language)

    def sent_tokenize(self, text: str) -> list[str]:
        from lm_eval_iberian.ifeval import split_sentences

        return [s.strip() for s in split_sentences(text, self.language) if s.strip()]

    def span_tokenize(self, text: str) -> list[tuple[int, int]]:
        spans, start = [], 0
        for sentence in self.sent_tokenize(text):
            begin = text.index(sentence, start)
            spans.append((begin, begin + len(sentence)))
            start = begin + len(sentence)
        return spans


class JsonlReaderCountingMalformed(JsonlReader):
    """datatrove's JSON-lines reader, but a bad line is counted and written out, never just logged."""

    name = "🐿 Jsonl (malformed lines counted)"

    def __init__(self, data_folder: str, malformed_path: str | None = None, **kwargs: Any):
        super().__init__(data_folder, **kwargs)
        self.malformed_path = malformed_path

    def _malformed(self, filepath: str, lineno: int, line: str, why: str) -> None:
        self.stat_update("malformed_lines")
        if self.malformed_path:
            with open(self.malformed_path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps({"file": filepath, "line": lineno, "why": why, "raw": line[:2000]}, ensure_ascii=False) + "\n")

    def read_file(self, filepath: str) -> DocumentsPipeline:
        with self.data_folder.open(filepath, "r", compression=self.compression) as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                with self.track_time():
                    try:
                        data = json.loads(line)
                    except json.JSONDecodeError as exc:
                        self._malformed(filepath, lineno, line, f"not JSON: {exc.msg}")
                        continue
                    if not isinstance(data, dict) or not isinstance(data.get(self.text_key), str):
                        self._malformed(filepath, lineno, line, f"no string field {self.text_key!r}")
                        continue
                    document = self.get_document_from_dict(data, filepath, lineno - 1)
                    if not document:
                        self._malformed(filepath, lineno, line, "empty text")
                        continue
                yield document


class TLDFilter(BaseFilter):
    """Keep documents whose URL host ends in one of the given top-level domains."""

    name = "🌐 URL top-level domain"

    def __init__(self, tlds: list[str], url_key: str = "url", exclusion_writer: Any = None):
        super().__init__(exclusion_writer)
        self.tlds = tuple("." + t.lower().lstrip(".") for t in tlds)
        self.url_key = url_key

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        url = doc.metadata.get(self.url_key)
        if not isinstance(url, str) or not url:
            return False, "url_missing"
        host = (urlsplit(url if "//" in url else "//" + url).hostname or "").lower().rstrip(".")
        return True if host.endswith(self.tlds) else (False, "url_tld")


class C4LocalizedFilter(BaseFilter):
    """C4's rules (as datatrove's C4QualityFilter + C4BadWordsFilter apply them), localized.

    Kept lines end in the language's terminal punctuation (not "...") and have at
    least 3 words; a line mentioning "javascript" is removed; a kept line with
    "lorem ipsum" or "{" drops the document, as does a bad word in the kept text
    or no line left.
    """

    name = "⛰ C4 (localized)"

    def __init__(self, language: str, min_words_per_line: int = 3, exclusion_writer: Any = None):
        super().__init__(exclusion_writer)
        self.language = _check_lang(language)
        self.terminal = lexicons.TERMINAL_PUNCTUATION[language]
        self.min_words_per_line = min_words_per_line
        words = sorted(lexicons.BAD_WORDS[language])
        self.bad_words = re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, words)) + r")(?!\w)", re.IGNORECASE)

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        kept = []
        for line in doc.text.splitlines():
            stripped = line.strip()
            if not stripped:
                continue
            if not stripped.endswith(self.terminal) or stripped.endswith("..."):
                self.stat_update("line_removed_no_terminal_punctuation")
                continue
            if len(stripped.split()) < self.min_words_per_line:
                self.stat_update("line_removed_too_few_words")
                continue
            lowered = stripped.lower()
            if "lorem ipsum" in lowered:
                return False, "c4_lorem_ipsum"
            if "javascript" in lowered:  # C4 drops the line, not the page
                self.stat_update("line_removed_javascript")
                continue
            if "{" in stripped:
                return False, "c4_curly_bracket"
            kept.append(stripped)
        if not kept:
            return False, "c4_no_lines_left"
        text = "\n".join(kept)
        if self.bad_words.search(text):
            return False, "c4_bad_word"
        doc.text = text
        return True


def build_pipeline(
    input_dir: str,
    output_dir: str,
    lang: str,
    tlds: list[str] | None = None,
    text_key: str = "text",
    glob_pattern: str | None = None,
) -> list[Any]:
    """The datatrove pipeline: reader -> TLD -> C4 -> Gopher repetition -> Gopher quality -> writer."""
    from datatrove.pipeline.filters import GopherQualityFilter, GopherRepetitionFilter
    from datatrove.pipeline.writers import JsonlWriter

    _check_lang(lang)
    out = Path(output_dir)
    (out / "removed").mkdir(parents=True, exist_ok=True)
    tokenizer = IberianWordTokenizer(lang)

    def removed(rule: str) -> JsonlWriter:
        return JsonlWriter(str(out / "removed" / rule), output_filename="${rank}.jsonl.gz")

    low, high = lexicons.MEAN_WORD_LENGTH[lang]
    steps: list[Any] = [
        JsonlReaderCountingMalformed(
            input_dir,
            malformed_path=str(out / "removed" / "malformed_lines.jsonl"),
            text_key=text_key,
            glob_pattern=glob_pattern,
        )
    ]
    if tlds:
        steps.append(TLDFilter(tlds, exclusion_writer=removed("url_tld")))
    steps += [
        C4LocalizedFilter(lang, exclusion_writer=removed("c4")),
        GopherRepetitionFilter(
            dup_line_frac=0.3,
            dup_para_frac=None,
            dup_line_char_frac=0.3,
            dup_para_char_frac=None,
            exclusion_writer=removed("gopher_repetition"),
            language=tokenizer,
        ),
        GopherQualityFilter(
            min_avg_word_length=low,
            max_avg_word_length=high,
            stop_words=sorted(lexicons.STOP_WORDS[lang]),
            exclusion_writer=removed("gopher_quality"),
            language=tokenizer,
        ),
        JsonlWriter(str(out / "kept"), output_filename="${rank}.jsonl.gz"),
    ]
    return steps


def filter_corpus(
    input_dir: str,
    output_dir: str,
    lang: str,
    *,
    tlds: list[str] | None = None,
    text_key: str = "text",
    glob_pattern: str | None = None,
    executor: ExecutorKind = "local",
    tasks: int = 1,
    workers: int = 1,
    slurm: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run the filters; returns (and writes to ``report.json``) per-rule counts of dropped documents."""
    pipeline = build_pipeline(input_dir, output_dir, lang, tlds, text_key, glob_pattern)
    logs = str(Path(output_dir) / "logs")
    make_executor(executor, pipeline, logs, tasks=tasks, workers=workers, slurm=slurm, job_name=f"filter-{lang}").run()
    if executor == "slurm":
        return {"submitted": True, "logging_dir": logs, "report": f"run `summarize('{logs}')` when the jobs end"}
    report = summarize(logs)
    (Path(output_dir) / "report.json").write_text(json.dumps(report, indent=1, ensure_ascii=False))
    return report


def make_executor(
    kind: ExecutorKind,
    pipeline: list[Any],
    logs: str,
    *,
    tasks: int = 1,
    workers: int = 1,
    slurm: dict[str, Any] | None = None,
    job_name: str = "filter",
) -> Any:
    """datatrove's local or Slurm executor for ``pipeline`` (``slurm``: SlurmPipelineExecutor options)."""
    if kind == "local":
        from datatrove.executor import LocalPipelineExecutor

        return LocalPipelineExecutor(pipeline=pipeline, tasks=tasks, workers=workers, logging_dir=logs)
    if kind == "slurm":
        from datatrove.executor import SlurmPipelineExecutor

        options = {"time": "12:00:00", "partition": "cpu", "job_name": job_name, **(slurm or {})}
        return SlurmPipelineExecutor(pipeline=pipeline, tasks=tasks, workers=workers, logging_dir=logs, **options)
    raise ValueError(f"unknown executor {kind!r}; choose local or slurm")


def _stats(logs: str) -> Iterator[dict[str, Any]]:
    path = Path(logs) / "stats.json"
    yield from json.loads(path.read_text())


_RULE_PREFIX = {"Gopher Repetition": "gopher_repetition", "Gopher Quality": "gopher_quality", "C4": "c4", "URL": "url"}


def _count(value: Any) -> int:
    return int(value.get("total", 0)) if isinstance(value, dict) else int(value or 0)


def summarize(logs: str) -> dict[str, Any]:
    """Documents read, kept and dropped per rule; malformed lines; lines removed by C4 (from datatrove's stats)."""
    report: dict[str, Any] = {"read": 0, "kept": 0, "malformed_lines": 0, "dropped": {}, "lines_removed": {}}
    steps = list(_stats(logs))
    for step in steps:
        name, stats = step["name"], step["stats"]
        if "malformed lines counted" in name:
            report["read"] = _count(stats.get("documents"))
            report["malformed_lines"] = _count(stats.get("malformed_lines"))
            continue
        prefix = next((p for key, p in _RULE_PREFIX.items() if key in name), None)
        if prefix is None:
            continue
        for key, value in stats.items():
            if key.startswith("dropped_"):
                reason = key.removeprefix("dropped_")
                reason = reason if reason.startswith(prefix) else f"{prefix}_{reason}"
                report["dropped"][reason] = _count(value)
            elif key.startswith("line_removed_"):
                report["lines_removed"][key.removeprefix("line_removed_")] = _count(value)
    last_filter = [s for s in steps if any(k in s["name"] for k in _RULE_PREFIX)][-1]["stats"]
    report["kept"] = _count(last_filter.get("forwarded"))
    return report
