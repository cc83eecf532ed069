#!/usr/bin/env bash
# Record a first-party plugin's evidence on a fresh lab host, as a contributor does
# (docs/contributing-a-recipe.md, "Evidence"): plugins check --record, then a deploy
# with its idempotence re-run, a passing verify report, a backup and a restore, all
# on lab host HOST (its live checks included), turned into evidence/ records by
# `plugins evidence`.
#
#   sudo bash scripts/record-evidence.sh PLUGIN HOST [DEBIAN] [-- DEPLOY_OPTION ...]
#
# DEBIAN is 13 by default. Options after `--` go to the deploy (`-- --engine mitogen`).
# Only a whole deploy counts: a report with checks not run (deploy --tags, verify
# --mark) is refused, so a plugin whose release cannot be downloaded here (nextcloud)
# gets its check record only. The host is destroyed at the end. Commit plugins/PLUGIN/evidence/.
set -euo pipefail
cd "$(dirname "$0")/.."
plugin=${1:?usage: record-evidence.sh PLUGIN HOST [DEBIAN] [-- DEPLOY_OPTION ...]}
host=${2:?usage: record-evidence.sh PLUGIN HOST [DEBIAN] [-- DEPLOY_OPTION ...]}
shift 2
debian=13
if [[ $# -gt 0 && $1 != -- ]]; then debian=$1; shift; fi
[[ ${1:-} == -- ]] && shift
deploy_options=("$@")

anl=(.venv/bin/python -m anl_stack)
work=$(mktemp -d)
trap '"${anl[@]}" lab down "$host" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

# The folder of the last run in a --json summary (the last JSON line): its runs, else its own folder.
last_run() {
  python3 -c 'import json,sys; s = json.loads(sys.stdin.read().strip().splitlines()[-1]); print(s["runs"][-1]["folder"] if s.get("runs") else s["folder"])'
}

"${anl[@]}" plugins check "plugins/$plugin" --record
"${anl[@]}" deploy "$plugin" --lab "$host" --debian "$debian" --idempotence --json "${deploy_options[@]}" \
  > "$work/deploy.json"
idempotence=$(last_run < "$work/deploy.json")
"${anl[@]}" verify "$plugin" --lab "$host" --live-test --report "$work/report.json"
"${anl[@]}" backup "$plugin" --lab "$host" --label evidence --json > "$work/backup.json"
backup=$(last_run < "$work/backup.json")
snapshot=$("${anl[@]}" backups "$plugin" --lab "$host" --json \
  | python3 -c 'import json,sys; print(next(s["id"] for s in json.load(sys.stdin)["snapshots"] if "evidence" in s["labels"]))')
"${anl[@]}" restore "$plugin" --lab "$host" --from "${snapshot:0:12}" --json > "$work/restore.json"
restore=$(last_run < "$work/restore.json")
"${anl[@]}" plugins evidence "plugins/$plugin" --from-report "$work/report.json" \
  --idempotence-run "$idempotence" --backup-run "$backup" --restore-run "$restore"
"${anl[@]}" plugins show "$plugin" | sed -n '1,/^$/p'
