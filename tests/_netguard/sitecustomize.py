"""Put on PYTHONPATH of test subprocesses: any IP connection attempt fails loudly.

Unix sockets stay allowed (multiprocessing, tokenizers' threads).
"""

import socket

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _guard(sock, address):
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        raise OSError(f"network access blocked in lm-eval-iberian tests (tried to reach {address!r})")


def _connect(self, address):
    _guard(self, address)
    return _real_connect(self, address)


def _connect_ex(self, address):
    _guard(self, address)
    return _real_connect_ex(self, address)


socket.socket.connect = _connect
socket.socket.connect_ex = _connect_ex
