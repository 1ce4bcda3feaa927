# riffle: `make run` to start a server, `make test` to run every test.
# Every target that builds or tests installs what is missing first.

BUILD_DIR   ?= build
ASAN_DIR    ?= build-asan
JOBS        ?= 2
DATA_DIR    ?= data
PYTHON      ?= /usr/bin/python3
CMAKE_FLAGS ?=

.PHONY: all setup configure build run test unit-test asan-test integration-test \
        bench bench-kinesis bench-registry bench-dynamodb bench-avro bench-pipeline \
        bench-read-api \
        format format-check clean

all: build

setup:
	@scripts/setup

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)

configure: setup $(BUILD_DIR)/build.ninja

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

# The payments example (examples/payments/): the server with its stack, the
# sample payments fed through `riffle produce`, and commands to try.
run: build
	scripts/run-example $(abspath $(BUILD_DIR))/riffle $(DATA_DIR)

test: build format-check unit-test asan-test integration-test

unit-test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -L unit -j $(JOBS)

$(ASAN_DIR)/build.ninja:
	cmake -S . -B $(ASAN_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DRIFFLE_SANITIZE=ON $(CMAKE_FLAGS)

# The unit tests again under AddressSanitizer and UBSan.
asan-test: setup $(ASAN_DIR)/build.ninja
	cmake --build $(ASAN_DIR) -j $(JOBS) --target unit_tests
	cd $(ASAN_DIR) && ctest --output-on-failure -L unit -j $(JOBS)

# The real binary driven by real clients: boto3 and the aws CLI (pytest),
# and the AWS SDK for JavaScript (node's test runner).
integration-test: build
	RIFFLE_BIN=$(abspath $(BUILD_DIR))/riffle $(PYTHON) -m pytest -q tests
	RIFFLE_BIN=$(abspath $(BUILD_DIR))/riffle node --test tests/

# riffle against kinesalite with the same records (docs/benchmarks.md); a few
# minutes, never part of `make test`. BENCH_ARGS passes flags to bench/run,
# e.g. BENCH_ARGS="--runs 5 --relaxed".
BENCH_ARGS ?=
# Benchmarks (never part of `make test`); figures in docs/benchmarks.md.
bench: bench-kinesis bench-registry bench-dynamodb bench-avro bench-pipeline \
       bench-read-api

bench-kinesis: build
	cmake --build $(BUILD_DIR) -j $(JOBS) --target kinesis_load
	$(PYTHON) bench/run --riffle $(abspath $(BUILD_DIR))/riffle \
	  --load $(abspath $(BUILD_DIR))/bench/kinesis_load $(BENCH_ARGS)

bench-registry: build
	$(PYTHON) bench/registry_bench --riffle $(abspath $(BUILD_DIR))/riffle

bench-dynamodb: build
	cmake --build $(BUILD_DIR) -j $(JOBS) --target dynamodb_load
	bench/dynamodb_bench.sh $(abspath $(BUILD_DIR))

# riffle's Avro codec against avsc, one table side by side (docs/benchmarks.md).
# e.g. AVRO_BENCH_ARGS="--rounds 9 --cpu 0".
AVRO_BENCH_ARGS ?= --rounds 5 --cpu 1 --seconds 1
bench-avro: configure
	cmake --build $(BUILD_DIR) -j $(JOBS) --target avro_bench
	$(PYTHON) bench/avro_compare --bench $(BUILD_DIR)/bench/avro_bench $(AVRO_BENCH_ARGS)

bench-pipeline: build
	cmake --build $(BUILD_DIR) -j $(JOBS) --target pipeline_load
	bench/pipeline_bench.sh $(abspath $(BUILD_DIR))

# The read API against the DynamoDB GetItem/Query beneath it, and /health.
bench-read-api: build
	cmake --build $(BUILD_DIR) -j $(JOBS) --target dynamodb_load
	bench/read_api_bench.sh $(abspath $(BUILD_DIR))

format:
	git ls-files '*.h' '*.cc' | xargs clang-format -i

format-check:
	@git ls-files '*.h' '*.cc' | xargs -r clang-format --dry-run --Werror

clean:
	rm -rf $(BUILD_DIR) $(ASAN_DIR)
