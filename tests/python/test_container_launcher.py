"""The launcher of Python steps in containers, run here by this machine's Python: it puts the
port it listens on into the command, relays each connection to that port to the adapter's Unix
socket (both ways, half-closes passed on), sets the variables and runs the command in its place;
the relay ends with the command."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading

from tekton_debug.python.container import LAUNCHER, PORT_SLOT

# connects twice to the port (a control channel, then a second one while the first is open),
# says which is which, reads the echo of each to its end, prints them and its variable
CLIENT = """
import os, socket, sys
port = int(sys.argv[1])
first = socket.create_connection(("127.0.0.1", port))
first.sendall(b"control")
second = socket.create_connection(("127.0.0.1", port))
second.sendall(b"debugger")
for s in (second, first):
    s.shutdown(socket.SHUT_WR)
    got = b""
    while True:
        data = s.recv(100)
        if not data:
            break
        got += data
    print(got.decode(), end=" ")
print(os.environ["ADDED"], sys.argv[2])
"""


def test_the_launcher_relays_every_connection_to_the_unix_socket_and_runs_the_command(tmp_path):
    path = str(tmp_path / "0.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(4)
    heard: list[bytes] = []

    def echo(conn: socket.socket) -> None:
        got = b""
        while True:
            data = conn.recv(100)
            if not data:
                break
            got += data
        heard.append(got)
        conn.sendall(got.upper())  # after the other side's half-close: still delivered
        conn.close()

    def accept() -> None:
        for _ in range(2):
            conn, _ = server.accept()
            threading.Thread(target=echo, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    command = [sys.executable, "-c", CLIENT, PORT_SLOT, "@port@-is-an-argument"]
    spec = tmp_path / "0.json"
    spec.write_text(json.dumps({"argv": command, "k": 4, "slot": PORT_SLOT,
                                "env": {"ADDED": "added"}}))
    done = subprocess.run([sys.executable, "-c", LAUNCHER, path, str(spec)],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "ADDED": "old"})
    assert done.returncode == 0, done.stderr
    # the slot is replaced in the command's words before the script's (k), not in its arguments
    assert done.stdout == "DEBUGGER CONTROL added @port@-is-an-argument\n"
    assert sorted(heard) == [b"control", b"debugger"]
    server.close()
