#!/usr/bin/env bash
# Report whether this job has what a real `pulumi preview` or `pulumi up`
# needs, as the step output `available=true|false`, so later jobs can skip
# instead of failing. A workflow cannot test a secret in a job's `if:` on
# GitHub Actions, and pull requests from forks get no secrets at all.
#
# A state backend is required: PULUMI_ACCESS_TOKEN (Pulumi Cloud) or
# PULUMI_BACKEND_URL (a self-managed backend, which also needs
# PULUMI_CONFIG_PASSPHRASE to decrypt the stack secrets). Only the names of
# the variables are printed, never their values.
set -euo pipefail

output=${FORGEJO_OUTPUT:-${GITHUB_OUTPUT:-/dev/stdout}}

available=false
if [[ -n ${PULUMI_ACCESS_TOKEN:-} ]]; then
  available=true
  echo "PULUMI_ACCESS_TOKEN is set: the stacks are read from Pulumi Cloud"
elif [[ -n ${PULUMI_BACKEND_URL:-} && -n ${PULUMI_CONFIG_PASSPHRASE:-} ]]; then
  available=true
  echo "PULUMI_BACKEND_URL and PULUMI_CONFIG_PASSPHRASE are set: the stacks are read from that backend"
elif [[ -n ${PULUMI_BACKEND_URL:-} ]]; then
  echo "PULUMI_BACKEND_URL is set but PULUMI_CONFIG_PASSPHRASE is not; add it as a repository secret"
else
  echo "no Pulumi credentials (PULUMI_ACCESS_TOKEN, or PULUMI_BACKEND_URL with PULUMI_CONFIG_PASSPHRASE); skipping pulumi preview and up"
fi
if [[ $available == true && -z ${DEPLOY_SSH_KEY:-} ]]; then
  echo "warning: DEPLOY_SSH_KEY is not set; the Docker providers can reach the hosts only with the runner's own SSH keys"
fi
echo "available=$available" >>"$output"
