# Everything runs inside a local virtual environment (.venv) so a fresh machine needs only python3.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test demo bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	# CPU torch first: a plain "torch" requirement would pull several GB of CUDA wheels.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[dev,ray,lmms-eval]"
	# lmms-eval without its declared deps: they pin av<16 and torchvision (docs/evaluation.md).
	$(BIN)/pip install -q --no-deps lmms-eval==0.7.3
	touch $(STAMP)

test: install
	$(BIN)/python -m pytest -n 2 -q tests

demo: install
	$(BIN)/ov2 demo --out demo_out

bench: install
	$(BIN)/python benchmarks/tokenize_speed.py
	$(BIN)/python benchmarks/encoder_attention.py

clean:
	rm -rf $(VENV) demo_out .pytest_cache
