# Thin wrapper over CMake. Every target first makes sure the Debian packages are present
# (apt-get only runs when something is missing), so a fresh machine needs nothing else.
BUILD ?= build
JOBS ?= $(shell nproc)
# nghttp2-server is for tests only: nghttpd is the HTTP/2 peer of tests/net/http_client_h2_test.cpp.
PKGS := g++ cmake make pkg-config python3 sqlite3 openssl \
        libuv1-dev libcurl4-openssl-dev libsqlite3-dev libssl-dev nlohmann-json3-dev \
        catch2 libyaml-cpp-dev libre2-dev libcli11-dev \
        nghttp2-server
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo
ifdef CI
CMAKE_FLAGS += -DESD_WERROR=ON
endif

.PHONY: all deps build test demo bench asan clean

all: build

deps:
	@missing=""; for p in $(PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

build: deps
	@cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 300

demo: build
	python3 examples/demo.py --binary $(BUILD)/extsecretd

bench: build
	python3 bench/bench.py --binary $(BUILD)/extsecretd
	python3 bench/bench_aws.py --binary $(BUILD)/extsecretd

asan: deps
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DESD_SANITIZE=ON >/dev/null
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ctest --output-on-failure -j $(JOBS) --timeout 600

clean:
	rm -rf $(BUILD) build-asan
