#!/usr/bin/env bash
# Update the gettext catalogs after a change to the texts: extract (anl_stack.pot),
# merge into each language's .po (translate the new entries there), compile the .mo.
# Run from the project's root with the virtualenv: bash scripts/translations.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"  # babel.cfg names the project's extraction method
PYBABEL=${PYBABEL:-.venv/bin/pybabel}
"$PYBABEL" extract -F babel.cfg --no-location --sort-output --omit-header \
  --msgid-bugs-address "https://alpes-numerique-libre.invalid/anl-stack" -o anl_stack/locale/anl_stack.pot anl_stack
"$PYBABEL" update -D anl_stack -i anl_stack/locale/anl_stack.pot -d anl_stack/locale \
  --ignore-obsolete --no-fuzzy-matching --width 100
"$PYBABEL" compile -D anl_stack -d anl_stack/locale --statistics
