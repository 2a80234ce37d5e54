#!/usr/bin/env bash
# Installs the Node.js lines the project supports into .node/<major>/ (git-ignored) from the
# npm registry's `node` packages, which carry the official binaries. Never touches the
# system Node. Prints the bin directory of each line; put the one you want first on PATH:
#   export PATH="$PWD/.node/24/bin:$PATH"
set -euo pipefail
cd "$(dirname "$0")/.."
lines=("$@")
[ ${#lines[@]} -gt 0 ] || lines=(24 22)
for line in "${lines[@]}"; do
  dir=".node/$line"
  if [ ! -x "$dir/bin/node" ]; then
    rm -rf "$dir"
    mkdir -p "$dir"
    # The package's preinstall step fetches the platform binary package from the same registry.
    npm install --prefix "$dir" --no-save --no-audit --no-fund --no-package-lock --loglevel=error "node@$line" >/dev/null
    ln -sfn node_modules/.bin "$dir/bin"
  fi
  "$dir/bin/node" -e 'process.exit(0)' || { echo "the Node $line binary in $dir does not run" >&2; exit 1; }
  echo "$PWD/$dir/bin"
done
