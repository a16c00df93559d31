#!/usr/bin/env bash
# .ci/kubernetes/validate.sh: renders every kustomization of deploy/kubernetes with kubectl kustomize and
# validates each object against the Kubernetes API schema (npm kubernetes-models, strict: unknown
# fields fail too), then the migration pods against docs/kubernetes.md's rules (validate.mjs).
# .ci/run runs it; needs kubectl (with its built-in kustomize), node and npm.
#
#   bash .ci/kubernetes/validate.sh
#
#   TIMETRACK_CI_TOOLS   where the npm packages are installed once (default ~/.cache/timetrack-ci-tools,
#                        the linters' cache of .ci/run)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/../../deploy/kubernetes"

# Pinned: the schema is the one kubernetes-models 5.1.0 was generated from (it knows 1.34's fields).
packages=(kubernetes-models@5.1.0 yaml@2.9.1)
tools="${TIMETRACK_CI_TOOLS:-$HOME/.cache/timetrack-ci-tools}"
kustomizations=(base overlays/helm-hook overlays/argocd init-container)

command -v kubectl >/dev/null 2>&1 || { echo "error: kubectl (1.27 or later, for its kustomize v5) is missing" >&2; exit 1; }
command -v node >/dev/null 2>&1 || { echo "error: node is missing" >&2; exit 1; }
installed() { node -e 'process.exit(require(process.argv[1]).version === process.argv[2] ? 0 : 1)' "$tools/node_modules/$1/package.json" "$2" 2>/dev/null; }
if ! installed kubernetes-models 5.1.0 || ! installed yaml 2.9.1; then
  mkdir -p "$tools"
  # kubernetes-models asks for Node 22 (engines) and runs on 20: the warning is not a failure.
  npm install --prefix "$tools" --no-audit --no-fund --silent "${packages[@]}" >/dev/null
fi

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
args=()
for k in "${kustomizations[@]}"; do
  name="${k##*/}"
  kubectl kustomize "$k" >"$out/$name.yaml"
  args+=("$name=$out/$name.yaml")
done
node "$here/validate.mjs" "$tools/node_modules" "${args[@]}"
# The checks must be able to fail: each of a list of mistakes made in a copy of the Job is found.
node "$here/validate.mjs" "$tools/node_modules" --self-test "base=$out/base.yaml" >"$out/self-test.log" \
  || { cat "$out/self-test.log"; echo "error: validate.mjs missed a mistake (above)" >&2; exit 1; }
echo "validate: self-test: $(grep -c '^found:' "$out/self-test.log") planted mistakes found"
