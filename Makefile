# SPDX-License-Identifier: GPL-2.0
#
# rustre: Lustre kernel mechanisms as Rust-for-Linux modules.
#
#   make deps     install toolchain, kernel source, VM runner (root; idempotent)
#   make run      build what is missing, boot the VM with the modules loaded (shell, or demo)
#   make test     host cargo tests, then KUnit and integration tests in the VM
#   make fuzz     run every fuzz target of tools/fuzz for FUZZ_SECONDS each (default 3600)
#   make patches  build/patches/: the kernel patch series plus the drivers as in-tree patches
#   make intree   make patches, then build them in the kernel tree (Kconfig options =m)
#
# KASAN=1 (e.g. make test KASAN=1) uses the KASAN variant of the test kernel, cached on its own;
# PERF=1 the performance variant for the benchmarks (no debug checks; scripts/rustre-perf.config).
# The modules are rebuilt whenever the kernel they were built for changes.
#
# The kernel is built once per input hash and reused (scripts/kernel.sh).

CACHE      ?= /var/cache/rustre
KDIR       := $(CURDIR)/build/kernel
MODDIR     := $(CURDIR)/build/modules
RUST_LIB   := $(CURDIR)/build/rust-lib-src
KMAKE       = $(MAKE) -C $(KDIR) M=$(CURDIR) MO=$(MODDIR) LLVM=-19 RUST_LIB_SRC=$(RUST_LIB)

export PATH := $(HOME)/.cargo/bin:$(PATH)
export RUSTRE_CACHE := $(CACHE)
KASAN      ?= $(or $(RUSTRE_KASAN),0)
ifneq ($(filter-out 0 1,$(KASAN)),)
$(error KASAN must be 0 or 1, not '$(KASAN)')
endif
export RUSTRE_KASAN := $(KASAN)
PERF       ?= $(or $(RUSTRE_PERF),0)
ifneq ($(filter-out 0 1,$(PERF)),)
$(error PERF must be 0 or 1, not '$(PERF)')
endif
export RUSTRE_PERF := $(PERF)

.PHONY: all deps kernel modules tools test run host-test fuzz lint patches intree clean

all: modules tools

deps:
	bash scripts/deps.sh

kernel:
	bash scripts/kernel.sh

# Kbuild does not see a change of the kernel crate from an out-of-tree module: modules built
# against another kernel build (another key) are thrown away first, or they would load as
# "Invalid module format".
modules: kernel
	@key=$$(cat $(KDIR)/.rustre-key 2>/dev/null); \
	if [ "$$(cat $(MODDIR)/.rustre-key 2>/dev/null)" != "$$key" ]; then \
		rm -rf $(MODDIR); mkdir -p $(MODDIR); echo "$$key" >$(MODDIR)/.rustre-key; \
	fi; mkdir -p $(MODDIR)
	+$(KMAKE) modules

tools:
	cd tools && cargo build --release --quiet

host-test:
	cd tools && cargo test --quiet

test:
	bash scripts/test.sh

# rustfmt, and clippy with the kernel's lint set over the modules and the kernel crate.
lint: modules
	bash scripts/lint.sh

# build/patches/: the kernel patch series followed by the drivers as in-tree patches (Kconfig
# entries included); `make intree` also builds them in the kernel tree.
patches:
	bash scripts/intree.sh patches

intree: kernel
	bash scripts/intree.sh check

FUZZ_SECONDS ?= 3600
fuzz:
	bash scripts/fuzz.sh $(FUZZ_SECONDS)

run: modules tools
	bash scripts/run.sh

clean:
	rm -rf $(MODDIR) build/vm
	cd tools && cargo clean
