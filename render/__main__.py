"""Command line of the offline renderer: `python -m render [STACK ...] [--json DIR]`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pulumi.errors import RunError

from render import render_stacks
from render.document import summary_line, tree_lines
from render.engine import ROOT
from render.stackconfig import stack_names


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m render",
        description=(
            "Run the real Pulumi program for each stack under a recording mock engine "
            "and show its desired state, with no Pulumi CLI, credential or network."
        ),
    )
    parser.add_argument(
        "stacks",
        nargs="*",
        metavar="STACK",
        help=f"stacks to render, in deploy order; default: all ({', '.join(stack_names(ROOT))})",
    )
    parser.add_argument(
        "--json",
        type=Path,
        metavar="DIR",
        help="also write DIR/<stack>.json: the sorted desired state with secrets redacted",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(sys.argv[1:] if argv is None else argv)
    known = stack_names(ROOT)
    unknown = [stack for stack in arguments.stacks if stack not in known]
    if unknown:
        print(
            f"error: unknown stack {', '.join(unknown)}; known stacks are {', '.join(known)}",
            file=sys.stderr,
        )
        return 2
    try:
        rendered = render_stacks(arguments.stacks or None)
    except RunError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1

    for result in rendered.values():
        print("\n".join(tree_lines(result)))
        print()
    for result in rendered.values():
        print(summary_line(result))

    if arguments.json is not None:
        arguments.json.mkdir(parents=True, exist_ok=True)
        for stack, result in rendered.items():
            (arguments.json / f"{stack}.json").write_text(result.json_text())
        print(f"wrote {', '.join(f'{stack}.json' for stack in rendered)} to {arguments.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
