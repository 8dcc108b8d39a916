"""Entry point shared by ``python -m lm_eval_iberian.cpt`` and ``lm-eval-iberian cpt train``."""

import argparse
import sys
from collections.abc import Sequence

from lm_eval_iberian.cpt.config import ConfigError, load_config


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="YAML training config (see lm_eval_iberian/cpt/examples/)")
    parser.add_argument("overrides", nargs="*", help="key=value overrides with dotted keys, e.g. optim.lr=2e-5 max_steps=100")


def run_train(args: argparse.Namespace) -> int:
    from lm_eval_iberian.cpt.loop import train

    try:
        config = load_config(args.config, args.overrides)
    except ConfigError as exc:
        print(f"lm-eval-iberian cpt: error: {exc}", file=sys.stderr)
        return 2
    final = train(config)
    print(f"final model: {final}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lm_eval_iberian.cpt", description="continued pre-training")
    add_train_arguments(parser)
    return run_train(parser.parse_args(argv))
