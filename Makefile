# VetBridge. `make demo` runs the app on the built-in Provet simulator; `make test` runs every test.
# A fresh Debian machine needs only Go and gcc: `deps` installs the rest.

GO        ?= go
TAGS      := migrated_fynedo
BIN       := bin/vetbridge
HEADLESS  := bin/vetbridge-headless
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
DATA      ?= $(CURDIR)/data
# Packages the build and the tests need: Fyne's cgo toolchain, a virtual display and a session bus
# for real-window runs, DCMTK as the reference DICOM peer, and Orthanc, whose worklist plugin must
# serve the .wl files export-wl writes and which, with its DICOMweb plugin, is the PACS the image
# tests query; mingw-w64, NSIS and Wine for `make windows` and its tests.
APT_PKGS  := gcc pkg-config libgl1-mesa-dev xorg-dev libwayland-dev libxkbcommon-dev \
             xvfb dbus-x11 xauth dcmtk orthanc orthanc-dicomweb \
             gcc-mingw-w64-x86-64 nsis wine wine64 file
SUDO      := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
FUZZTIME  ?= 10s
BENCHTIME ?= 1s

.PHONY: all deps build headless test vet lint bench fuzz demo run screenshots clean windows test-windows

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
	$(GO) build -tags $(TAGS) -ldflags "-X main.version=$(WIN_VERSION)" -o $(BIN) .

# The same program without its window, for a server's `vetbridge serve`: no cgo, no graphics libraries.
headless:
	CGO_ENABLED=0 $(GO) build -tags headless -ldflags "-X main.version=$(WIN_VERSION)" -o $(HEADLESS) .

vet: deps
	$(GO) vet -tags $(TAGS) ./...
	$(GO) vet -tags '$(TAGS) xvfbsmoke' ./ui/
	CGO_ENABLED=0 $(GO) vet -tags headless .

# staticcheck, pinned; staticcheck.conf says which check is off and why.
lint:
	$(GO) run $(STATICCHECK) -tags $(TAGS) ./...

# The race detector over everything, including the interop tests that start real DCMTK and
# Orthanc peers; then the real window under Xvfb; then Windows (cross-built, tested under Wine).
test: deps vet lint build headless windows test-windows
	$(GO) test -race -tags $(TAGS) -count=1 ./...
	xvfb-run -a $(GO) test -race -tags '$(TAGS) xvfbsmoke' -count=1 -run '^TestRealWindow' ./ui/

bench: deps build headless
	$(GO) test -tags $(TAGS) -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./dicom/... ./store/... ./app/...
	$(GO) build -o bin/benchwl ./tools/benchwl
	BENCHWL_BIN=$(CURDIR)/bin/benchwl ./scripts/bench-vs-wlmscpfs.sh
	VETBRIDGE_BIN=$(BIN) HEADLESS_BIN=$(HEADLESS) ./scripts/bench-serve.sh

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
	rm -rf bin dist

# Windows, cross-built here: mingw-w64 for Fyne's cgo, go-winres (pinned) for the icon, version
# and manifest resources, NSIS for the installer, Wine (with a ProcessPrng shim) for the tests.
WIN_VERSION := $(shell sed -n 's/^[[:space:]]*Version[[:space:]]*=[[:space:]]*"\(.*\)".*/\1/p' FyneApp.toml)
WIN_BUILD   := $(shell sed -n 's/^[[:space:]]*Build[[:space:]]*=[[:space:]]*\([0-9]*\).*/\1/p' FyneApp.toml)
WIN_DIST    := dist/windows
WIN_EXE     := $(WIN_DIST)/vetbridge.exe
WIN_SETUP   := $(WIN_DIST)/VetBridge-$(WIN_VERSION)-Setup.exe
WIN_CC      := x86_64-w64-mingw32-gcc
WIN_ENV     := GOOS=windows GOARCH=amd64 CGO_ENABLED=1 CC=$(WIN_CC)
GO_WINRES   := github.com/tc-hib/go-winres@v0.3.3

# The resource object must sit in the main package's directory while it builds; it is removed
# afterwards (and ignored by git) so no stale version can slip into a later build.
windows: deps
	@test -n "$(WIN_VERSION)" -a -n "$(WIN_BUILD)" || { echo "FyneApp.toml: no Version or Build"; exit 1; }
	@mkdir -p $(WIN_DIST)
	$(GO) run $(GO_WINRES) make --in packaging/windows/winres.json --arch amd64 --out rsrc \
	  --file-version $(WIN_VERSION).$(WIN_BUILD) --product-version $(WIN_VERSION).$(WIN_BUILD) && \
	$(WIN_ENV) $(GO) build -tags $(TAGS) -trimpath -ldflags "-H windowsgui -s -w -X main.version=$(WIN_VERSION)" \
	  -o $(WIN_EXE) . ; rc=$$?; rm -f rsrc_windows_amd64.syso; exit $$rc
	@file $(WIN_EXE) | grep -q 'PE32+ executable (GUI) x86-64' || { file $(WIN_EXE); echo "not a Windows GUI x86-64 exe"; exit 1; }
	makensis -V2 -WX -DVERSION=$(WIN_VERSION) -DVIVERSION=$(WIN_VERSION).$(WIN_BUILD) \
	  -DEXE=$(CURDIR)/$(WIN_EXE) -DOUTFILE=$(CURDIR)/$(WIN_SETUP) packaging/windows/vetbridge.nsi
	@ls -l $(WIN_EXE) $(WIN_SETUP)

# go vet for Windows (packages that need Fyne's GLFW driver with cgo and mingw-w64, every other
# one without, as it ships); every package's tests under Wine (the UI's on Fyne's software test
# driver); the installer under Wine.
test-windows: deps
	@pkgs=$$($(WIN_ENV) $(GO) list -tags $(TAGS) \
	  -f '{{.ImportPath}}{{range .Deps}}{{if eq . "github.com/go-gl/glfw/v3.4/glfw"}} glfw{{end}}{{end}}' ./...) && \
	set -x && \
	GOOS=windows GOARCH=amd64 CGO_ENABLED=0 $(GO) vet -tags $(TAGS) $$(echo "$$pkgs" | awk 'NF == 1 {print $$1}') && \
	$(WIN_ENV) $(GO) vet -tags $(TAGS) $$(echo "$$pkgs" | awk 'NF == 2 {print $$1}')
	./scripts/wine-test.sh
	./scripts/wine-installer-test.sh
