"""Entry point shared by ``python -m lm_eval_iberian.cpt`` and ``lm-eval-iberian cpt train``."""

import argparse
import shlex
import sys
from collections.abc import Sequence

from lm_eval_iberian.cpt.config import ConfigError, load_config


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="YAML training config (see lm_eval_iberian/cpt/examples/)")
    parser.add_argument(
        "--overwrite", action="store_true",
        help="train from scratch over a finished run, or over checkpoints of another config, in output_dir: "
             "deletes the trainer's own files there (checkpoints, losses.jsonl, tensorboard/, final/), never an input",
    )
    parser.add_argument("overrides", nargs="*", help="key=value overrides with dotted keys, e.g. optim.lr=2e-5 max_steps=100")
    parser.set_defaults(cpt_prog=parser.prog)


def fix_command(args: argparse.Namespace) -> str:
    """The same command with ``--overwrite`` (as the user typed it, minus any launcher in front)."""
    words = [*shlex.split(args.cpt_prog), "--config", args.config, *args.overrides, "--overwrite"]
    return shlex.join(words)


def run_train(args: argparse.Namespace) -> int:
    from lm_eval_iberian.cpt.loop import _main_rank, train

    try:
        config = load_config(args.config, args.overrides)
        final = train(config, overwrite=args.overwrite)
    except ConfigError as exc:
        message = str(exc)
        if getattr(exc, "overwrite_fixes", False):
            message += f" (the same command with --overwrite: {fix_command(args)})"
        print(f"lm-eval-iberian cpt: error: {message}", file=sys.stderr)
        return 2
    if _main_rank():
        print(f"final model: {final}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lm_eval_iberian.cpt", description="continued pre-training")
    add_train_arguments(parser)
    return run_train(parser.parse_args(argv))
