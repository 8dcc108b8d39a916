"""Build glue that setup.cfg cannot express: install the start-up hook file.

`lm_eval_iberian-autoload.pth` lands at the root of site-packages, for both
regular and editable (PEP 660) installs. Python runs its single import line at
start-up; the imported module only installs a post-import hook that stays idle
until `lm_eval` itself is imported (see lm_eval_iberian/_startup.py).
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.editable_wheel import editable_wheel

PTH_NAME = "lm_eval_iberian-autoload.pth"
PTH_LINE = "import lm_eval_iberian._startup as _lm_eval_iberian_startup; _lm_eval_iberian_startup.install()\n"


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
