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

import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from datatrove.data import Document, DocumentsPipeline
from datatrove.executor import SlurmPipelineExecutor
from datatrove.pipeline.filters.base_filter import BaseFilter
from datatrove.pipeline.readers import JsonlReader
from datatrove.utils.word_tokenizers import WordTokenizer
from lm_eval_iberian.cpt import lexicons
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lm_eval_iberian._errors import UserError
from lm_eval_iberian._paths import atomic_write_text

__all__ = [
    "C4LocalizedFilter",
    "CorpusError",
    "EXECUTORS",
    "IberianSlurmExecutor",
    "IberianWordTokenizer",
    "JsonlReaderCountingMalformed",
    "MARKER",
    "SlurmOptions",
    "TLDFilter",
    "build_pipeline",
    "filter_corpus",
    "make_executor",
    "summarize",
]

ExecutorKind = Literal["local", "slurm"]


class CorpusError(UserError, ValueError):
    """A corpus-filter input, option or output folder the user must change; the message names the fix."""


def _check_lang(lang: str) -> str:
    if lang not in lexicons.LANGUAGES:
        raise CorpusError(f"unsupported corpus language {lang!r}; choose one of {', '.join(lexicons.LANGUAGES)}")
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
    """datatrove's JSON-lines reader, but a bad line is counted and written out, never just logged.

    Each task writes its malformed lines to ``<malformed_dir>/<rank>.jsonl`` (rewritten when the task runs again),
    so tasks on different nodes never append to one file and a resumed task does not duplicate lines.
    """

    name = "🐿 Jsonl (malformed lines counted)"

    def __init__(self, data_folder: str, malformed_dir: str | None = None, **kwargs: Any):
        super().__init__(data_folder, **kwargs)
        self.malformed_dir = malformed_dir
        self._malformed_file: Path | None = None

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        if self.malformed_dir:
            self._malformed_file = Path(self.malformed_dir) / f"{rank:05d}.jsonl"
            self._malformed_file.unlink(missing_ok=True)
        yield from super().run(data, rank, world_size)

    def _malformed(self, filepath: str, lineno: int, line: str, why: str) -> None:
        self.stat_update("malformed_lines")
        if self._malformed_file:
            self._malformed_file.parent.mkdir(parents=True, exist_ok=True)
            with open(self._malformed_file, "a", encoding="utf-8") as fh:
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
            malformed_dir=str(out / "removed" / "malformed"),
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


class SlurmOptions(BaseModel):
    """What a ``--executor slurm`` run asks Slurm for. Nothing site-specific is assumed: an option left out is left
    to the cluster (its default partition, time limit, memory), except one CPU per task."""

    model_config = ConfigDict(extra="forbid")

    partition: str | None = Field(None, description="partition; default: the cluster's default partition")
    time: str | None = Field(None, description="time limit per task, e.g. 12:00:00; default: the partition's")
    cpus_per_task: int = Field(1, ge=1)
    mem_per_cpu_gb: int | None = Field(None, ge=1, description="memory per CPU in GB; default: the cluster's")
    qos: str | None = None
    account: str | None = None
    max_parallel: int | None = Field(None, ge=1, description="array tasks running at once (sbatch --array=...%N)")
    env_command: str | None = Field(None, description="shell line run before each task; default: put this Python's "
                                    "bin folder first on PATH (the submitting environment, activated or not)")
    sbatch_args: dict[str, str] = Field(default_factory=dict, description="any other sbatch option, e.g. constraint")


def _slurm_options(slurm: SlurmOptions | dict[str, Any] | None) -> SlurmOptions | None:
    """Validate dict options; a bad value is one error naming the command-line option, its value and the rule."""
    if slurm is None or isinstance(slurm, SlurmOptions):
        return slurm
    try:
        return SlurmOptions.model_validate(slurm)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else "?"
            flag = "--slurm-" + field.replace("_", "-")
            problems.append(f"{flag} {err.get('input')!r}: {err['msg']}" if field in SlurmOptions.model_fields
                            else f"unknown Slurm option {field!r}; choose from {', '.join(SlurmOptions.model_fields)}")
        raise CorpusError("; ".join(problems)) from None


# --- the output folder: ours, marked, resumed or overwritten only on request ---------------------------------------

MARKER = "corpus_filter.json"
# Everything a run creates in its output folder; --overwrite removes exactly these (and nothing else).
_OURS = ("kept", "removed", "logs", "report.json", MARKER)
RunMode = Literal["new", "resume", "overwrite"]


def _input_files(input_dir: Path, glob_pattern: str | None) -> list[str]:
    """The files datatrove's reader will read (same listing call), or one error naming what is wrong."""
    from datatrove.io import get_datafolder

    if not input_dir.exists():
        raise CorpusError(f"--input {input_dir} does not exist; give the folder holding the JSON-lines files")
    if not input_dir.is_dir():
        raise CorpusError(
            f"--input {input_dir} is a file; give its folder and select it by name: "
            f"--input {input_dir.parent} --glob {input_dir.name}"
        )
    files = sorted(get_datafolder(str(input_dir)).list_files(recursive=True, glob_pattern=glob_pattern))
    if not files:
        pattern = f" matching --glob {glob_pattern!r}" if glob_pattern else ""
        raise CorpusError(f"--input {input_dir} has no files{pattern}; nothing to filter")
    return files


def _fingerprint(input_dir: Path, files: list[str]) -> str:
    digest = hashlib.sha256()
    for rel in files:
        st = (input_dir / rel).stat()
        digest.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def _read_marker(out: Path) -> dict[str, Any] | None:
    path = out / MARKER
    return json.loads(path.read_text()) if path.is_file() else None


def _write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=1, ensure_ascii=False))


def _check_overlap(input_dir: Path, out: Path) -> None:
    if out == input_dir or out.is_relative_to(input_dir):
        raise CorpusError(f"--output {out} is inside --input {input_dir}: the filter would read its own output; "
                          "choose an --output folder outside the input")
    if input_dir.is_relative_to(out):
        raise CorpusError(f"--input {input_dir} is inside --output {out}; choose an --output folder that does not "
                          "contain the input")


def _completed_ranks(logs: Path) -> set[int]:
    folder = logs / "completions"
    return {int(p.name) for p in folder.iterdir() if p.name.isdigit()} if folder.is_dir() else set()


def _prepare_output(out: Path, settings: dict[str, Any], mode: RunMode) -> dict[str, Any] | None:
    """Decide fresh / resume / overwrite against what the folder holds; return the earlier run's marker to resume."""
    previous = _read_marker(out)
    if previous is None:
        if out.is_file():
            raise CorpusError(f"--output {out} is a file; give a new or empty folder")
        if out.exists() and any(out.iterdir()):
            raise CorpusError(f"--output {out} is not empty and holds no earlier `corpus filter` run ({MARKER}); "
                              "choose a new or empty --output folder (nothing in it is removed)")
        if mode == "resume":
            raise CorpusError(f"--resume: --output {out} holds no earlier run to resume; leave out --resume")
        return None
    changed = sorted(k for k in settings.keys() | previous["settings"].keys()
                     if settings.get(k) != previous["settings"].get(k))
    active = _active_jobs(previous)
    if active and mode != "resume":
        raise CorpusError(f"--output {out}: Slurm jobs {' '.join(active)} of an earlier run there are still queued or "
                          f"running; wait for them (add --resume --wait) or cancel them: scancel {' '.join(active)}")
    if changed:
        if mode == "overwrite":
            return None
        what = ", ".join("input files" if k == "input_fingerprint" else k for k in changed)
        raise CorpusError(f"--output {out} holds a run with other settings or input (changed: {what}); resuming it "
                          "would skip the new documents. Add --overwrite to start again (removes only that run's "
                          f"{', '.join(_OURS)}) or choose another --output")
    if mode == "overwrite":
        return None
    if mode == "new":
        done = len(_completed_ranks(out / "logs"))
        if done == settings["tasks"]:
            raise CorpusError(f"--output {out} already holds this run, complete (report.json); add --resume to "
                              "write its report again or --overwrite to run it again")
        raise CorpusError(f"--output {out} already holds this run ({done} of {settings['tasks']} tasks done); add "
                          "--resume to finish it (done tasks are kept) or --overwrite to start again")
    return previous


def _remove_our_outputs(out: Path) -> None:
    for name in _OURS:
        path = out / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


# --- executors (a registry: kind -> builder) ----------------------------------------------------------------------

class _SubmittedJobs:
    """datatrove's ``job_id_retriever``: parses sbatch's answer as datatrove does and remembers every id, in order
    (the filter arrays, then the merge-stats job)."""

    def __init__(self) -> None:
        self.ids: list[str] = []

    def __call__(self, sbatch_output: str) -> str:
        self.ids.append(sbatch_output.split()[-1])
        return self.ids[-1]


class IberianSlurmExecutor(SlurmPipelineExecutor):
    """datatrove's Slurm executor; options the user left out are not sent (no `time`/`mem-per-cpu` guesses)."""

    def get_sbatch_args(self, max_array: int = 1) -> dict:
        args = super().get_sbatch_args(max_array)
        if self.time is None:
            args.pop("time", None)
        if self.mem_per_cpu_gb is None:
            args.pop("mem-per-cpu", None)
        return args


def _local_executor(pipeline: list[Any], logs: str, tasks: int, workers: int | None, slurm: SlurmOptions | None,
                    job_name: str) -> Any:
    from datatrove.executor import LocalPipelineExecutor

    return LocalPipelineExecutor(pipeline=pipeline, tasks=tasks, workers=workers or 1, logging_dir=logs)


def _slurm_executor(pipeline: list[Any], logs: str, tasks: int, workers: int | None, slurm: SlurmOptions | None,
                    job_name: str) -> Any:
    slurm = slurm or SlurmOptions()
    return IberianSlurmExecutor(
        pipeline=pipeline,
        tasks=tasks,
        logging_dir=logs,
        job_name=job_name,
        partition=slurm.partition,
        time=slurm.time,
        cpus_per_task=slurm.cpus_per_task,
        mem_per_cpu_gb=slurm.mem_per_cpu_gb,
        qos=slurm.qos,
        workers=slurm.max_parallel or -1,
        env_command=slurm.env_command or _job_environment(),
        sbatch_args={**({"account": slurm.account} if slurm.account else {}), **slurm.sbatch_args},
        job_id_retriever=_SubmittedJobs(),
    )


EXECUTORS: dict[str, Callable[..., Any]] = {"local": _local_executor, "slurm": _slurm_executor}


def make_executor(
    kind: ExecutorKind,
    pipeline: list[Any],
    logs: str,
    *,
    tasks: int = 1,
    workers: int | None = None,
    slurm: SlurmOptions | dict[str, Any] | None = None,
    job_name: str = "filter",
) -> Any:
    """datatrove's local or Slurm executor for ``pipeline``."""
    if kind not in EXECUTORS:
        raise CorpusError(f"unknown executor {kind!r}; choose {' or '.join(EXECUTORS)}")
    return EXECUTORS[kind](pipeline, logs, tasks, workers, _slurm_options(slurm), job_name)


# --- Slurm: the cluster, the submitting environment, waiting -------------------------------------------------------

def _slurm(*cmd: str, check: bool = True) -> subprocess.CompletedProcess:
    if shutil.which(cmd[0]) is None:
        raise CorpusError(f"--executor slurm needs Slurm's client commands ({cmd[0]} is not on PATH); run this on "
                          "a node of the cluster that can submit jobs, or use --executor local")
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if check and proc.returncode:
        raise CorpusError(f"`{' '.join(cmd)}` failed: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc


def _resolve_partition(slurm: SlurmOptions) -> SlurmOptions:
    """The partition to use: the one given (if it exists) or the cluster's default; else one error listing them."""
    rows = [line.split("|")[0] for line in _slurm("sinfo", "-h", "-o", "%P|%a").stdout.split()]
    default = next((p.rstrip("*") for p in rows if p.endswith("*")), None)
    names = sorted({p.rstrip("*") for p in rows})
    if slurm.partition is not None:
        if slurm.partition not in names:
            raise CorpusError(f"--slurm-partition {slurm.partition!r} does not exist on this cluster; choose one of "
                              f"{', '.join(names) or '(none)'}")
        return slurm
    if default is None:
        raise CorpusError(f"this cluster has no default partition: pass --slurm-partition (one of "
                          f"{', '.join(names) or '(none)'})")
    return slurm.model_copy(update={"partition": default})


def _job_environment() -> str:
    """A shell line giving each job this process's environment: its bin folder first on PATH (where pip put
    datatrove's ``launch_pickled_pipeline`` and ``merge_stats``), whether or not the venv was activated."""
    bindir = Path(os.path.abspath(sys.executable)).parent  # not resolved: a venv's python is a symlink
    if not (bindir / "launch_pickled_pipeline").exists():
        found = shutil.which("launch_pickled_pipeline")
        if found is None:
            raise CorpusError(f"datatrove's launch_pickled_pipeline is neither beside {sys.executable} nor on PATH; "
                              "pass --slurm-env-command with the line that activates the environment on the nodes")
        bindir = Path(found).parent
    return f'export PATH={shlex.quote(str(bindir))}:"$PATH"'


def _queued(job_id: str) -> list[tuple[str, str, str]]:
    """(task id, state, reason) of a job's entries still queued or running; [] once it left the queue."""
    proc = _slurm("squeue", "-h", "-j", job_id, "-o", "%i|%T|%r", check=False)
    if proc.returncode:  # "Invalid job id": finished and purged
        return []
    return [tuple(line.split("|", 2)) for line in proc.stdout.splitlines() if line.count("|") == 2]


def _active_jobs(marker: dict[str, Any]) -> list[str]:
    jobs = marker.get("jobs") or {}
    ids = [*jobs.get("filter", []), *([jobs["merge_stats"]] if jobs.get("merge_stats") else [])]
    if not ids or shutil.which("squeue") is None:
        return []
    return [j for j in ids if _queued(j)]


def _failed_tasks_message(out: Path, jobs: dict[str, Any], incomplete: list[int], tasks: int) -> str:
    logs = out / "logs"
    order = json.loads((logs / "ranks_to_run.json").read_text())
    per_array = jobs.get("max_array_size", 1001)
    lines = []
    for rank in incomplete[:5]:
        task_log = logs / "logs" / f"task_{rank:05d}.log"
        pos = order.index(rank) if rank in order else None
        slurm_log = None
        if pos is not None and pos // per_array < len(jobs["filter"]):
            slurm_log = logs / "slurm_logs" / f"{jobs['filter'][pos // per_array]}_{pos % per_array}.out"
        log = task_log if task_log.exists() else slurm_log
        tail = ""
        if log is not None and log.exists():
            last = [x for x in log.read_text(errors="replace").splitlines() if x.strip()][-1:]
            tail = f": {last[0][-300:]}" if last else ""
        lines.append(f"task {rank} (log {log}){tail}")
    more = f" (and {len(incomplete) - 5} more)" if len(incomplete) > 5 else ""
    return (f"{len(incomplete)} of {tasks} Slurm tasks failed{more}: " + "; ".join(lines) +
            ". Fix the cause, then run the same command with --resume --wait (done tasks are kept; if the cause "
            "was in the input, with --overwrite instead)")


def _wait_slurm(out: Path, jobs: dict[str, Any], tasks: int, poll_s: float, say: Callable[[str], None]) -> None:
    """Wait until every job left the queue; a failed task (or a merge job that can never start) is an error, and
    nothing of this run is left queued."""
    filter_ids, merge_id = jobs["filter"], jobs.get("merge_stats")
    last = None
    while True:
        queued = {j: _queued(j) for j in [*filter_ids, *([merge_id] if merge_id else [])]}
        seen = ", ".join(f"{task} {state}" + (f" ({reason})" if reason not in ("None", "") else "")
                         for entries in queued.values() for task, state, reason in entries)
        if seen != last:
            say(f"jobs: {seen or 'none queued'}")
            last = seen
        if not any(queued[j] for j in filter_ids):
            incomplete = sorted(set(range(tasks)) - _completed_ranks(out / "logs"))
            never = merge_id and any(reason == "DependencyNeverSatisfied" for _, _, reason in queued[merge_id])
            if incomplete or never:
                if merge_id and queued[merge_id]:
                    _slurm("scancel", merge_id, check=False)
                raise CorpusError(_failed_tasks_message(out, jobs, incomplete, tasks) if incomplete else
                                  f"merge-stats job {merge_id} can never start (a dependency failed); see "
                                  f"{out / 'logs' / 'slurm_logs'}")
            if not (merge_id and queued[merge_id]):
                return
        time.sleep(poll_s)


# --- the run --------------------------------------------------------------------------------------------------------

def _say(message: str) -> None:
    print(f"corpus filter: {message}", file=sys.stderr, flush=True)


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
    workers: int | None = None,
    slurm: SlurmOptions | dict[str, Any] | None = None,
    mode: RunMode = "new",
    wait: bool = False,
    poll_s: float = 5.0,
    say: Callable[[str], None] = _say,
) -> dict[str, Any]:
    """Filter ``input_dir`` into ``output_dir``; return the report (also written to ``report.json``).

    ``mode``: ``new`` refuses a folder holding an earlier run, ``resume`` finishes the earlier run with the same
    settings and input (done tasks are kept; Slurm jobs still queued are waited for, not submitted again),
    ``overwrite`` removes what an earlier run created there (only that) and starts again.
    On Slurm, without ``wait`` the jobs are submitted and a status (job ids, log folders, what is queued) is
    returned instead of a report; with ``wait`` the call returns the report once every task is done, or raises
    :class:`CorpusError` naming the failed tasks and their logs.
    """
    _check_lang(lang)
    if executor not in EXECUTORS:
        raise CorpusError(f"unknown executor {executor!r}; choose {' or '.join(EXECUTORS)}")
    if tasks < 1:
        raise CorpusError(f"--tasks must be at least 1 (got {tasks}): it is the number of input shards")
    options = _slurm_options(slurm)
    if executor == "slurm" and workers is not None:
        raise CorpusError("--workers sets how many tasks the local executor runs at once; on Slurm use "
                          "--slurm-max-parallel (default: no limit)")
    if executor == "local" and options is not None and options != SlurmOptions():
        raise CorpusError("--slurm-* options need --executor slurm")
    source, out = Path(input_dir).resolve(), Path(output_dir).resolve()
    files = _input_files(source, glob_pattern)
    _check_overlap(source, out)
    settings = {"input": str(source), "lang": lang, "tlds": sorted(tlds or []), "text_key": text_key,
                "glob": glob_pattern, "tasks": tasks, "input_fingerprint": _fingerprint(source, files)}
    if executor == "slurm":
        options = _resolve_partition(options or SlurmOptions())
    previous = _prepare_output(out, settings, mode)
    logs = out / "logs"
    if previous is None:
        _remove_our_outputs(out)  # nothing, or exactly what the earlier run (marked as ours) created
    marker = {"tool": "lm-eval-iberian corpus filter", "settings": settings, "executor": executor,
              "input_files": len(files), "jobs": (previous or {}).get("jobs")}
    out.mkdir(parents=True, exist_ok=True)
    _write_json(out / MARKER, marker)
    (out / "report.json").unlink(missing_ok=True)

    done = _completed_ranks(logs)
    if len(done) < tasks:
        pipeline = build_pipeline(str(source), str(out), lang, tlds, text_key, glob_pattern)
        if executor == "local":
            make_executor("local", pipeline, str(logs), tasks=tasks, workers=workers).run()
        else:
            active = _active_jobs(previous) if previous else []
            if active:
                say(f"jobs {' '.join(active)} of this run are still queued or running: waiting for them, "
                    "not submitting again")
            else:
                runner = make_executor("slurm", pipeline, str(logs), tasks=tasks, slurm=options,
                                       job_name=f"filter-{lang}")
                runner.run()
                ids = runner.job_id_retriever.ids
                marker["jobs"] = {"filter": ids[:-1], "merge_stats": ids[-1], "max_array_size": runner.max_array_size,
                                  "partition": options.partition}
                _write_json(out / MARKER, marker)
                say(f"submitted {tasks - len(done)} task(s) as job(s) {' '.join(ids[:-1])} on partition "
                    f"{options.partition}, merge-stats job {ids[-1]}; logs: {logs}, Slurm logs: {logs / 'slurm_logs'}")
            if not wait:
                return {"status": "submitted", "jobs": marker["jobs"], "logs": str(logs),
                        "slurm_logs": str(logs / "slurm_logs"),
                        "queued": {j: [list(e) for e in _queued(j)] for j in marker["jobs"]["filter"]}}
            _wait_slurm(out, marker["jobs"], tasks, poll_s, say)
    missing = sorted(set(range(tasks)) - _completed_ranks(logs))
    if missing:
        raise CorpusError(f"tasks {missing[:10]} did not complete (logs: {logs / 'logs'}); fix the cause and run the "
                          "same command with --resume")
    report = summarize(str(logs))
    _write_json(out / "report.json", report)
    return report


_RULE_PREFIX = {"Gopher Repetition": "gopher_repetition", "Gopher Quality": "gopher_quality", "C4": "c4", "URL": "url"}


def _count(value: Any) -> int:
    return int(value.get("total", 0)) if isinstance(value, dict) else int(value or 0)


def _merged_stats(logs: str) -> list[dict[str, Any]]:
    """Every task's statistics (``logs/stats/*.json``) summed, as datatrove's merge_stats does: the whole run, also
    when it was resumed (datatrove's own ``stats.json`` then holds only the tasks of the last invocation)."""
    from datatrove.utils.stats import PipelineStats

    files = sorted((Path(logs) / "stats").glob("*.json"))
    if not files:
        raise CorpusError(f"no task statistics in {Path(logs) / 'stats'}: the run did not complete")
    merged = sum((PipelineStats.from_json(json.loads(f.read_text())) for f in files), start=PipelineStats())
    return json.loads(merged.to_json())


def summarize(logs: str) -> dict[str, Any]:
    """Documents read, kept and dropped per rule; malformed lines; lines removed by C4 (from datatrove's stats)."""
    report: dict[str, Any] = {"read": 0, "kept": 0, "malformed_lines": 0, "dropped": {}, "lines_removed": {}}
    steps = _merged_stats(logs)
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
