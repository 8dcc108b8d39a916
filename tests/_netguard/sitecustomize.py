"""Put on PYTHONPATH of test subprocesses (and imported by conftest): any connection to another machine fails loudly.

Loopback stays allowed: processes of one test talk to each other on this machine (accelerate's main-process port,
torch's rendezvous, the fake hub server of the merge tests, Slurm's daemons). Unix sockets stay allowed
(multiprocessing, tokenizers' threads).
"""

import ipaddress
import socket

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _is_loopback(host) -> bool:
    """localhost, a loopback address, or this machine's own name (Slurm's node name; /etc/hosts maps it)."""
    if host in ("localhost", socket.gethostname(), socket.gethostname().split(".")[0]):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _guard(sock, address):
    if sock.family in (socket.AF_INET, socket.AF_INET6) and not (isinstance(address, tuple) and _is_loopback(address[0])):
        raise OSError(f"network access blocked in lm-eval-iberian tests (tried to reach {address!r})")


def _connect(self, address):
    _guard(self, address)
    return _real_connect(self, address)


def _connect_ex(self, address):
    _guard(self, address)
    return _real_connect_ex(self, address)


socket.socket.connect = _connect
socket.socket.connect_ex = _connect_ex
