"""The tests' network guard (tests/_netguard/sitecustomize.py), with loopback allowed: processes of one training
run on one machine talk to each other (accelerate checks the main process port on localhost; torch's rendezvous).
Put this folder on PYTHONPATH instead of tests/_netguard; every other IP address still fails loudly."""

import ipaddress
import socket
from pathlib import Path

_source = Path(__file__).resolve().parents[2] / "_netguard" / "sitecustomize.py"
exec(compile(_source.read_text(), str(_source), "exec"))  # defines _guard and installs the wrappers that call it

_block = _guard  # noqa: F821  (defined by the exec above)


def _is_loopback(host) -> bool:
    """localhost, a loopback address, or this machine's own name (Slurm's node name; /etc/hosts maps it)."""
    if host in ("localhost", socket.gethostname(), socket.gethostname().split(".")[0]):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _guard(sock, address):  # noqa: F811  (the wrappers look this name up at call time)
    if isinstance(address, tuple) and _is_loopback(address[0]):
        return
    _block(sock, address)
