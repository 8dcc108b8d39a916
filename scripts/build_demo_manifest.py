"""Validate the demo mirror's files and (re)write them canonically with their manifest.

Run after editing rows under lm_eval_iberian/data/demo/: ``python scripts/build_demo_manifest.py``.
Every file the tasks read must exist; files no task reads are an error too.
"""

import sys
from pathlib import Path

from lm_eval_iberian import demo_data_dir
from lm_eval_iberian.data import MANIFEST_NAME, required_files, verify
from lm_eval_iberian.data._mirror import iter_rows, split_file, write_split

ORIGIN = "demo: hand-written by lm-eval-iberian in the dataset's schema (not rows of the real dataset)"


def main() -> int:
    root = Path(demo_data_dir())
    (root / MANIFEST_NAME).unlink(missing_ok=True)
    refs = required_files()
    expected = {split_file(root, ref) for ref in refs}
    stray = sorted(p for p in root.rglob("*.jsonl") if p not in expected)
    if stray:
        print("files no task reads:", *stray, sep="\n  ")
        return 1
    for ref in refs:
        path = split_file(root, ref)
        if not path.is_file():
            print(f"missing {path}")
            return 1
        write_split(root, ref, list(iter_rows(path)), ORIGIN)
    report = verify(root)
    print("\n".join(report.lines()))
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
