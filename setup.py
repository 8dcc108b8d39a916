"""Build glue that setup.cfg cannot express: install the start-up hook file.

`lm_eval_iberian-autoload.pth` lands at the root of site-packages, for both
regular and editable (PEP 660) installs. Python runs its single line at
start-up; it installs a post-import hook that stays idle until `lm_eval`
itself is imported (see lm_eval_iberian/_startup.py).
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.editable_wheel import editable_wheel

PTH_NAME = "lm_eval_iberian-autoload.pth"
# One line, executed by site.py in every interpreter of the environment. It
# imports nothing: it puts a finder object at the front of sys.meta_path whose
# find_spec returns None at once unless the module is lm_eval.tasks or
# lm_eval.models; only then is lm_eval_iberian._startup imported to do the work.
# LM_EVAL_IBERIAN_AUTOLOAD=0 skips even that.
PTH_LINE = (
    "import os, sys; "
    'os.environ.get("LM_EVAL_IBERIAN_AUTOLOAD", "1").strip().lower() in {"0", "false", "no", "off"} '
    "or sys.meta_path.insert(0, type('LmEvalIberianHook', (), {'_lm_eval_iberian_hook': True, "
    "'find_spec': staticmethod(lambda name, path=None, target=None: "
    "__import__('lm_eval_iberian._startup', fromlist=['find_spec']).find_spec(name, path, target) "
    "if name in ('lm_eval.tasks', 'lm_eval.models') else None)})())\n"
)


class BuildPyWithPth(build_py):
    def run(self) -> None:
        super().run()
        Path(self.build_lib, PTH_NAME).write_text(PTH_LINE)

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        return [*super().get_outputs(include_bytecode), str(Path(self.build_lib, PTH_NAME))]


class EditableWheelWithPth(editable_wheel):
    def _run_build_commands(self, dist_name, unpacked_wheel, build_lib, tmp_dir):
        files, mapping = super()._run_build_commands(dist_name, unpacked_wheel, build_lib, tmp_dir)
        target = Path(unpacked_wheel, PTH_NAME)
        target.write_text(PTH_LINE)
        return [*files, str(target)], mapping


setup(cmdclass={"build_py": BuildPyWithPth, "editable_wheel": EditableWheelWithPth})
