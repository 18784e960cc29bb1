# The Go client (go/README.md).  Included from the Makefile, after BUILD and
# `all` are set.
#
# Offline, from Debian's packages only: golang-go, protoc-gen-go and
# protobuf-compiler, and golang-google-protobuf-dev, which puts
# google.golang.org/protobuf in /usr/share/gocode.  The build runs in
# GOPATH mode (GO111MODULE=off, as Debian's own Go packages build), with a
# GOPATH in $(BUILD)/go that links this module at its import path, then
# /usr/share/gocode; GOPROXY=off, so nothing is ever downloaded.  go/go.mod
# is for those who import the module (pillar), not used here.
#
#   make test-go	the generated code is what protoc-gen-go makes of
#			proto/evg.proto today, gofmt, go vet, then go test
#			against the binaries of `make all` (EVG_BUILD)
#   make go-generate	regenerate go/evgpb/evg.pb.go after a .proto change

GO		?= go
GOFMT		?= gofmt
PROTOC		?= protoc
GO_MODULE	:= github.com/lf-edge/eve-guest-agent/go
GO_PKGS		:= $(GO_MODULE)/evgpb $(GO_MODULE)/evg
GO_DIR		:= $(abspath $(BUILD))/go
GO_ENV		:= GO111MODULE=off GOFLAGS= GOPROXY=off GOTOOLCHAIN=local \
		   GOPATH=$(GO_DIR)/gopath:/usr/share/gocode \
		   GOCACHE=$(GO_DIR)/cache
GO_PB		:= go/evgpb/evg.pb.go

.PHONY: test-go go-generate go-gen go-gopath go-check

# $(BUILD)/go/gen/evgpb/evg.pb.go, from the .proto as it is now (always
# made again: the generator may have changed as well as the .proto).
go-gen:
	@mkdir -p $(GO_DIR)/gen
	$(PROTOC) --proto_path=proto --go_out=$(GO_DIR)/gen \
	    --go_opt=module=$(GO_MODULE) proto/evg.proto

go-generate: go-gen
	cp $(GO_DIR)/gen/evgpb/evg.pb.go $(GO_PB)

# The module at its import path inside the build's GOPATH.
go-gopath:
	@mkdir -p $(GO_DIR)/gopath/src/github.com/lf-edge/eve-guest-agent
	@ln -sfn $(CURDIR)/go $(GO_DIR)/gopath/src/$(GO_MODULE)

# Skipped only where Go is not installed at all (scripts/deps.sh installs
# it, so CI always runs it).
test-go: all
	@if ! command -v $(GO) >/dev/null 2>&1; then \
	    echo "test-go: SKIPPED (no '$(GO)' command; make deps installs golang-go)"; \
	    exit 0; \
	fi; \
	$(MAKE) --no-print-directory go-check

go-check: go-gen go-gopath
	@diff -u $(GO_PB) $(GO_DIR)/gen/evgpb/evg.pb.go || { \
	    echo "test-go: $(GO_PB) is not what protoc-gen-go makes of" \
	    "proto/evg.proto: run make go-generate"; exit 1; }
	@out=$$($(GOFMT) -l go); [ -z "$$out" ] || \
	    { echo "test-go: not gofmt'ed: $$out"; exit 1; }
	cd $(GO_DIR)/gopath/src/$(GO_MODULE) && $(GO_ENV) $(GO) vet $(GO_PKGS)
	cd $(GO_DIR)/gopath/src/$(GO_MODULE) && $(GO_ENV) \
	    EVG_BUILD=$(abspath $(BUILD)) EVG_SRC=$(CURDIR) \
	    $(GO) test -count=1 $(GO_TEST_FLAGS) $(GO_PKGS)
