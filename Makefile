# Two commands for a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export SDL_AUDIODRIVER ?= dummy

.PHONY: install speech run test lint format bench screenshots lock clean

$(STAMP): requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --no-deps -r requirements.lock
	$(PY) -m pip check || true
	touch $(STAMP)

install: $(STAMP) speech

# Spoken cues: every cue and count-out word, each language, rendered by espeak-ng into
# build/speech/<lang>/<key>.wav; only clips whose text, voice or espeak-ng version changed.
speech: $(STAMP)
	$(PY) -m speech.build build/speech

run: install
	$(PY) main.py $(ARGS)

test: install
	SDL_VIDEODRIVER=dummy SDL_AUDIODRIVER=dummy $(PY) -m pytest -q $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: install
	$(PY) bench/kernels.py
	$(PY) bench/device.py
	$(PY) bench/pipeline.py
	$(PY) bench/ui.py

screenshots: install
	$(PY) -m feedback.screenshots docs/screenshots
	$(PY) -m app.screenshots docs/screenshots
	$(PY) -m app.clinic_screenshots docs/screenshots

# Re-pin after editing pyproject dependencies (jax/jaxlib are dropped on purpose).
lock:
	$(PY) -m pip freeze | grep -v -E '^(jax|jaxlib|ml_dtypes|opt_einsum|scipy)==' > requirements.lock.new
	mv requirements.lock.new requirements.lock

clean:
	rm -rf $(VENV) .pytest_cache build/speech
