"""The `sero-ls` command line (CONTRACT §1)."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from sero_ls import __version__

TRACE_HELP = "write every JSON-RPC message, on every leg, to FILE (JSON Lines)"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="sero-ls",
        description="Language server for Sero workspaces: per-folder container/host runtime "
        "and a container-aware language-server proxy.",
    )
    p.add_argument("--version", action="version", version=f"sero-ls {__version__}")
    sub = p.add_subparsers(dest="command")

    serve = sub.add_parser("serve", help="the hub language server (default)")
    _serve_args(serve)
    _serve_args(p)

    proxy = sub.add_parser(
        "proxy",
        help="wrap one language server: sero-ls proxy [--folder P] [--name ID] -- CMD [ARG...]",
    )
    proxy.add_argument("--folder", help="workspace folder when the editor names none")
    proxy.add_argument("--name", help="the server's id in status reports (default: CMD's name)")
    proxy.add_argument("--log-file", metavar="FILE", help="log here instead of stderr")
    proxy.add_argument(
        "--trace",
        metavar="FILE",
        help=TRACE_HELP,
    )
    proxy.add_argument("-v", "--verbose", action="count", default=0)
    proxy.add_argument("cmd", nargs=argparse.REMAINDER, help="-- CMD [ARG...]")

    doctor = sub.add_parser("doctor", help="print each folder's runtime report")
    doctor.add_argument("paths", nargs="*", metavar="PATH", help="folders (default: .)")
    doctor.add_argument("--json", action="store_true", help='print {"folders": [FolderStatus]}')

    # ---- `sero-ls status` (status bars outside editors): arguments in sero_ls/cli/statusline.py
    from sero_ls.cli import statusline, trust

    statusline.add_parser(sub)
    # ---- end of `sero-ls status`
    trust.add_parser(sub)  # `sero-ls trust`: sero_ls/cli/trust.py
    return p


def _serve_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--stdio", action="store_true", help="use stdio (the default; accepted)")
    p.add_argument(
        "--tcp",
        metavar="HOST:PORT",
        help="listen on TCP instead of stdio; a loopback address only (127.0.0.1, ::1, "
        "localhost) unless --tcp-allow-remote",
    )
    p.add_argument(
        "--tcp-allow-remote",
        action="store_true",
        help="allow a non-loopback --tcp address: whoever connects can make sero-ls run "
        "commands, so a token is then required (--tcp-token-file or $SERO_LS_TCP_TOKEN), "
        "which clients send as initializationOptions.seroToken",
    )
    p.add_argument(
        "--tcp-token-file",
        metavar="FILE",
        help="the token --tcp clients must present (first line of FILE; at least 16 characters)",
    )
    p.add_argument("--log-file", metavar="FILE", help="log here instead of stderr")
    p.add_argument(
        "--trace",
        metavar="FILE",
        help=TRACE_HELP,
    )
    p.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="more logging: -v names requests and answers, -vv every message (debug)",
    )


def setup_logging(verbose: int, log_file: str | None) -> None:
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    handler: logging.Handler
    handler = (
        logging.FileHandler(log_file, encoding="utf-8")
        if log_file
        else logging.StreamHandler(sys.stderr)
    )
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("pygls").setLevel(max(level, logging.WARNING))


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "doctor":
        from sero_ls.cli import doctor

        setup_logging(0, None)
        return doctor.run(args.paths, args.json)
    if args.command == "trust":
        from sero_ls.cli import trust

        setup_logging(0, None)
        return trust.main(args)
    if args.command == "status":  # `sero-ls status`: see sero_ls/cli/statusline.py
        from sero_ls.cli import statusline

        setup_logging(0, None)
        return statusline.main(args)
    setup_logging(args.verbose, args.log_file)
    from sero_ls import trace

    try:
        trace.configure(args.trace, args.verbose)
    except OSError as exc:
        sys.stderr.write(f"sero-ls: cannot write the trace {args.trace}: {exc}\n")
        return 2
    import asyncio  # here, not at the top: `status` runs every second and must start fast

    # stdio: the start-up path starts the language servers before pygls is even imported
    from sero_ls.lsp import boot

    if args.command == "proxy":
        from sero_ls.proxy.spec import for_wrapper

        cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
        if not cmd:
            sys.stderr.write("sero-ls proxy: give the server command after --\n")
            return 2
        name = args.name or os.path.basename(cmd[0])
        return asyncio.run(boot.run_stdio(wrapper=for_wrapper(name, cmd), folder=args.folder))

    if args.tcp:
        host, _, port = args.tcp.rpartition(":")
        if not port.isdigit():
            sys.stderr.write("sero-ls: --tcp takes HOST:PORT\n")
            return 2
        from sero_ls.lsp import tcp

        try:
            token = tcp.check_listen(host, args.tcp_allow_remote, args.tcp_token_file)
        except tcp.TcpUsageError as exc:
            sys.stderr.write(f"sero-ls: --tcp {args.tcp}: {exc}\n")
            return 2
        return asyncio.run(tcp.run_tcp(host.strip("[]") or "127.0.0.1", int(port), token))
    return asyncio.run(boot.run_stdio())
