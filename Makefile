# crewvm build. `make demo` and `make test` are the two commands a new user needs;
# both install missing Debian packages first (cheap when already present).

GO       ?= go
GUEST    := guest/build/kernel.elf
DEBS     := gcc make libz3-dev chromium
VMM      := bin/vmm

.PHONY: all deps guest vmm test demo bench clean fuzz

all: vmm

deps:
	@missing=""; for p in $(DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	fi

guest: deps
	$(MAKE) -C guest

vmm: guest
	$(GO) build -o $(VMM) ./vmm/cmd/vmm

test: vmm
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 60m ./...

# The demo records a racy 2-vCPU run (its outcome varies from run to run),
# replays it (the same outcome, checked), and shows what the log holds;
# then the main job: commutativity tests of four POSIX calls on both
# kernels under test, to a sharing report (about a minute).
demo: vmm
	./$(VMM) run --cpus 4 hello
	./$(VMM) record -o /tmp/crewvm-demo.log --cpus 2 racy-counter 20000000
	./$(VMM) replay /tmp/crewvm-demo.log
	./$(VMM) log stat /tmp/crewvm-demo.log
	./$(VMM) check --model posix --calls open,close,stat,rename --max-tests-per-path 1 --out /tmp/crewvm-check
	head -n 12 /tmp/crewvm-check/top.txt

bench: vmm
	./$(VMM) bench

clean:
	rm -rf bin
	$(MAKE) -C guest clean
