# jail: build, install, and the Debian package.
#
#   make [LIBC=musl|glibc]                the release binary, a static PIE (below)
#   make install [PREFIX=/usr/local] [DESTDIR=]
#                                         the binary, the man page and the bash, zsh and fish
#                                         completions (add APPARMOR=1 for the AppArmor profile)
#   make install-apparmor                 the AppArmor profile, as /etc/apparmor.d/jail
#   make uninstall [PREFIX=...]           removes what install put there
#   make bench                            benchmarks against bwrap and hakoniwa (BENCHMARKS.md)
#   make bench-vm                         the limits path in the test VM, as root (BENCHMARKS.md)
#   make deb                              target/debian/jail_VERSION_ARCH.deb
#
# The RPM spec and the Arch PKGBUILD under packaging/ call "make" and "make install" too.
# Without JAIL_BIN, install first builds (a no-op when the build is up to date); JAIL_BIN=path
# installs that binary as it is, without cargo.

PREFIX ?= /usr/local
DESTDIR ?=
BINDIR ?= $(PREFIX)/bin
LIBEXECDIR ?= $(PREFIX)/libexec
# jail under bubblewrap's name (a hard link, so /proc/self/exe names it bwrap too): callers
# that run "bwrap" get jail's bubblewrap personality once a user opts in, with a symlink on
# PATH or update-alternatives (see README). Never installed as bwrap itself.
BWRAP_LINK := $(LIBEXECDIR)/jail/bwrap
DATADIR ?= $(PREFIX)/share
MANDIR ?= $(DATADIR)/man
BASHCOMPDIR ?= $(DATADIR)/bash-completion/completions
# Debian's zsh searches vendor-completions; Fedora's and Arch's search site-functions.
ZSHCOMPDIR ?= $(DATADIR)/zsh/vendor-completions
FISHCOMPDIR ?= $(DATADIR)/fish/vendor_completions.d
SYSCONFDIR ?= /etc
APPARMORDIR ?= $(SYSCONFDIR)/apparmor.d
APPARMOR ?= 0

CARGO ?= cargo
CARGO_FLAGS ?= --locked
CARGO_TARGET_DIR ?= target
INSTALL ?= install
RELEASE_BIN := $(CARGO_TARGET_DIR)/release/jail
JAIL_BIN ?= $(RELEASE_BIN)
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)

.PHONY: all build install install-apparmor uninstall deb clean-deb bench bench-vm FORCE

all: build

build: $(RELEASE_BIN)

# cargo decides whether anything needs building: a finished release build is reused as is.
# The C library is linked in (a static PIE): a launch runs no dynamic loader and maps one file.
# LIBC=musl (the default) also skips glibc's start-up CPU probe, 0.6 ms per exec where the
# benchmarks ran; LIBC=glibc links glibc instead. packaging/build-static.sh says what each
# needs; "cargo build --release" links glibc dynamically, as the RPM spec and PKGBUILD do.
LIBC ?= musl
ifneq ($(origin JAIL_BIN),command line)
$(RELEASE_BIN): FORCE
	CARGO="$(CARGO)" CARGO_FLAGS="$(CARGO_FLAGS)" CARGO_TARGET_DIR="$(CARGO_TARGET_DIR)" \
		packaging/build-static.sh $(LIBC) $@
endif

install: $(JAIL_BIN) $(if $(filter 1,$(APPARMOR)),install-apparmor)
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(BASHCOMPDIR) \
		$(DESTDIR)$(ZSHCOMPDIR) $(DESTDIR)$(FISHCOMPDIR)
	$(INSTALL) -m 0755 $(JAIL_BIN) $(DESTDIR)$(BINDIR)/jail
	$(INSTALL) -d $(DESTDIR)$(LIBEXECDIR)/jail
	ln -f $(DESTDIR)$(BINDIR)/jail $(DESTDIR)$(BWRAP_LINK) 2>/dev/null || \
		$(INSTALL) -m 0755 $(JAIL_BIN) $(DESTDIR)$(BWRAP_LINK)
	$(INSTALL) -m 0644 man/jail.1 $(DESTDIR)$(MANDIR)/man1/jail.1
	$(INSTALL) -m 0644 completions/jail.bash $(DESTDIR)$(BASHCOMPDIR)/jail
	$(INSTALL) -m 0644 completions/_jail $(DESTDIR)$(ZSHCOMPDIR)/_jail
	$(INSTALL) -m 0644 completions/jail.fish $(DESTDIR)$(FISHCOMPDIR)/jail.fish

# The profile names the binary by path: write the one this install uses.
install-apparmor:
	$(INSTALL) -d $(DESTDIR)$(APPARMORDIR)
	sed -e 's|/usr/bin/jail|$(BINDIR)/jail|' -e 's|/usr/libexec/jail/bwrap|$(BWRAP_LINK)|' \
		packaging/apparmor/jail >$(DESTDIR)$(APPARMORDIR)/jail.tmp
	chmod 0644 $(DESTDIR)$(APPARMORDIR)/jail.tmp
	mv $(DESTDIR)$(APPARMORDIR)/jail.tmp $(DESTDIR)$(APPARMORDIR)/jail

# Directories install may have created, deepest first; uninstall removes those left empty.
INSTALL_DIRS := $(LIBEXECDIR)/jail $(LIBEXECDIR) $(MANDIR)/man1 $(MANDIR) $(BASHCOMPDIR) $(dir $(BASHCOMPDIR:/=)) $(ZSHCOMPDIR) \
	$(dir $(ZSHCOMPDIR:/=)) $(FISHCOMPDIR) $(dir $(FISHCOMPDIR:/=)) $(BINDIR) $(DATADIR)

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/jail $(DESTDIR)$(BWRAP_LINK) $(DESTDIR)$(MANDIR)/man1/jail.1 \
		$(DESTDIR)$(BASHCOMPDIR)/jail $(DESTDIR)$(ZSHCOMPDIR)/_jail \
		$(DESTDIR)$(FISHCOMPDIR)/jail.fish
ifeq ($(APPARMOR),1)
	rm -f $(DESTDIR)$(APPARMORDIR)/jail
	-rmdir --ignore-fail-on-non-empty $(DESTDIR)$(APPARMORDIR) 2>/dev/null
endif
	-for d in $(INSTALL_DIRS); do [ ! -d "$(DESTDIR)$$d" ] || rmdir --ignore-fail-on-non-empty "$(DESTDIR)$$d"; done

DEBDIR := $(CARGO_TARGET_DIR)/debian
DEBROOT := $(DEBDIR)/root

# A plain dpkg-deb build of what "make install PREFIX=/usr" stages, with the control files
# packaging/deb/build.sh writes (version from Cargo.toml, architecture from dpkg).
deb: $(JAIL_BIN)
	rm -rf $(DEBROOT)
	$(MAKE) --no-print-directory install DESTDIR=$(abspath $(DEBROOT)) PREFIX=/usr APPARMOR=1 \
		JAIL_BIN=$(JAIL_BIN)
	packaging/deb/build.sh $(DEBROOT) $(VERSION) $(DEBDIR)

clean-deb:
	rm -rf $(DEBDIR)

# Benchmarks against bubblewrap and hakoniwa on this machine (see tests/bench/run.sh), and the
# limits path in the test VM against systemd-run --user --scope, hakoniwa and the least a launcher
# can do (tests/bench/vm.sh, tests/bench/scope-floor.c).
# Each rewrites only its own section of BENCHMARKS.md. hakoniwa is built into a cache outside
# the repo (tests/bench/hakoniwa.sh).
bench: $(JAIL_BIN)
	tests/bench/run.sh --markdown BENCHMARKS.md $(JAIL_BIN)

bench-vm: $(JAIL_BIN)
	tests/bench/vm.sh --markdown BENCHMARKS.md $(JAIL_BIN)

FORCE:
