import sys

from lm_eval_iberian.cli import main

sys.exit(main())
