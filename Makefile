# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
WHEELHOUSE := $(VENV)/wheelhouse
LLAMA_VERSION := $(shell sed -n 's/^llama-cpp-python==//p' constraints.txt)
# Default llama.cpp flags segfault on this CPU family (AVX-512/AMX path); see DESIGN.md.
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
PORT ?= 8501
PYTEST_ARGS ?=

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export LITELLM_LOCAL_MODEL_COST_MAP := True
export TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS :=

.PHONY: run test install lint worker clean-venv lock

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# The llama.cpp wheel is built once into the venv's wheelhouse and reused.
$(WHEELHOUSE)/.llama-$(LLAMA_VERSION): | $(PY)
	mkdir -p $(WHEELHOUSE)
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PIP) wheel --no-deps -w $(WHEELHOUSE) llama-cpp-python==$(LLAMA_VERSION)
	touch $@

$(STAMP): pyproject.toml constraints.txt $(WHEELHOUSE)/.llama-$(LLAMA_VERSION) | $(PY)
	$(PIP) install torch==2.13.0
	$(PIP) install --find-links $(WHEELHOUSE) -c constraints.txt -e '.[dev]'
	$(PY) -m workbench.analyse.umap_jit  # compile UMAP's numba code once into its disk cache (about 40 s)
	-$(PY) -m workbench.core.onnx_export  # the bundled embedding model for ONNX Runtime; on failure torch serves (said)
	touch $@

install: $(STAMP)

run: $(STAMP)
	$(PY) -m streamlit run app.py --server.address 127.0.0.1 --server.port $(PORT)

worker: $(STAMP)
	$(VENV)/bin/workbench worker

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

clean-venv:
	rm -rf $(VENV)

# Re-resolve every dependency to its newest allowed version and rewrite constraints.txt.
lock: | $(PY)
	$(PY) -m venv --clear /tmp/workbench-lock-venv
	/tmp/workbench-lock-venv/bin/pip install --quiet torch==2.13.0
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" /tmp/workbench-lock-venv/bin/pip install --quiet '.[dev]'
	{ head -n 2 constraints.txt; /tmp/workbench-lock-venv/bin/pip freeze --exclude-editable \
	  | grep -v '^entropy-workbench' | sed -e 's/+cpu$$//' -e 's/^llama_cpp_python @ .*/llama-cpp-python==$(LLAMA_VERSION)/'; } > constraints.new
	mv constraints.new constraints.txt
