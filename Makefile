# The two commands the README promises: `make app` and `make test`.
.PHONY: setup app test

setup:
	./scripts/setup.sh

app: setup
	.venv/bin/python app.py

test: setup
	./scripts/setup-browser.sh
	.venv/bin/python -m pytest -q
