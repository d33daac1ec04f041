# Two commands for a fresh machine: `make demo` and `make test`. Both create ./.venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The CPU build of torch tested here; the package itself accepts any torch 2.x.
TORCH_PIN ?= torch==2.13.0
STAMP := $(VENV)/.installed

.PHONY: install demo test benchmarks clean

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "$(TORCH_PIN)"
	$(BIN)/pip install -q -e ".[test]"
	# nlb-tools pins pandas<=1.3.4, which cannot install on Python 3.11: take it without its pins.
	$(BIN)/pip install -q --no-deps "nlb-tools==0.0.4"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/eag-augment demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

benchmarks: $(STAMP)
	$(BIN)/python benchmarks/fidelity.py
	$(BIN)/python benchmarks/latency.py
	$(BIN)/python benchmarks/decoding_gain.py
	$(BIN)/python benchmarks/unseen_conditions.py

clean:
	rm -rf $(VENV) *.egg-info
