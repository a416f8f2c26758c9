#!/usr/bin/env bash
# Approve a deployment started by hand: the run must be on the deploy branch,
# and DEPLOY_COMMIT, the commit the approver reviewed, must be the commit the
# run checked out. A push to the branch after the review therefore stops the
# deployment instead of shipping changes that no one approved.
#
# When DEPLOY_APPROVERS (a comma-separated list of user names) is set, the
# user who started the run must be on it.
#
# Environment: DEPLOY_COMMIT (at least 7 hex digits), DEPLOY_BRANCH (default
# main), DEPLOY_APPROVERS (optional), and FORGEJO_REF or GITHUB_REF,
# FORGEJO_SHA or GITHUB_SHA, FORGEJO_ACTOR or GITHUB_ACTOR (set by the runner).
set -euo pipefail

branch=${DEPLOY_BRANCH:-main}
ref=${FORGEJO_REF:-${GITHUB_REF:-}}
sha=${FORGEJO_SHA:-${GITHUB_SHA:-}}
commit=$(printf '%s' "${DEPLOY_COMMIT:-}" | tr '[:upper:]' '[:lower:]' | tr -d '[:space:]')

if [[ $ref != "refs/heads/$branch" ]]; then
  echo "error: deployments run from refs/heads/$branch, not '${ref:-unset}'; start the workflow on $branch" >&2
  exit 1
fi
if [[ ! $commit =~ ^[0-9a-f]{7,40}$ ]]; then
  echo "error: commit '${DEPLOY_COMMIT:-}' is not a commit id; enter at least the first 7 hex digits of the reviewed commit" >&2
  exit 1
fi
if [[ $sha != "$commit"* ]]; then
  echo "error: $branch is at ${sha:0:12}, not at the reviewed commit $commit; review the new commits' preview and start the deployment again" >&2
  exit 1
fi
actor=${FORGEJO_ACTOR:-${GITHUB_ACTOR:-}}
if [[ -n ${DEPLOY_APPROVERS:-} ]]; then
  IFS=, read -r -a approvers <<<"${DEPLOY_APPROVERS// /}"
  allowed=false
  for approver in "${approvers[@]}"; do
    if [[ -n $approver && $approver == "$actor" ]]; then
      allowed=true
    fi
  done
  if [[ $allowed != true ]]; then
    echo "error: '${actor:-unknown}' may not approve deployments; DEPLOY_APPROVERS lists ${DEPLOY_APPROVERS}" >&2
    exit 1
  fi
fi
echo "approved by ${actor:-unknown}: deploying ${sha:0:12} from $branch"
