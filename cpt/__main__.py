"""``python -m lm_eval_iberian.cpt --config FILE [key=value ...]`` (also under accelerate launch / torchrun)."""

import sys

from lm_eval_iberian.cpt.cli import main

if __name__ == "__main__":
    sys.exit(main())
