# Fulcrum: `make bench` runs the microbenchmark report, `make test` builds and runs every test.
APT_PACKAGES := libopenblas-dev liblapacke-dev
CPU_FLAGS := -Xswiftc -target-cpu -Xswiftc native
BENCH_ARGS ?=

.PHONY: deps build bench test clean

deps:
	@missing=""; for p in $(APT_PACKAGES); do \
		dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing$$missing"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

build: deps
	swift build -c release $(CPU_FLAGS)

bench: build
	swift run -c release $(CPU_FLAGS) fulcrum-bench $(BENCH_ARGS)

# The quick benchmark runs first so that a benchmark that no longer builds or runs fails the
# test command. The tests run twice: built for baseline x86-64 (no FMA, what a plain
# `swift build` gives) and for this CPU (FMA and, where the CPU has them, the AVX-512 paths:
# what `make bench` measures), in separate build directories; the last summary printed is the
# native build's.
test: deps
	swift build -c release --product fulcrum-bench
	.build/release/fulcrum-bench --quick --json .build/bench-quick.json
	swift test -c release
	swift test -c release $(CPU_FLAGS) --scratch-path .build/native

clean:
	rm -rf .build
