# Every target works as the only command on a fresh machine: it creates .venv and installs.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.weightfit-installed

.PHONY: demo test lint format bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# The local CPU wheel; any other torch spec downloads GBs. It must come first.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[torch,hf,test]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) examples/demo.py

test: $(STAMP)
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench examples docs
	$(VENV)/bin/ruff format --check src tests bench examples docs
	$(VENV)/bin/mypy src/weightfit

format: $(STAMP)
	$(VENV)/bin/ruff format src tests bench examples
	$(VENV)/bin/ruff check --fix src tests bench examples

bench: $(STAMP)
	$(PY) bench/inspect_headers.py
	$(PY) bench/check.py
	$(PY) bench/lint.py
	$(PY) bench/apply.py
	$(PY) bench/merge.py
	$(PY) bench/convert.py
	$(PY) bench/convert_library.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info
