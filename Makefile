# VetBridge. `make demo` runs the app on the built-in Provet simulator; `make test` runs every test.
# A fresh Debian machine needs only Go and gcc: `deps` installs the rest.

GO        ?= go
TAGS      := migrated_fynedo
BIN       := bin/vetbridge
DATA      ?= $(CURDIR)/data
# Packages the build and the tests need: Fyne's cgo toolchain, a virtual display and a session bus
# for real-window runs, DCMTK as the reference DICOM peer, and Orthanc, whose worklist plugin must
# serve the .wl files export-wl writes.
APT_PKGS  := gcc pkg-config libgl1-mesa-dev xorg-dev libwayland-dev libxkbcommon-dev \
             xvfb dbus-x11 xauth dcmtk orthanc
SUDO      := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
FUZZTIME  ?= 10s
BENCHTIME ?= 1s

.PHONY: all deps build test vet bench fuzz demo run screenshots clean

all: build

deps:
	@missing=""; for p in $(APT_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

build: deps
	$(GO) build -tags $(TAGS) -o $(BIN) .

vet: deps
	$(GO) vet -tags $(TAGS) ./...

# The race detector over everything, including the interop tests that start real DCMTK peers.
test: deps vet build
	$(GO) test -race -tags $(TAGS) -count=1 ./...

bench: deps build
	$(GO) test -tags $(TAGS) -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./dicom/... ./store/... ./app/...
	VETBRIDGE_BIN=$(CURDIR)/$(BIN) ./scripts/bench-vs-wlmscpfs.sh

fuzz: deps
	@set -e; for pkg in $$($(GO) list ./... ); do \
	  for f in $$($(GO) test -tags $(TAGS) -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$f"; \
	    $(GO) test -tags $(TAGS) -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

demo: build
	$(BIN) demo --data $(DATA)/demo

run: build
	$(BIN)

# Screenshots grab the real window at X level (ImageMagick's import): reading
# it back through OpenGL gives black frames under Xvfb.
screenshots: build
	@for p in imagemagick; do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || \
	  { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$p >/dev/null; }; done
	./scripts/screenshots.sh $(BIN) docs

clean:
	rm -rf bin
