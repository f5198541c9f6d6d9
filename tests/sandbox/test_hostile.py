"""Hostile scaffolds: one table row per attack, each with its exact typed outcome.

Secrets are planted where a scaffold might look: an environment variable of this test process, a
file on the host, and the item's gold answer (three keys of the item). Every run must keep its
exact status and none of the secrets may appear in its stdout, stderr, error or answer, nor in
anything the host callback receives. A real loopback TCP listener and UDP socket (bound here, with
threads receiving) must see nothing. Rows with ``then`` run a second scaffold in the same Sandbox
afterwards (cross-run persistence).
"""

from __future__ import annotations

import os
import socket
import threading
import time

import pytest

from cgr.sandbox import STATUSES, Limits

from .hostile_abuses import ABUSES
from .hostile_cases import BASE, ENV_NAME, ENV_SECRET, FILE_SECRET, ITEM, SECRETS, Attack, HostileHost
from .hostile_escapes import ESCAPES

ATTACKS = ESCAPES + ABUSES
assert len({a.id for a in ATTACKS}) == len(ATTACKS)


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """Secrets in this process's environment and in a host file; loopback TCP and UDP listeners."""
    mp = pytest.MonkeyPatch()
    mp.setenv(ENV_NAME, ENV_SECRET)
    path = tmp_path_factory.mktemp("host") / "secret.txt"
    path.write_text(FILE_SECRET)
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.bind(("127.0.0.1", 0))
    tcp.listen(8)
    tcp.settimeout(0.05)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    udp.settimeout(0.05)
    seen: list = []
    done = threading.Event()

    def accept():
        while not done.is_set():
            try:
                conn, addr = tcp.accept()
                seen.append(("tcp", addr))
                conn.close()
            except OSError:
                pass

    def receive():
        while not done.is_set():
            try:
                seen.append(("udp", udp.recvfrom(65536)))
            except OSError:
                pass

    threads = [threading.Thread(target=accept, daemon=True), threading.Thread(target=receive, daemon=True)]
    for t in threads:
        t.start()
    # the listeners are real: a connection and a datagram from this process are seen
    socket.create_connection(tcp.getsockname(), timeout=2).close()
    socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"ping", udp.getsockname())
    deadline = time.monotonic() + 5
    while len(seen) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sorted(kind for kind, _ in seen) == ["tcp", "udp"]
    seen.clear()
    yield {
        "@PATH@": str(path),
        "@ENV@": ENV_NAME,
        "@PORT@": str(tcp.getsockname()[1]),
        "@UDP_PORT@": str(udp.getsockname()[1]),
        "seen": seen,
    }
    done.set()
    for t in threads:
        t.join(timeout=2)
    tcp.close()
    udp.close()
    mp.undo()


def _fill(source: str, planted: dict) -> str:
    for key, value in planted.items():
        if key.startswith("@"):
            source = source.replace(key, value)
    return source


def _assert_no_leak(result, host: HostileHost) -> None:
    fields = {
        "stdout": result.stdout,
        "stderr": result.stderr,
        "error": result.error or "",
        "answer": result.answer or "",
    }
    for name, text in fields.items():
        for secret in SECRETS:
            assert secret not in text, f"{secret} leaked into {name}"
    for secret in SECRETS:
        assert secret not in repr(host.seen), f"{secret} reached the host callback"


def test_the_table_is_big_enough():
    assert len(ATTACKS) >= 40
    assert {a.status for a in ATTACKS} == set(STATUSES)  # every status is exercised


@pytest.mark.parametrize("attack", ATTACKS, ids=[a.id for a in ATTACKS])
def test_attack(sandbox, planted, attack: Attack):
    before_env = dict(os.environ)
    host = HostileHost()
    result = sandbox.run(_fill(attack.source, planted), ITEM, host, Limits(**attack.limits))
    assert result.status == attack.status, result
    if attack.stdout is not None:
        assert result.stdout == attack.stdout, result
    if attack.says is not None:
        assert attack.says in result.stdout, result
    if attack.error is not None:
        assert result.error is not None and result.error.startswith(attack.error), result
    assert result.answer == attack.answer, result
    if attack.calls is not None:
        assert result.solver_calls == attack.calls, result
    _assert_no_leak(result, host)
    assert dict(os.environ) == before_env  # the host's environment is untouched
    if attack.then is not None:
        source, status, stdout = attack.then
        second = sandbox.run(source, ITEM, host, Limits(**BASE))
        assert (second.status, second.stdout) == (status, stdout), second
        _assert_no_leak(second, host)
    if attack.net:
        time.sleep(0.05)
        assert planted["seen"] == [], "a loopback listener saw the guest"
    # the sandbox is still fine afterwards
    assert sandbox.run("submit('A')", ITEM, host).status == "ok"
