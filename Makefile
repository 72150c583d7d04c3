# Everything sets itself up: `make test` and `make demo` work on a fresh machine.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

PG_URL    ?= postgresql://postgres@127.0.0.1:5432/test
MYSQL_URL ?= mysql://root@127.0.0.1:3306/test

.PHONY: test test-sqlite test-engines chaos demo screenshots clean

# face-recognition asks for "dlib", which the dlib-bin wheel provides under another name: installed
# without its dependencies, which requirements.txt lists (dlib-bin, face_recognition_models, numpy, pillow).
FACE_RECOGNITION := face-recognition==1.3.0

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps $(FACE_RECOGNITION)
	touch $(STAMP)

## Run the suite on SQLite, PostgreSQL and MariaDB (the servers where they answer), side by side: each
## run waits more than it computes, and one after the other they took most of CI's time.
test: $(STAMP)
	@SQLITE=1 PY=$(PY) PG_URL=$(PG_URL) MYSQL_URL=$(MYSQL_URL) sh scripts/test-engines.sh

test-sqlite: $(STAMP)
	env -u DATABASE_URL $(PY) -m pytest -q --durations=15

test-engines: $(STAMP)
	@PY=$(PY) PG_URL=$(PG_URL) MYSQL_URL=$(MYSQL_URL) sh scripts/test-engines.sh

## Kill and restart the product's processes while permits move and alarms fire, then check the books
## (bench/chaos.py; SEED=<n> replays a run). Ends with `faults=N transitions=N lost=0 doubled=0 ...`.
chaos: $(STAMP)
	$(PY) bench/chaos.py $(if $(SEED),--seed $(SEED))

## Run the product on embedded defaults (SQLite, embedded Redis, the WeCom sandbox) and print
## the phone-view URL, where one can act as anyone in the sample plant.
demo: $(STAMP)
	$(PY) app.py demo

## Regenerate the README's pictures: the phone views and the tablet board with Debian's Chromium
## (Playwright), and the report page where LibreOffice is installed.
screenshots: $(STAMP)
	$(PY) scripts/screenshots.py
	@if command -v soffice >/dev/null; then $(PY) scripts/render_report.py; \
	 else echo "soffice not found: docs/report-overview.png kept (apt-get install libreoffice-calc poppler-utils)"; fi

clean:
	rm -rf $(VENV) instance .pytest_cache
