"""``lm-eval-iberian`` command line: task listing, the offline data mirror, the demo."""

import argparse
import os
import sys
from collections.abc import Sequence


def _cmd_tasks(args: argparse.Namespace) -> int:
    from lm_eval_iberian import tasks_path
    from lm_eval_iberian._task_table import render_markdown, render_text

    print(f"include path: {tasks_path()}")
    print("(the stock `lm_eval` CLI finds these tasks by itself; other harness code can pass the path as include_path)\n")
    print(render_markdown() if args.markdown else render_text())
    return 0


def _split_csv(value: str | None) -> list[str] | None:
    return [v for v in value.split(",") if v] if value else None


def _cmd_pull(args: argparse.Namespace) -> int:
    from lm_eval_iberian.data import pull

    written = pull(args.dest, _split_csv(args.tasks), _split_csv(args.datasets))
    print(f"wrote {len(written)} split(s) to {args.dest}")
    return 0


def _cmd_add(args: argparse.Namespace) -> int:
    from lm_eval_iberian.data import add

    ref = add(args.dir, args.dataset, args.config, args.split, args.file)
    print(f"added {ref} to {args.dir}")
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    from lm_eval_iberian.data import verify

    report = verify(args.dir, _split_csv(args.tasks))
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


def _cmd_ifeval_score(args: argparse.Namespace) -> int:
    import json

    from lm_eval_iberian.ifeval import score_responses

    rows = [json.loads(line) for line in open(args.input, encoding="utf-8") if line.strip()]
    missing = [i + 1 for i, row in enumerate(rows) if not isinstance(row.get("response"), str)]
    if missing:
        raise ValueError(f"{args.input}: line(s) {missing[:10]} have no string field 'response'")
    scores = score_responses(rows, [row["response"] for row in rows], args.lang, protocol=args.protocol, errata=not args.published)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as fh:
            fh.write(scores.model_dump_json(indent=1))
    summary = scores.model_dump(exclude={"responses"})
    print(json.dumps(summary, indent=1))
    return 0


def _cmd_corpus_filter(args: argparse.Namespace) -> int:
    import json

    from lm_eval_iberian.cpt.corpus import filter_corpus

    slurm = {k: v for k, v in {"partition": args.slurm_partition, "time": args.slurm_time}.items() if v}
    report = filter_corpus(
        args.input,
        args.output,
        args.lang,
        tlds=_split_csv(args.tlds),
        text_key=args.text_key,
        glob_pattern=args.glob,
        executor=args.executor,
        tasks=args.tasks,
        workers=args.workers,
        slurm=slurm,
    )
    print(json.dumps(report, indent=1, ensure_ascii=False))
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from lm_eval_iberian.report import build_table, load_runs, plot_sweep, render

    runs = load_runs(args.results)
    if args.plot:
        print(f"wrote {plot_sweep(runs, args.out)}")
    for name in args.table or ([] if args.plot else ["benchmarks"]):
        print(render(build_table(name, runs), args.format))
        print()
    return 0


def _cmd_sweep(args: argparse.Namespace) -> int:
    import json

    from lm_eval_iberian.merge import MergeRecipe
    from lm_eval_iberian.merge._sweep import run_sweep

    recipe = MergeRecipe.from_yaml(args.recipe)
    if args.seed is not None:
        recipe = MergeRecipe.from_mergekit_dict(recipe.to_dict(), seed=args.seed)
    values = [float(v) for v in args.values.split(",") if v]
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

        hflm.update(simple_parse_args_string(args.vllm_args or ""))
    rows = run_sweep(recipe, args.param, values, _split_csv(args.tasks) or [], args.output, device=args.device,
                     dtype=args.dtype, hflm_args=hflm, eval_args={k: v for k, v in eval_args.items() if v is not None},
                     backend=args.backend)
    print(json.dumps(rows, indent=1))
    print(f"wrote {args.output}/sweep.csv and one results.json per point")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lm-eval-iberian", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("tasks", help="print the include path and the table of iberian_* tasks and groups")
    p.add_argument("--markdown", action="store_true", help="print Markdown tables (as in the README)")
    p.set_defaults(func=_cmd_tasks)

    p = sub.add_parser("demo", help="evaluate every iberian_* group offline on a tiny model and the demo mirror")
    p.add_argument("--out", default="demo_out", help="output folder (default: demo_out)")
    p.add_argument("--limit", type=int, default=4, help="documents per task (default: 4)")
    p.set_defaults(func=_cmd_demo)

    data = sub.add_parser("data", help="offline data mirror for compute nodes without internet")
    dsub = data.add_subparsers(dest="data_command", required=True)
    default_dir = os.environ.get("IBERIAN_DATA_DIR")

    p = dsub.add_parser("pull", help="download every dataset/config/split the tasks read into DEST")
    p.add_argument("--dest", required=default_dir is None, default=default_dir, help="mirror folder (default: $IBERIAN_DATA_DIR)")
    p.add_argument("--tasks", help="comma-separated task or group names (default: all iberian_* tasks)")
    p.add_argument("--datasets", help="comma-separated hub dataset ids to restrict to, e.g. HiTZ/EusTrivia")
    p.set_defaults(func=_cmd_pull)

    p = dsub.add_parser("add", help="import a local jsonl/json/parquet/csv file as one split of the mirror")
    p.add_argument("--dir", required=default_dir is None, default=default_dir, help="mirror folder (default: $IBERIAN_DATA_DIR)")
    p.add_argument("--dataset", required=True, help="hub dataset id the file is a copy of, e.g. HiTZ/EusTrivia")
    p.add_argument("--config", default=None, help="dataset config (omit for datasets without named configs)")
    p.add_argument("--split", required=True, help="split name, e.g. test")
    p.add_argument("file", help="the local file")
    p.set_defaults(func=_cmd_add)

    p = dsub.add_parser("verify", help="report missing or corrupt mirror files")
    p.add_argument("--dir", required=default_dir is None, default=default_dir, help="mirror folder (default: $IBERIAN_DATA_DIR)")
    p.add_argument("--tasks", help="comma-separated task or group names (default: all)")
    p.set_defaults(func=_cmd_verify)

    p = dsub.add_parser("demo-path", help="print the folder of the demo mirror shipped with the package")
    p.set_defaults(func=_cmd_demo_path)

    cpt = sub.add_parser("cpt", help="continued pre-training of language experts")
    csub = cpt.add_subparsers(dest="cpt_command", required=True)
    p = csub.add_parser("train", help="train (or resume) from a YAML config; key=value overrides")
    from lm_eval_iberian.cpt.cli import add_train_arguments, run_train

    add_train_arguments(p)
    p.set_defaults(func=run_train)

    corpus = sub.add_parser("corpus", help="corpus preparation for CPT (datatrove)")
    corsub = corpus.add_subparsers(dest="corpus_command", required=True)
    p = corsub.add_parser("filter", help="URL TLD, C4 and Gopher rules (Dolma thresholds), localized per language")
    p.add_argument("--input", required=True, help="folder of JSON-lines files (.jsonl, .jsonl.gz)")
    p.add_argument("--output", required=True, help="writes kept/, removed/<rule>/, removed/malformed_lines.jsonl, report.json")
    p.add_argument("--lang", required=True, help="document language: eu, gl, ca, es or en")
    p.add_argument("--tlds", help="keep only URLs under these top-level domains, e.g. es,eus,cat,gal (metadata 'url')")
    p.add_argument("--text-key", default="text", help="JSON field holding the text (default: text)")
    p.add_argument("--glob", help="only files matching this pattern, e.g. '*.jsonl.gz'")
    p.add_argument("--executor", choices=["local", "slurm"], default="local")
    p.add_argument("--tasks", type=int, default=1, help="datatrove tasks (input shards)")
    p.add_argument("--workers", type=int, default=1, help="local executor: tasks run at once")
    p.add_argument("--slurm-partition", help="slurm executor: partition")
    p.add_argument("--slurm-time", help="slurm executor: time limit, e.g. 12:00:00")
    p.set_defaults(func=_cmd_corpus_filter)

    p = sub.add_parser("sweep", help="evaluate a merge at several parameter values in one process (inputs read once)")
    p.add_argument("--recipe", required=True, help="mergekit YAML recipe")
    p.add_argument("--param", required=True, help="parameter to sweep: weight[:MODEL], density[:MODEL], t, ...")
    p.add_argument("--values", required=True, help="comma-separated values, e.g. 0.5,1.0,1.5,2.0")
    p.add_argument("--tasks", required=True, help="comma-separated lm-eval tasks or groups, e.g. iberian_eu,iberian_flores_to_eu")
    p.add_argument("--output", required=True, help="folder: point-*/results.json and sweep.csv (re-run to resume)")
    p.add_argument("--device", default=None, help="merge and evaluation device (default: cuda if available)")
    p.add_argument("--dtype", default=None, help="merged model dtype (default: the recipe's)")
    p.add_argument("--seed", type=int, default=None, help="merge seed (DARE/TIES sampling)")
    p.add_argument("--batch_size", default=8, help="HF backend batch size (default 8)")
    p.add_argument("--max_length", type=int, default=None)
    p.add_argument("--limit", type=float, default=None)
    p.add_argument("--num_fewshot", type=int, default=None)
    p.add_argument("--apply_chat_template", action="store_true")
    p.add_argument("--fewshot_as_multiturn", action="store_true")
    p.add_argument("--gen_kwargs", default=None)
    p.add_argument("--bootstrap_iters", type=int, default=None)
    p.add_argument("--backend", choices=["hf", "vllm"], default="hf",
                   help="hf (default): lm-eval's HF backend; vllm: one merged_vllm engine re-merged per point")
    p.add_argument("--vllm_args", default=None, help="with --backend vllm: k=v,... for vLLM (tensor_parallel_size=2,...)")
    p.set_defaults(func=_cmd_sweep)

    p = sub.add_parser("report", help="the paper's tables and sweep plots from lm-eval results files")
    p.add_argument("results", nargs="+", help="results_*.json files or folders holding them (searched recursively)")
    p.add_argument("--table", action="append", choices=["benchmarks", "mt", "ifeval", "methods"],
                   help="table to print (repeatable; default: benchmarks)")
    p.add_argument("--format", choices=["md", "csv", "latex"], default="md")
    p.add_argument("--plot", choices=["sweep"], help="write the weight-sweep figure (paper Fig. 1)")
    p.add_argument("--out", default="sweep.png", help="PNG path for --plot (default: sweep.png)")
    p.set_defaults(func=_cmd_report)

    ifeval = sub.add_parser("ifeval", help="score IFEval generations outside lm-eval; show the errata")
    isub = ifeval.add_subparsers(dest="ifeval_command", required=True)
    p = isub.add_parser("score", help="score a JSONL of IFEval records, each with a 'response' field")
    p.add_argument("--lang", required=True, help="language of the records: en, es, ca, gl or eu")
    p.add_argument("--input", required=True, help="JSONL: key, prompt, instruction_id_list, kwargs, response")
    p.add_argument("--protocol", choices=["paper", "full"], default="paper", help="paper (default): no response_language")
    p.add_argument("--published", action="store_true", help="reproduce the published scoring (no errata)")
    p.add_argument("--output", help="write every verdict (IFEvalScores JSON) here")
    p.set_defaults(func=_cmd_ifeval_score)
    p = isub.add_parser("errata", help="print the errata and per-prompt response languages (Markdown)")
    p.set_defaults(func=_cmd_ifeval_errata)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from lm_eval_iberian.data import MirrorError

    try:
        return args.func(args)
    except (MirrorError, KeyError, ValueError, OSError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"lm-eval-iberian: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
