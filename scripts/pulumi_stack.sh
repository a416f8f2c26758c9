#!/usr/bin/env bash
# Run `pulumi preview` or `pulumi up` for one stack from CI.
#
# Usage: scripts/pulumi_stack.sh preview|up STACK
#
# Installs the Pulumi CLI of the version that requirements.txt pins for the
# SDK when the runner has no such CLI, loads DEPLOY_SSH_KEY into an ssh-agent
# for the Docker providers and the cloud-init check (which connect to the
# hosts over SSH on the tailnet, so the runner must be on the tailnet), logs
# in to the state backend and runs the command non-interactively.
#
# Environment: PULUMI_ACCESS_TOKEN or PULUMI_BACKEND_URL (see
# scripts/pulumi_credentials.sh), PULUMI_ORGANIZATION (optional; the stack is
# then ORGANIZATION/STACK), DEPLOY_SSH_KEY and DEPLOY_KNOWN_HOSTS (the private
# key and the known_hosts lines of both hosts; the providers run ssh in batch
# mode, which rejects unknown host keys), PULUMI_INSTALL_URL (default
# https://get.pulumi.com).
set -euo pipefail
cd "$(dirname "$0")/.."

usage="usage: scripts/pulumi_stack.sh preview|up STACK"
action=${1:?$usage}
stack=${2:?$usage}
case $action in
  preview | up) ;;
  *)
    echo "error: unknown action '$action'; $usage" >&2
    exit 2
    ;;
esac
if [[ ! -f Pulumi.$stack.yaml ]]; then
  known=()
  for file in Pulumi.*.yaml; do
    name=${file#Pulumi.}
    known+=("${name%.yaml}")
  done
  echo "error: no stack file Pulumi.$stack.yaml; known stacks are ${known[*]}" >&2
  exit 2
fi

# The CLI and the Python SDK are released together under one version number.
version=$(sed -n 's/^pulumi==\([0-9.]*\)$/\1/p' requirements.txt)
if [[ -z $version ]]; then
  echo "error: requirements.txt pins no pulumi==VERSION" >&2
  exit 1
fi
installed=$(pulumi version 2>/dev/null || true)
if [[ $installed != "v$version" ]]; then
  echo "installing the Pulumi CLI v$version (found: ${installed:-none})"
  curl -fsSL "${PULUMI_INSTALL_URL:-https://get.pulumi.com}" | sh -s -- --version "$version"
  export PATH=$HOME/.pulumi/bin:$PATH
fi

if [[ -n ${DEPLOY_SSH_KEY:-} ]]; then
  if [[ -z ${DEPLOY_KNOWN_HOSTS:-} ]]; then
    echo "error: DEPLOY_SSH_KEY is set but DEPLOY_KNOWN_HOSTS is not; add the known_hosts lines of both hosts as a secret" >&2
    exit 1
  fi
  mkdir -p "$HOME/.ssh"
  chmod 700 "$HOME/.ssh"
  printf '%s\n' "$DEPLOY_KNOWN_HOSTS" >>"$HOME/.ssh/known_hosts"
  eval "$(ssh-agent -s)" >/dev/null
  trap 'ssh-agent -k >/dev/null' EXIT
  printf '%s\n' "$DEPLOY_SSH_KEY" | ssh-add - 2>/dev/null
fi

# With no URL, `pulumi login` uses Pulumi Cloud and PULUMI_ACCESS_TOKEN.
if [[ -n ${PULUMI_BACKEND_URL:-} ]]; then
  pulumi login --non-interactive "$PULUMI_BACKEND_URL"
else
  pulumi login --non-interactive
fi

target=${PULUMI_ORGANIZATION:+$PULUMI_ORGANIZATION/}$stack
if [[ $action == preview ]]; then
  pulumi preview --stack "$target" --non-interactive --diff
else
  pulumi up --stack "$target" --non-interactive --diff --yes
fi
