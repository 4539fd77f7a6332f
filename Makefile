# trustgen: `make demo` runs the main job on the embedded defaults; `make test` runs the suite.
# Both create .venv on first use (Python >= 3.10 and pip are all they need).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO   := demo-output

.PHONY: demo test venv slim clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

demo: venv
	@$(BIN)/trustgen keys show >/dev/null 2>&1 || $(BIN)/trustgen keys init
	$(BIN)/trustgen generate -n 4 --seed 2026 --out $(DEMO) --overwrite
	$(BIN)/trustgen verify $(DEMO)
	$(BIN)/trustgen watermark detect --latent $(DEMO)/*.png

test: venv
	$(BIN)/python -m pytest

# The verification-only install (`pip install trustgen`, no torch) built beside this one, with
# its size and its verdicts on the shared C2PA fixtures compared with the full install's.
slim: venv
	$(BIN)/python benchmarks/slim_install.py --rebuild

clean:
	rm -rf $(DEMO) build dist *.egg-info .pytest_cache
