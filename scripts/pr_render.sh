#!/usr/bin/env bash
# Render every stack at the pull request's target branch and at its head, and
# post the difference as the pull request's render comment.
#
# Usage: scripts/pr_render.sh BASE_BRANCH [OUT_DIR]
#
# The target branch is checked out in a temporary git worktree and rendered
# with `--json OUT_DIR/base`; the head is then rendered with
# `--diff OUT_DIR/base`, whose output goes to OUT_DIR/diff.txt, to the job log
# and, through scripts/pr_comment.py, to the comment. Exit status: 0 when the
# head renders (with or without changes), else the renderer's exit status
# (1: rule violations or config errors, 2: invalid command line), after the
# comment is posted.
#
# Environment: PYTHON (default .venv/bin/python) runs the renderer;
# KITESTACKS_RENDER replaces the whole render command, for tests;
# KITESTACKS_PR_COMMENT=print prints the comment instead of posting it.
set -euo pipefail

base_branch=${1:?usage: scripts/pr_render.sh BASE_BRANCH [OUT_DIR]}
repo_root=$(git rev-parse --show-toplevel)
out_dir=${2:-$repo_root/out/pr-render}
mkdir -p "$out_dir"
out_dir=$(cd "$out_dir" && pwd)
scripts_dir=$(cd "$(dirname "$0")" && pwd)

python=${PYTHON:-$repo_root/.venv/bin/python}
if [[ $python == */* ]]; then
  python=$(cd "$(dirname "$python")" && pwd)/$(basename "$python")
fi
if [[ -n ${KITESTACKS_RENDER:-} ]]; then
  read -r -a render <<<"$KITESTACKS_RENDER"
else
  render=("$python" -m render)
fi

# The checkout of a pull request holds only its head, so fetch the target
# branch into a remote-tracking ref that the worktree can check out.
git -C "$repo_root" fetch --quiet --no-tags origin \
  "+refs/heads/$base_branch:refs/remotes/origin/$base_branch"
base_tree=$(mktemp -d)
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  git -C "$repo_root" worktree remove --force "$base_tree" >/dev/null 2>&1 || true
  rm -rf "$base_tree"
}
trap cleanup EXIT
git -C "$repo_root" worktree add --quiet --detach "$base_tree" "origin/$base_branch"
base_commit=$(git -C "$base_tree" rev-parse --short=12 HEAD)
head_commit=$(git -C "$repo_root" rev-parse --short=12 HEAD)

rm -rf "$out_dir/base"
note=""
set +e
(cd "$base_tree" && "${render[@]}" --json "$out_dir/base") >"$out_dir/base.txt" 2>&1
base_status=$?
set -e

set +e
if [[ $base_status -eq 0 ]]; then
  (cd "$repo_root" && "${render[@]}" --diff "$out_dir/base") >"$out_dir/diff.txt" 2>&1
  status=$?
else
  # Without a base render there is nothing to compare with, so the comment
  # shows the head's desired state in full.
  note="The target branch \`$base_branch\` ($base_commit) did not render (exit status $base_status), so this is the head's whole desired state, not a difference."
  (cd "$repo_root" && "${render[@]}") >"$out_dir/diff.txt" 2>&1
  status=$?
  if [[ $status -eq 0 ]]; then
    status=3
  fi
fi
set -e

echo "render of $head_commit against $base_branch ($base_commit): exit status $status"
cat "$out_dir/diff.txt"

comment=(python3 "$scripts_dir/pr_comment.py" --output "$out_dir/diff.txt"
  --exit-code "$status" --base "$base_branch" --head "$head_commit")
if [[ -n $note ]]; then
  comment+=(--note "$note")
fi
if [[ ${KITESTACKS_PR_COMMENT:-post} == print ]]; then
  comment+=(--print-only)
fi
"${comment[@]}"

case $status in
  0 | 3) exit 0 ;;
  *) exit "$status" ;;
esac
