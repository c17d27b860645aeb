# Two entry points: `make run` (set up, start the app) and `make test` (set up, run every test).
PY      := .venv/bin/python
STAMP   := .venv/.setup-done
APT_PKGS := amsynth chromium fonts-dejavu-core espeak-ng fluidsynth fluid-soundfont-gm ffmpeg

.PHONY: run test setup system-deps lint bench

setup: system-deps $(STAMP)

# Debian packages: only when root and something is missing (idempotent, quiet otherwise).
system-deps:
	@missing=""; for p in $(APT_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "apt-get install:$$missing"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	  else echo "Missing Debian packages:$$missing -- run 'sudo apt-get install$$missing'"; exit 1; fi; \
	fi

$(STAMP): requirements.txt
	test -x $(PY) || python3 -m venv .venv
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $(STAMP)

run: setup
	GRADIO_ANALYTICS_ENABLED=False $(PY) app.py

test: setup
	GRADIO_ANALYTICS_ENABLED=False HF_HUB_OFFLINE=1 $(PY) -m pytest -q

lint: setup
	$(PY) -m ruff check .

bench: setup
	$(PY) benchmarks/render_throughput.py
