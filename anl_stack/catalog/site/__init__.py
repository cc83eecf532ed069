"""The catalog site: static bilingual pages a collective of communes publishes as they are.

``pages`` decides what pages exist and what each shows (from the plugins,
their records and cost models), ``render`` turns them into HTML,
``export`` writes the machine-readable catalog (catalog.json, publiccode.yml)
and ``build`` writes the whole site into a folder, all or nothing.
"""
