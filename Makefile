# fer-ssl: two commands on a fresh machine.
#   make run    installs if needed, runs every notebook headless (PROFILE=quick) and writes runs/<profile>/report.md
#   make test   installs if needed, runs the unit tests and nbval over every notebook at the smoke profile
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PROFILE ?= quick
INSTALLED := $(VENV)/.installed-stamp
# pytest-xdist workers (nbval needs --dist loadscope)
JOBS ?= 2

.PHONY: install run test test-browser lab bench zoo student clean

install: $(INSTALLED)

$(INSTALLED): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(INSTALLED)

run: install
	$(PY) -m fer_lib run-notebooks --profile $(PROFILE)

# nbval runs copies of the notebooks with `profile = "smoke"` injected by papermill (--prepare-only).
test: install
	rm -rf build/nbval build/test-runs
	$(PY) -m fer_lib prepare-notebooks --profile smoke --out build/nbval
	FER_SSL_RUNS=$(CURDIR)/build/test-runs $(PY) -m pytest -n $(JOBS) --dist loadscope \
		tests build/nbval --nbval-lax --nbval-current-env

# The browser test alone (tests/test_browser.py; `make test` runs it too, and skips it where no browser is
# installed): JupyterLab in headless Chromium, a notebook run from the Run menu and its slider moved. Installs
# Debian's chromium and chromium-driver first when they are missing (as root; otherwise it says how).
# Screenshots: build/test-artifacts/.
test-browser: install
	@command -v chromedriver >/dev/null || { if [ "$$(id -u)" = 0 ]; then \
		apt-get update && apt-get install -y chromium chromium-driver; else \
		echo "no chromedriver: run 'sudo apt-get install chromium chromium-driver', then make test-browser"; exit 1; fi; }
	$(PY) -m pytest -m browser -rs -v tests/test_browser.py

lab: install
	$(VENV)/bin/jupyter lab notebooks/

bench: install
	for script in benchmarks/bench_*.py; do $(PY) $$script || exit 1; done

# The checkpoint zoo (zoo/*.pt, zoo/manifest.json): runs each entry's command (fer_lib/zoo.py, ZOO_RECIPES), or
# finds its finished run in runs/, and stores the MAE in float16. Device auto: on a GPU when there is one, else
# on the CPU, where each of the two entries takes about 23 minutes on one core of the 2-core development machine.
zoo: install
	$(PY) -m fer_lib zoo build

# The student edition (fer_lib/student.py): build/student/NN_*.ipynb with every `solution` cell replaced by a stub
# that says what to write, and no outputs. The notebooks in notebooks/ are the teacher edition.
student: install
	rm -rf build/student
	$(PY) -m fer_lib student --out build/student

clean:
	rm -rf build runs .cache
