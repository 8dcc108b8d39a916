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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from lm_eval_iberian.data import MirrorError

    try:
        return args.func(args)
    except (MirrorError, KeyError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"lm-eval-iberian: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
