# Test tiers. Both assume the venv from the README: python3 -m venv .venv && .venv/bin/pip install -e '.[dev]'
.PHONY: test test-all

# Fast tier: every test not marked `integration`; starts no services (~300 tests, a few minutes).
test:
	.venv/bin/pytest -m "not integration"

# Everything, including the integration tier that starts the real services: the README's test command.
test-all:
	.venv/bin/pytest
