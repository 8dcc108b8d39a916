"""Test-only entry point: the CPT trainer under accelerate's FSDP on CPU ranks (gloo); see tests/cpt/test_fsdp.py.

Launched as ``accelerate launch --config_file <shipped config> tests/cpt/fsdp_cpu_launch.py --config ...``.
accelerate (1.16) turns an FSDP launch config into FSDP only on accelerator devices: on CPU it keeps
``MULTI_CPU`` and wraps the model in DistributedDataParallel, without a warning (AcceleratorState.__init__).
This shim does on CPU what that constructor does on GPUs: switch the state to FSDP with the plugin accelerate
built from the launch config. The trainer never imports it; the tests assert that the runs it starts are
really sharded, so a change in accelerate that breaks the shim fails them loudly.

FSDP1 on CPU needs two more adaptations, both here or in the test's environment, none in the trainer:
``ACCELERATE_TORCH_DEVICE=cpu`` (set by the test: FSDP1 compares its ``device_id``, ``cpu:0`` by default, with
its compute device ``cpu``), and gathering ``final/`` without ``offload_to_cpu`` (accelerate hard-codes it; on
CPU tensors torch's FSDP1 state-dict hook then crashes the process).
"""

import importlib.util
import sys
from pathlib import Path

# The ranks run with the tests' network guard; the launcher cannot (accelerate probes its port through localhost).
_guard = importlib.util.spec_from_file_location("_netguard", Path(__file__).parents[1] / "_netguard" / "sitecustomize.py")
_guard.loader.exec_module(importlib.util.module_from_spec(_guard))

import torch.distributed.fsdp as torch_fsdp  # noqa: E402
from accelerate.state import AcceleratorState, PartialState  # noqa: E402
from accelerate.utils import DistributedType  # noqa: E402

_init = AcceleratorState.__init__


def _init_with_fsdp_on_cpu(self, *args, fsdp_plugin=None, **kwargs) -> None:
    _init(self, *args, fsdp_plugin=fsdp_plugin, **kwargs)
    if fsdp_plugin is not None and self.distributed_type == DistributedType.MULTI_CPU:
        self.distributed_type = DistributedType.FSDP
        if self._mixed_precision != "no":
            fsdp_plugin.set_mixed_precision(self._mixed_precision)
        self.fsdp_plugin = fsdp_plugin
        PartialState._shared_state["distributed_type"] = DistributedType.FSDP


_full_state_dict_config_init = torch_fsdp.FullStateDictConfig.__init__


def _full_state_dict_config_on_cpu(self, *args, **kwargs) -> None:
    _full_state_dict_config_init(self, *args, **kwargs)
    self.offload_to_cpu = False  # the tensors already are on the CPU


AcceleratorState.__init__ = _init_with_fsdp_on_cpu
torch_fsdp.FullStateDictConfig.__init__ = _full_state_dict_config_on_cpu

if __name__ == "__main__":
    from lm_eval_iberian.cpt.cli import main

    sys.exit(main())
