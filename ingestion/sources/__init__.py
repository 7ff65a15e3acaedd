"""The sources: declared in YAML (`declarations`), extracted into Bronze by one connector per kind."""
