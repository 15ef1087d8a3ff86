# The two commands of README.md:
#   make dev   - install, start a local Kafka, create topics, run every worker, the chat page and
#                an SMTP sink, and show a ticket made from a sample email and a sample chat message
#   make test  - install everything the tests need and run the whole suite
.PHONY: dev test setup lint bench clean

dev:
	scripts/setup --no-browser
	.venv/bin/helpline dev

test:
	scripts/test

setup:
	scripts/setup

lint:
	.venv/bin/ruff check .
	.venv/bin/mypy schemas runtime ingest tickets classify route notify console

bench:
	for b in benchmarks/bench_*.py; do echo "== $$b"; .venv/bin/python $$b || exit 1; done

clean:
	-.venv/bin/helpline kafka down
	rm -rf .cache/kafka-run
