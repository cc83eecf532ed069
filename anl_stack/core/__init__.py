"""What every layer uses: errors and exit codes, paths, languages, YAML files."""
