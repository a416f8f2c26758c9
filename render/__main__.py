"""Command line of the offline renderer: `python -m render [STACK ...] [--json DIR] [--diff DIR]`.

Exit codes: 0 when no rule is broken and, with --diff, nothing changed. 1 for
rule violations or a config error, such as an invalid stack file. 2 for a
usage error, such as an unknown stack, a missing stack file, a missing or
invalid DIR/<stack>.json, or a --json DIR that cannot be written. 3 when
--diff found changes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, cast

from pulumi.errors import RunError

from config.load import validated_catalogue
from config.refs import catalogue_path
from render import render_stacks
from render.diff import baseline_problem, compare, report_lines
from render.document import counted, summary_line, tree_lines
from render.engine import ROOT
from render.safety import catalogue_mounts, check_rendered
from render.stackconfig import StackFileError, stack_names

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_CHANGED = 3


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m render",
        description=(
            "Run the real Pulumi program for each stack under a recording mock engine, "
            "check the safety rules and show its desired state, with no Pulumi CLI, "
            "credential or network."
        ),
        epilog=(
            "exit codes: 0 no rule broken and no change, 1 rule violations or config "
            "errors, 2 usage errors, 3 --diff found changes"
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
    parser.add_argument(
        "--diff",
        type=Path,
        metavar="DIR",
        help=(
            "compare with DIR/<stack>.json written earlier by --json, and list what would "
            "be created, changed and deleted; read before --json writes"
        ),
    )
    return parser.parse_args(argv)


Baselines = dict[str, tuple[Path, dict[str, Any]]]


def read_baselines(directory: Path, stacks: list[str]) -> Baselines | str:
    """Return the earlier file and document of each stack, or the usage error that prevents it."""
    baselines: Baselines = {}
    for stack in stacks:
        path = directory / f"{stack}.json"
        if not path.is_file():
            return f"{path}: not found; write it first with `python -m render --json {directory}`"
        try:
            document = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            return f"{path}: not a render document ({error}); write it again with --json"
        if not isinstance(document, dict) or document.get("stack") != stack:
            return f"{path}: not the render of stack {stack}; write it again with --json"
        problem = baseline_problem(cast("dict[str, Any]", document))
        if problem:
            return f"{path}: {problem}; write it again with --json"
        baselines[stack] = (path, cast("dict[str, Any]", document))
    return baselines


def json_directory_problem(directory: Path, stacks: list[str]) -> str | None:
    """Create the --json DIR, and return why its files cannot be written, if they cannot.

    Checked before rendering, so a wrong path fails at once and not after
    the whole render.
    """
    if directory.exists() and not directory.is_dir():
        return f"{directory}: exists and is not a directory; name a directory for --json"
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        return f"{directory}: cannot be created ({error.strerror}); name a writable directory"
    if not os.access(directory, os.W_OK | os.X_OK):
        return f"{directory}: not writable; name a writable directory for --json"
    for stack in stacks:
        path = directory / f"{stack}.json"
        if path.exists() and not path.is_file():
            return f"{path}: exists and is not a file; remove it or name another directory"
    return None


def hosts_without_stack(known: list[str]) -> list[str]:
    """Return the catalogue's hosts without a stack file, which a render of all stacks skips."""
    path = catalogue_path()
    if not path.is_file():
        return []
    catalogue, _ = validated_catalogue(path.read_text(), "catalogue")
    if catalogue is None:
        return []
    return sorted(host for host in catalogue.hosts if host not in known)


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(sys.argv[1:] if argv is None else argv)
    known = stack_names(ROOT)
    unknown = [stack for stack in arguments.stacks if stack not in known]
    if unknown:
        print(
            f"error: unknown stack {', '.join(unknown)}; known stacks are {', '.join(known)}",
            file=sys.stderr,
        )
        return EXIT_USAGE

    requested = arguments.stacks or known
    baselines: Baselines = {}
    if arguments.diff is not None:
        found = read_baselines(arguments.diff, requested)
        if isinstance(found, str):
            print(f"error: {found}", file=sys.stderr)
            return EXIT_USAGE
        baselines = found
    if arguments.json is not None:
        problem = json_directory_problem(arguments.json, requested)
        if problem:
            print(f"error: {problem}", file=sys.stderr)
            return EXIT_USAGE

    try:
        rendered = render_stacks(arguments.stacks or None)
    except StackFileError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE if error.usage else EXIT_FAILED
    except RunError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED

    for result in rendered.values():
        print("\n".join(tree_lines(result)))
        print()
    for result in rendered.values():
        print(summary_line(result))
    if not arguments.stacks:
        for host in hosts_without_stack(known):
            print(
                f"note: host {host} of the catalogue has no stack file Pulumi.{host}.yaml, so "
                f"it was not rendered; create it with `pulumi stack init {host}`",
                file=sys.stderr,
            )

    mounts = catalogue_mounts()
    violations = [
        violation.line(stack)
        for stack, result in rendered.items()
        for violation in check_rendered(result, mounts)
    ]
    for line in violations:
        print(line)
    if violations:
        print(f"{counted(len(violations), 'rule violation')}; see docs/safety.md for each rule")

    changed = False
    for stack, (path, baseline) in baselines.items():
        difference = compare(baseline, rendered[stack].document)
        print()
        print("\n".join(report_lines(difference, str(path))))
        changed = changed or difference.has_changes

    if arguments.json is not None:
        for stack, result in rendered.items():
            path = arguments.json / f"{stack}.json"
            try:
                path.write_text(result.json_text())
            except OSError as error:
                print(
                    f"error: {path}: cannot be written ({error.strerror}); "
                    "name a writable directory for --json",
                    file=sys.stderr,
                )
                return EXIT_USAGE
        print(f"wrote {', '.join(f'{stack}.json' for stack in rendered)} to {arguments.json}")

    if violations:
        return EXIT_FAILED
    return EXIT_CHANGED if changed else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
