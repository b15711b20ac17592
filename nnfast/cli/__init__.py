"""nnfast's command line: ``python -m nnfast {demo,info,train,predict,bench}`` (``benchmark`` is ``bench``).

Each subcommand lives in its own module; errors the user can fix are one line on stderr and
exit code 2, never a traceback.
"""

import argparse
import sys


class UsageError(Exception):
    """An error in the user's input: printed as one line, exit code 2."""


def build_parser():
    parser = argparse.ArgumentParser(prog="nnfast", description="A small, fast deep-learning framework for the CPU.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    from nnfast.cli import bench, demo, info, predict, train

    for module in (demo, train, predict, bench, info):
        p = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP,
                           aliases=getattr(module, "ALIASES", ()))
        module.add_arguments(p)
        p.set_defaults(run=module.run)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args) or 0
    except UsageError as exc:
        print(f"nnfast {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"nnfast {args.command}: interrupted", file=sys.stderr)
        return 130
