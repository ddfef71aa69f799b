"""`tekton-debug dap`: the Debug Adapter Protocol on stdio, or on 127.0.0.1 with --port."""

from __future__ import annotations

import logging
import secrets
import sys

from tekton_debug.cli import endings
from tekton_debug.errors import UserError


def dap_main(args) -> int:
    if args.log_file:
        logging.basicConfig(filename=args.log_file, level=logging.DEBUG,
                            format="%(asctime)s %(threadName)s %(name)s %(levelname)s %(message)s")
    else:
        logging.basicConfig(stream=sys.stderr, level=logging.WARNING,
                            format="tekton-debug: %(levelname)s %(message)s")
    from tekton_debug.session.masking import LogFilter
    for handler in logging.getLogger().handlers:
        handler.addFilter(LogFilter())  # the log and its DAP trace show no secret
    from tekton_debug.dap import serve
    from tekton_debug.dap.adapter import DebugAdapter

    if args.port is None:
        def adapter(connection):
            # a signal ends the session as EOF does (nvim-dap closes stdin and sends SIGINT)
            endings.call_on_end_signals(lambda signum: connection.close())
            return DebugAdapter(connection)
        return 0 if serve.serve_stdio(adapter) else 1  # 1: the client sent no DAP
    if not 0 <= args.port <= 65535:
        raise UserError(f"--port {args.port}: not a port number", fix="use 0 to 65535 (0 picks one)")
    if args.token_file:
        from tekton_debug.tekton.files import read_text

        # a regular file, small: /dev/zero or a FIFO given here gets an error, not a hang
        token = read_text(args.token_file, limit=64 * 1024,
                          what="a readable file holding the token").strip()
        if not token:
            raise UserError(f"--token-file {args.token_file} is empty", fix="write a token into it")
        shown = "(from --token-file)"
    else:
        token = secrets.token_urlsafe(24)
        shown = token

    def listening(port: int) -> None:
        print(f"tekton-debug dap listening on 127.0.0.1:{port} token {shown}", flush=True)

    def stop_on_signals(stop) -> None:  # Ctrl-C, SIGTERM, SIGHUP: the server's normal end
        endings.call_on_end_signals(lambda signum: stop())

    try:
        serve.serve_tcp(args.port, DebugAdapter, on_listening=listening, token=token,
                        on_server=stop_on_signals)
    except KeyboardInterrupt:  # before the server took over the signals
        pass
    return 0
