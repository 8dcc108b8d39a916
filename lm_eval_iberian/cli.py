"""lm-eval-iberian: the plugin's command line (the evaluations themselves run in lm-eval: lm_eval --tasks iberian_...).

A mistake in what you typed or gave (a path, a value, a damaged file) ends in one line naming the problem and
the fix, exit status 2; anything else is a bug and keeps its traceback.
"""

import argparse
import os
import sys
from collections.abc import Sequence

from lm_eval_iberian._errors import UsageError, UserError
from lm_eval_iberian._parsing import argparse_type, parse_float, parse_float_list, parse_int, parse_seed

DATA_DIR_ENV = "IBERIAN_DATA_DIR"


def _cmd_tasks(args: argparse.Namespace) -> int:
    from lm_eval_iberian import tasks_path
    from lm_eval_iberian._task_table import render_markdown, render_text

    print(f"include path: {tasks_path()}")
    print("(the stock `lm_eval` CLI finds these tasks by itself; other harness code can pass the path as include_path)\n")
    print(render_markdown() if args.markdown else render_text())
    return 0


def _split_csv(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def _mirror_dir(value: str | None, flag: str) -> str:
    """``--dir``/``--dest``, else ``$IBERIAN_DATA_DIR`` (read when the command runs, not when the parser is built)."""
    folder = value or os.environ.get(DATA_DIR_ENV)
    if not folder:
        raise UsageError(f"give the mirror folder with {flag} DIR, or set {DATA_DIR_ENV}=DIR")
    return folder


def _cmd_pull(args: argparse.Namespace) -> int:
    from lm_eval_iberian.data import pull

    dest = _mirror_dir(args.dest, "--dest")
    written = pull(dest, _split_csv(args.tasks), _split_csv(args.datasets))
    print(f"wrote {len(written)} split(s) to {dest}")
    return 0


def _cmd_add(args: argparse.Namespace) -> int:
    from lm_eval_iberian.data import add

    root = _mirror_dir(args.dir, "--dir")
    ref, local = add(root, args.dataset, args.config, args.split, args.file, split_column=args.split_column,
                     split_value=args.split_value, sheet=args.sheet)
    notes = []
    if local.blank_rows:
        notes.append(f"skipped {local.blank_rows} blank row(s)")
    if local.other_splits:
        notes.append("left out the rows of " + ", ".join(f"{args.split_column}={v!r} ({n})" for v, n in sorted(local.other_splits.items())))
    print(f"added {ref} ({len(local.rows)} rows) to {root}" + (f"; {'; '.join(notes)}" if notes else ""))
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    from lm_eval_iberian.data import verify

    report = verify(_mirror_dir(args.dir, "--dir"), _split_csv(args.tasks))
    print("\n".join(report.lines()))
    return 0 if report.passed else 1


def _cmd_demo_path(args: argparse.Namespace) -> int:
    from lm_eval_iberian import demo_data_dir

    print(demo_data_dir())
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from lm_eval_iberian.demo import run_demo

    run_demo(args.out, limit=args.limit)
    return 0


def _cmd_ifeval_errata(args: argparse.Namespace) -> int:
    from lm_eval_iberian.ifeval._errata import render_errata_markdown

    print(render_errata_markdown())
    return 0


def _read_response_rows(path: str) -> list[dict]:
    """JSON lines, each an IFEval record with a string ``response``; errors name the file and line."""
    from lm_eval_iberian._jsonl import json_lines

    rows = []
    try:
        with open(path, encoding="utf-8") as fh:
            lines = list(fh)
    except FileNotFoundError:
        raise UsageError(f"--input {path}: no such file") from None
    except UnicodeDecodeError:
        raise UsageError(f"--input {path}: not UTF-8 text; give a JSON-lines file") from None
    except IsADirectoryError:
        raise UsageError(f"--input {path} is a folder; give a JSON-lines file") from None
    for line_no, row in json_lines(lines, path, UsageError):
        if not isinstance(row.get("response"), str):
            raise UsageError(f"{path}:{line_no}: no string field 'response'; add the model's answer as \"response\"")
        rows.append(row)
    if not rows:
        raise UsageError(f"--input {path} holds no records")
    return rows


def _cmd_ifeval_score(args: argparse.Namespace) -> int:
    import json

    from lm_eval_iberian._paths import atomic_write_text, check_output
    from lm_eval_iberian.ifeval import score_responses

    output = check_output(args.output, {"--input": args.input}, "--output") if args.output else None
    rows = _read_response_rows(args.input)
    scores = score_responses(rows, [row["response"] for row in rows], args.lang, protocol=args.protocol, errata=not args.published)
    if output is not None:
        atomic_write_text(output, scores.model_dump_json(indent=1))
    print(json.dumps(scores.model_dump(exclude={"responses"}), indent=1))
    return 0


# corpus filter's Slurm settings: option --slurm-<key> (dashes for underscores), argparse dest slurm_<key>, and the
# key of filter_corpus(slurm=...); --slurm-sbatch-arg (pairs) is handled apart.
_CORPUS_SLURM_KEYS = ("partition", "time", "cpus_per_task", "mem_per_cpu_gb", "qos", "account", "max_parallel",
                      "env_command")


def _cmd_corpus_filter(args: argparse.Namespace) -> int:
    import json
    import shlex

    from lm_eval_iberian.cpt.corpus import filter_corpus

    slurm_given = {key: getattr(args, f"slurm_{key}") for key in _CORPUS_SLURM_KEYS}
    slurm_given["sbatch_args"] = dict(args.slurm_sbatch_arg or [])
    slurm_given = {k: v for k, v in slurm_given.items() if v not in (None, {})}
    result = filter_corpus(
        args.input,
        args.output,
        args.lang,
        tlds=_split_csv(args.tlds),
        text_key=args.text_key,
        glob_pattern=args.glob,
        executor=args.executor,
        tasks=args.tasks,
        workers=args.workers,
        slurm=slurm_given or None,
        mode="resume" if args.resume else "overwrite" if args.overwrite else "new",
        wait=args.wait,
        poll_s=args.poll_seconds,
    )
    if result.get("status") == "submitted":
        # The command that waits for these jobs and writes report.json: this one, resuming, with --wait; called the
        # way this process was (by its path: the venv need not be active), else through this interpreter.
        prog = [os.path.abspath(sys.argv[0])] if os.path.basename(sys.argv[0]) == "lm-eval-iberian" else \
            [sys.executable, "-m", "lm_eval_iberian"]
        result["then"] = shlex.join([*prog, *_corpus_filter_argv(args), "--resume", "--wait"])
    print(json.dumps(result, indent=1, ensure_ascii=False))
    return 0


def _corpus_filter_argv(args: argparse.Namespace) -> list[str]:
    """``corpus filter`` arguments that give ``args`` again (without --resume/--overwrite/--wait)."""
    argv = ["corpus", "filter", "--input", os.path.abspath(args.input), "--output", os.path.abspath(args.output),
            "--lang", args.lang]
    for flag, value in [
        ("--tlds", args.tlds), ("--text-key", args.text_key), ("--glob", args.glob), ("--executor", args.executor),
        ("--tasks", args.tasks), ("--workers", args.workers),
        *((f"--slurm-{key.replace('_', '-')}", getattr(args, f"slurm_{key}")) for key in _CORPUS_SLURM_KEYS),
        ("--poll-seconds", args.poll_seconds if args.poll_seconds != 5.0 else None),
    ]:
        if value is not None:
            argv += [flag, str(value)]
    for key, value in args.slurm_sbatch_arg or []:
        argv += ["--slurm-sbatch-arg", f"{key}={value}"]
    return argv


def _sbatch_arg(value: str) -> tuple[str, str]:
    key, sep, val = value.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"--slurm-sbatch-arg {value!r}: expected KEY=VALUE, e.g. constraint=intel")
    return key.removeprefix("--"), val


def _print_report(args: argparse.Namespace, runs: list, aliases: dict[str, str] | None = None) -> None:
    """Tables and paired comparisons (``report`` and ``grid report``): tables by default, unless only a plot or a
    comparison is asked for."""
    from lm_eval_iberian.report import build_table, compare_runs, render, render_comparisons

    for name in args.table or ([] if getattr(args, "plot", None) or args.compare else ["benchmarks"]):
        print(render(build_table(name, runs), args.format))
        print()
    if args.compare:
        comparisons = compare_runs(runs, args.compare, bootstrap=args.bootstrap_samples, seed=args.bootstrap_seed,
                                   aliases=aliases)
        print(render_comparisons(comparisons, args.format))
        print()


def _cmd_report(args: argparse.Namespace) -> int:
    from lm_eval_iberian._paths import check_output
    from lm_eval_iberian.report import load_runs, plot_sweep

    out = check_output(args.out, {f"input {p}": p for p in args.results}, "--out") if args.plot else None
    runs = load_runs(args.results)
    if args.plot:
        print(f"wrote {plot_sweep(runs, out)}")
    _print_report(args, runs)
    return 0


def _grid(plan_path: str):
    from lm_eval_iberian.runs import expand_plan, load_plan

    plan, file = load_plan(plan_path)
    return expand_plan(plan, file)


def _cmd_grid_run(args: argparse.Namespace) -> int:
    import shlex

    from lm_eval_iberian.runs import format_status, run_grid

    grid = _grid(args.plan)
    try:
        summary = run_grid(grid, wait=not args.no_wait, poll_s=args.poll_seconds, say=lambda line: print(line, flush=True))
    except KeyboardInterrupt:  # run_grid has said what keeps running and how to resume
        return 130
    print()
    print(format_status(summary.statuses))
    again = f"lm-eval-iberian grid run {shlex.quote(str(grid.plan_file))}"
    if args.no_wait:
        print(f"\nsubmitted {summary.submitted} job(s); `lm-eval-iberian grid status {shlex.quote(str(grid.plan_file))}` "
              f"shows them; `{again}` waits for them and finishes what is missing")
        return 0
    if summary.ok:
        print(f"\nall {len(summary.statuses)} jobs done; results under {grid.output / 'jobs'}")
        return 0
    failed = sum(1 for s in summary.statuses if s.state != "done")
    print(f"\n{failed} job(s) not done (logs above); `{again}` runs only those again", file=sys.stderr)
    return 1


def _cmd_grid_status(args: argparse.Namespace) -> int:
    from lm_eval_iberian.runs import format_status, grid_status

    grid = _grid(args.plan)
    print(f"plan {grid.plan_file}: {len(grid.jobs)} jobs, output {grid.output}")
    print(format_status(grid_status(grid)))
    return 0


def _cmd_grid_report(args: argparse.Namespace) -> int:
    import shlex

    from lm_eval_iberian.report import load_runs
    from lm_eval_iberian.runs import GridError, job_results

    grid = _grid(args.plan)
    files, unit_of = [], {}
    for job in grid.jobs:
        for path in job_results(job):
            files.append(path)
            unit_of[str(path)] = job.unit
    if not files:
        raise GridError(f"no job of the plan has results yet; run `lm-eval-iberian grid run {shlex.quote(str(grid.plan_file))}`")
    missing = len(grid.jobs) - len({str(p.parent) if p.name.startswith("results_") else str(p.parent.parent) for p in files})
    if missing:
        print(f"grid report: {missing} of {len(grid.jobs)} jobs have no results yet "
              f"(`lm-eval-iberian grid status {shlex.quote(str(grid.plan_file))}`)", file=sys.stderr)
    runs = load_runs(files)
    aliases = {}
    for run in runs:  # a unit's name (as in the plan's job names) also names its row, when it has one row
        aliases.setdefault(unit_of[run.path], set()).add(run.label)
    _print_report(args, runs, {u: labels.pop() for u, labels in aliases.items() if len(labels) == 1})
    return 0


def _cmd_sweep(args: argparse.Namespace) -> int:
    from lm_eval_iberian._paths import check_output
    from lm_eval_iberian.merge import MergeRecipe
    from lm_eval_iberian.merge._sweep import format_sweep_table, run_sweep

    output = check_output(args.output, {"--recipe": args.recipe}, "--output")
    recipe = MergeRecipe.from_yaml(args.recipe)
    if args.seed is not None:
        recipe = MergeRecipe.from_mergekit_dict(recipe.to_dict(), seed=args.seed, source=recipe.source)
    tasks = _split_csv(args.tasks)
    if not tasks:
        raise UsageError("--tasks is empty; give comma-separated tasks or groups, e.g. iberian_eu,iberian_flores_to_eu")
    hflm = {"batch_size": args.batch_size, "max_length": args.max_length} if args.max_length else {"batch_size": args.batch_size}
    eval_args = {
        "limit": args.limit,
        "num_fewshot": args.num_fewshot,
        "apply_chat_template": args.apply_chat_template,
        "fewshot_as_multiturn": args.fewshot_as_multiturn,
        "gen_kwargs": args.gen_kwargs,
        "bootstrap_iters": args.bootstrap_iters,
    }
    if args.backend == "vllm":
        hflm = {k: v for k, v in {"max_model_len": args.max_length, "dtype": args.dtype}.items() if v is not None}
        from lm_eval.utils import simple_parse_args_string  # typed values, as lm-eval's own --model_args

        for item in _split_csv(args.vllm_args) or []:
            key, sep, _ = item.partition("=")
            if not sep or not key.strip():
                raise UsageError(f"--vllm_args: {item!r} is not key=value; write e.g. tensor_parallel_size=2,gpu_memory_utilization=0.8")
        hflm.update(simple_parse_args_string(args.vllm_args or ""))
    elif args.vllm_args:
        raise UsageError("--vllm_args applies to --backend vllm only; drop it or add --backend vllm")
    rows = run_sweep(recipe, args.param, args.values, tasks, output, device=args.device,
                     dtype=args.dtype, hflm_args=hflm, eval_args={k: v for k, v in eval_args.items() if v is not None},
                     backend=args.backend)
    print(format_sweep_table(rows))
    print(f"wrote {output / 'sweep.csv'} and one results.json per point under {output}")
    return 0


def _limit(text: str, name: str) -> float | int:
    """lm-eval's --limit: a document count (integer >= 1) or a fraction in (0, 1)."""
    value = parse_float(text, name, minimum=0)
    if 0 < value < 1:
        return value
    return parse_int(text, name, minimum=1)


_MIRROR_HELP = f"mirror folder (default: ${DATA_DIR_ENV})"


def _add_compare_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--compare", metavar="BASELINE",
                   help="paired comparison of every other model with BASELINE (a row name, model id or name, or, in "
                        "grid report, a plan entry's name) on the same items: difference, 95%% paired bootstrap "
                        "interval, items paired; needs lm-eval's per-sample logs (--log_samples)")
    p.add_argument("--bootstrap-samples", type=argparse_type(parse_int, "--bootstrap-samples", minimum=1), default=1000,
                   help="with --compare: bootstrap resamples (default 1000)")
    p.add_argument("--bootstrap-seed", type=argparse_type(parse_int, "--bootstrap-seed", minimum=0), default=0,
                   help="with --compare: seed of the resampling, for reproducible intervals (default 0)")


class _Commands:
    """Adds sub-commands and remembers each one's help, for the top-level description."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def add(self, sub: argparse._SubParsersAction, path: str, help: str, **kwargs) -> argparse.ArgumentParser:
        name = path.rsplit(" ", 1)[-1]
        self.lines.append((path, help))
        return sub.add_parser(name, help=help, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lm-eval-iberian", formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands = _Commands()

    p = commands.add(sub, "tasks", "print the include path and the table of iberian_* tasks and groups")
    p.add_argument("--markdown", action="store_true", help="print Markdown tables (as in the README)")
    p.set_defaults(func=_cmd_tasks)

    p = commands.add(
        sub,
        "demo",
        "the whole pipeline offline on tiny models: CPT-trained experts, merges and a sweep, iberian_* "
             "evaluation, tables and the sweep plot (what `make demo` runs)",
    )
    p.add_argument("--out", default="demo_out", help="output folder for models, results, tables and plot (default: demo_out)")
    p.add_argument("--limit", type=argparse_type(parse_int, "--limit", minimum=1), default=4,
                   help="documents per task in the evaluations (default: 4)")
    p.set_defaults(func=_cmd_demo)

    data = commands.add(sub, "data", "offline data mirror for compute nodes without internet: pull, add, verify, demo-path")
    dsub = data.add_subparsers(dest="data_command", required=True, metavar="SUBCOMMAND")

    p = commands.add(dsub, "data pull", "download every dataset/config/split the tasks read into the mirror (needs internet)")
    p.add_argument("--dest", default=None, help=_MIRROR_HELP)
    p.add_argument("--tasks", help="comma-separated task or group names to mirror (default: every iberian_* task)")
    p.add_argument("--datasets", help="comma-separated hub dataset ids to restrict to, e.g. HiTZ/EusTrivia,nbel/EsCoLA")
    p.set_defaults(func=_cmd_pull)

    p = commands.add(
        dsub,
        "data add",
        "import a local file as one split of the mirror (offline)",
        description="Import a local file (.jsonl, .json, .jsonl.gz, .json.gz, .parquet, .csv, .tsv, .xlsx) as one split of "
                    "the mirror, after checking every row against what the tasks read. Table cells are typed by the "
                    "dataset's schema (digits stay text in text fields). Blank rows are skipped and counted.",
    )
    p.add_argument("--dir", default=None, help=_MIRROR_HELP)
    p.add_argument("--dataset", required=True, help="hub dataset id the file is a copy of, e.g. HiTZ/EusTrivia")
    p.add_argument("--config", default=None, help="dataset config (omit for datasets without named configs)")
    p.add_argument("--split", required=True, help="split name the tasks read, e.g. test")
    p.add_argument("--split-column", default=None,
                   help="csv/tsv/xlsx holding several splits: the column naming each row's split (e.g. Split for CatCoLA)")
    p.add_argument("--split-value", default=None,
                   help="with --split-column: the value that marks this split's rows (default: the --split name)")
    p.add_argument("--sheet", default=None, help="xlsx: the sheet to read (default: the first)")
    p.add_argument("file", help="the local file")
    p.set_defaults(func=_cmd_add)

    p = commands.add(dsub, "data verify", "report missing or corrupt mirror files (exit 1) and the commands that fix them")
    p.add_argument("--dir", default=None, help=_MIRROR_HELP)
    p.add_argument("--tasks", help="comma-separated task or group names to check (default: every iberian_* task)")
    p.set_defaults(func=_cmd_verify)

    p = commands.add(dsub, "data demo-path", "print the folder of the demo mirror shipped with the package")
    p.set_defaults(func=_cmd_demo_path)

    cpt = commands.add(sub, "cpt", "continued pre-training of language experts")
    csub = cpt.add_subparsers(dest="cpt_command", required=True, metavar="SUBCOMMAND")
    p = commands.add(csub, "cpt train", "train (or resume) from a YAML config; key=value overrides")
    from lm_eval_iberian.cpt.cli import add_train_arguments, run_train

    add_train_arguments(p)
    p.set_defaults(func=run_train)

    corpus = commands.add(sub, "corpus", "corpus preparation for CPT (datatrove): filter")
    corsub = corpus.add_subparsers(dest="corpus_command", required=True, metavar="SUBCOMMAND")
    p = commands.add(corsub, "corpus filter", "URL TLD, C4 and Gopher rules (Dolma thresholds), localized per language")
    p.add_argument("--input", required=True, help="folder of JSON-lines files (.jsonl, .jsonl.gz), read recursively")
    p.add_argument("--output", required=True, help="new or empty folder: kept/, removed/<rule>/, removed/malformed/, "
                   "logs/, report.json, corpus_filter.json (marks the folder as this command's)")
    p.add_argument("--lang", required=True, help="document language: eu, gl, ca, es or en")
    p.add_argument("--tlds", help="keep only URLs under these top-level domains, e.g. es,eus,cat,gal (metadata 'url')")
    p.add_argument("--text-key", default="text", help="JSON field holding the text (default: text)")
    p.add_argument("--glob", help="only files matching this pattern, e.g. '*.jsonl.gz'")
    p.add_argument("--executor", choices=["local", "slurm"], default="local", help="where the tasks run (default: local)")
    p.add_argument("--tasks", type=int, default=1, help="datatrove tasks (input shards; at least 1)")
    p.add_argument("--workers", type=int, default=None, help="local executor: tasks run at once (default 1)")
    again = p.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true", help="finish the earlier run in --output (same settings and "
                       "input): done tasks are kept; on Slurm, its queued jobs are waited for, not submitted again")
    again.add_argument("--overwrite", action="store_true", help="start again: first remove what an earlier run "
                       "created in --output (only that)")
    p.add_argument("--wait", action="store_true", help="slurm executor: wait for the jobs, then write report.json "
                   "(exit 2 naming the failed tasks and their logs if any fails)")
    p.add_argument("--poll-seconds", type=float, default=5.0, help="with --wait: how often to ask squeue (default 5)")
    slurm = p.add_argument_group("slurm executor (nothing site-specific is assumed: an option left out is the cluster's default)")
    slurm.add_argument("--slurm-partition", help="partition (default: the cluster's default partition)")
    slurm.add_argument("--slurm-time", help="time limit per task, e.g. 12:00:00 (default: the partition's)")
    slurm.add_argument("--slurm-cpus-per-task", type=int, help="CPUs per task (default 1)")
    slurm.add_argument("--slurm-mem-per-cpu-gb", type=int, help="memory per CPU in GB (default: the cluster's)")
    slurm.add_argument("--slurm-qos", help="quality of service")
    slurm.add_argument("--slurm-account", help="account to charge")
    slurm.add_argument("--slurm-max-parallel", type=int, help="array tasks running at once (default: no limit)")
    slurm.add_argument("--slurm-env-command", help="shell line run before each task (default: this Python's bin "
                       "folder first on PATH, so jobs use the submitting environment, activated or not)")
    slurm.add_argument("--slurm-sbatch-arg", action="append", metavar="KEY=VALUE", type=_sbatch_arg,
                       help="any other sbatch option, repeatable, e.g. constraint=intel")
    p.set_defaults(func=_cmd_corpus_filter)

    p = commands.add(sub, "sweep", "evaluate a merge at several parameter values in one process (inputs read once)")
    p.add_argument("--recipe", required=True, help="mergekit YAML recipe whose parameter is swept")
    p.add_argument("--param", required=True, help="parameter to sweep: weight[:MODEL], density[:MODEL], t, ...")
    p.add_argument("--values", required=True, type=argparse_type(parse_float_list, "--values"),
                   help="comma-separated finite values, each once, e.g. 0.5,1.0,1.5,2.0")
    p.add_argument("--tasks", required=True, help="comma-separated lm-eval tasks or groups, e.g. iberian_eu,iberian_flores_to_eu")
    p.add_argument("--output", required=True, help="folder for point-*/results.json and sweep.csv (re-run to resume)")
    p.add_argument("--device", default=None,
                   help="merge and evaluation device, e.g. cuda:0 or cpu (default: cuda if available, else cpu)")
    p.add_argument("--dtype", default=None, choices=["float32", "float16", "bfloat16"],
                   help="merged model dtype (default: the recipe's out_dtype, else its dtype)")
    p.add_argument("--seed", type=argparse_type(parse_seed, "--seed"), default=None,
                   help="merge seed for random methods (DARE/TIES sampling), an integer in [0, 2**32-1] (default: the recipe's, else 0)")
    p.add_argument("--batch_size", default=8, help="evaluation batch size for the hf backend, a number or 'auto' (default 8)")
    p.add_argument("--max_length", type=argparse_type(parse_int, "--max_length", minimum=1), default=None,
                   help="maximum context length in tokens (hf: max_length; vllm: max_model_len)")
    p.add_argument("--limit", type=argparse_type(_limit, "--limit"), default=None,
                   help="documents per task: an integer count, or a fraction in (0, 1) (default: all)")
    p.add_argument("--num_fewshot", type=argparse_type(parse_int, "--num_fewshot", minimum=0), default=None,
                   help="few-shot examples, overriding the task defaults (tasks configured 0-shot stay 0-shot)")
    p.add_argument("--apply_chat_template", action="store_true", help="format prompts with the tokenizer's chat template")
    p.add_argument("--fewshot_as_multiturn", action="store_true",
                   help="with --apply_chat_template: few-shot examples as a multi-turn conversation (as the paper)")
    p.add_argument("--gen_kwargs", default=None, help="generation arguments for lm-eval, e.g. max_gen_toks=256,temperature=0")
    p.add_argument("--bootstrap_iters", type=argparse_type(parse_int, "--bootstrap_iters", minimum=0), default=None,
                   help="bootstrap resamples for standard errors (lm-eval's default 100000; 0 skips them: fast on CPU)")
    p.add_argument("--backend", choices=["hf", "vllm"], default="hf",
                   help="hf (default): lm-eval's HF backend; vllm: one merged_vllm engine re-merged per point")
    p.add_argument("--vllm_args", default=None, help="with --backend vllm: k=v,... for vLLM (tensor_parallel_size=2,...)")
    p.set_defaults(func=_cmd_sweep)

    from lm_eval_iberian.report import TABLES

    p = commands.add(
        sub,
        "report",
        "the paper's tables and sweep plots from lm-eval result files",
        description="Read every lm-eval results file (results_*.json from --output_path, results.json of sweep points) "
                    "under the given files or folders and print the paper's tables or draw the weight-sweep figure.",
    )
    p.add_argument("results", nargs="+",
                   help="lm-eval results files (results_*.json, sweep points' results.json) or folders searched recursively")
    p.add_argument("--table", action="append", choices=list(TABLES), help="table to print (repeatable; default: benchmarks)")
    p.add_argument("--format", choices=["md", "csv", "latex"], default="md",
                   help="md (best value per column in bold), csv (plain numbers) or latex (best in \\textbf); default md")
    p.add_argument("--plot", choices=["sweep"], help="write the weight-sweep figure (paper Fig. 1) to --out")
    p.add_argument("--out", default="sweep.png", help="PNG path for --plot (default: sweep.png)")
    _add_compare_arguments(p)
    p.set_defaults(func=_cmd_report)

    grid = commands.add(sub, "grid", "the paper's evaluation grid on Slurm (or locally), resumable: run, status, report")
    gsub = grid.add_subparsers(dest="grid_command", required=True, metavar="SUBCOMMAND")
    p = commands.add(gsub, "grid run", "validate a plan, skip done jobs, submit the rest, wait and retry failures",
                     description="Expand the plan into jobs (model or sweep x task group x seed), validate everything, "
                                 "skip jobs whose results exist, recognise jobs still queued from an earlier run, "
                                 "submit the rest (one Slurm job array, or local processes), wait, retry failed jobs "
                                 "(resources.retries) and print every job's state. Exit status 1 if a job is not done.")
    p.add_argument("plan", help="the grid plan, a YAML file (README: 'Running the paper's grid on a cluster')")
    p.add_argument("--no-wait", action="store_true",
                   help="Slurm: submit and return (the jobs run on; run the same command again to wait and finish)")
    p.add_argument("--poll-seconds", type=argparse_type(parse_float, "--poll-seconds", minimum=0.1), default=10.0,
                   help="how often to ask the scheduler about the jobs while waiting (default 10)")
    p.set_defaults(func=_cmd_grid_run)
    p = commands.add(gsub, "grid status", "each job of a plan: done, running, pending, failed (with its log) or todo")
    p.add_argument("plan", help="the grid plan (YAML)")
    p.set_defaults(func=_cmd_grid_status)
    p = commands.add(gsub, "grid report", "tables and paired comparisons over every result the plan produced")
    p.add_argument("plan", help="the grid plan (YAML)")
    p.add_argument("--table", action="append", choices=list(TABLES), help="table to print (repeatable; default: benchmarks)")
    p.add_argument("--format", choices=["md", "csv", "latex"], default="md",
                   help="md (best value per column in bold), csv (plain numbers) or latex; default md")
    _add_compare_arguments(p)
    p.set_defaults(func=_cmd_grid_report)

    ifeval = commands.add(sub, "ifeval", "score IFEval generations outside lm-eval; show the errata")
    isub = ifeval.add_subparsers(dest="ifeval_command", required=True, metavar="SUBCOMMAND")
    p = commands.add(isub, "ifeval score", "score a JSONL of IFEval records, each with a 'response' field")
    p.add_argument("--lang", required=True, choices=["en", "es", "ca", "eu", "gl"], help="language of the records")
    p.add_argument("--input", required=True, help="JSONL: key, prompt, instruction_id_list, kwargs, response (never modified)")
    p.add_argument("--protocol", choices=["paper", "full"], default="paper",
                   help="paper (default): without language:response_language, as the paper; full: every instruction")
    p.add_argument("--published", action="store_true", help="reproduce the authors' published scoring (no errata)")
    p.add_argument("--output", help="write every verdict (IFEvalScores JSON) to this new file (not --input)")
    p.set_defaults(func=_cmd_ifeval_score)
    p = commands.add(isub, "ifeval errata", "print the errata and per-prompt response languages (Markdown)")
    p.set_defaults(func=_cmd_ifeval_errata)

    listing = "\n".join(f"  {path:17s} {text}" for path, text in commands.lines if path not in {"data", "cpt", "corpus", "ifeval", "grid"})
    parser.description = __doc__.split("\n", 1)[0] + "\n\ncommands:\n" + listing
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except UserError as exc:
        print(f"lm-eval-iberian: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
