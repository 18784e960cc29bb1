# Packaging targets, included by the top Makefile after its own rules (the
# prerequisites below use its VERSION, PREFIX, DESTDIR, BUILD, AGENT, HOSTD
# and HOSTCTL).  Until it does, run them as
#	make -f Makefile -f packaging/packaging.mk TARGET
#
#   install-guest   agent, systemd unit, System V init script, hook directory,
#                   man page, bash completion
#   install-openrc  the same with the OpenRC script instead of the systemd unit
#                   and the System V script (Alpine)
#   install-host    hostd and hostctl, systemd unit, configuration file (kept
#                   if present), man pages, bash completion
#   deb             build/deb/eve-guest-agent_VERSION_ARCH.deb and
#                   build/deb/eve-guest-hostd_VERSION_ARCH.deb
#   test-packaging  packaging/test-packaging.sh: builds the packages and
#                   checks them (contents, throwaway installs, units, scripts,
#                   lintian, configuration, man pages, completion)
#   lint-packaging  the static checks only: shellcheck, man pages, lintian on
#                   the packages already built
#
# Binaries go to $(PREFIX)/sbin; units, init scripts and configuration go where
# the init systems look for them, whatever PREFIX is (UNITDIR, INITDIR,
# SYSCONFDIR), and the units and scripts are edited to point at
# $(PREFIX)/sbin.  Everything honours DESTDIR.

ifndef EVG_PACKAGING_MK
EVG_PACKAGING_MK := 1

# The makefile that included this one, for the sub-make of `deb`.
PKG_TOP		:= $(firstword $(MAKEFILE_LIST))
# With `make -f Makefile -f packaging/packaging.mk` this file is the first to
# define a target; keep the top Makefile's default goal.
PKG_GOAL	:= $(.DEFAULT_GOAL)

SYSCONFDIR	?= /etc
UNITDIR		?= /lib/systemd/system
INITDIR		?= $(SYSCONFDIR)/init.d
MANDIR		?= $(PREFIX)/share/man
BASHCOMPDIR	?= $(PREFIX)/share/bash-completion/completions
HOOKDIR		:= $(SYSCONFDIR)/eve/snapshots
HOSTCONFDIR	:= $(SYSCONFDIR)/eve-guest-agent

DEB_DIR		?= build/deb
DEB_VERSION	?= $(VERSION)
DEB_ARCH	?= $(shell dpkg --print-architecture 2>/dev/null || echo amd64)
# Set to a real address before publishing the packages.
DEB_MAINTAINER	?= eve-guest-agent developers <eve-guest-agent@example.org>

PKG		:= packaging
# Point units and scripts at the installed binaries.
PKG_SUBST	= sed -e 's|/usr/sbin/eve-guest-|$(PREFIX)/sbin/eve-guest-|g'

.PHONY: install-guest install-openrc install-host deb test-packaging \
	lint-packaging

# The guest files every init system needs.
define pkg_install_guest_common
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(MANDIR)/man8 \
	    $(DESTDIR)$(BASHCOMPDIR)
	install -m 0755 $(AGENT) $(DESTDIR)$(PREFIX)/sbin/eve-guest-agent
	install -m 0644 $(PKG)/man/eve-guest-agent.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 $(PKG)/completion/eve-guest-agent $(DESTDIR)$(BASHCOMPDIR)/
	install -d -m 0755 $(DESTDIR)$(HOOKDIR) $(DESTDIR)$(HOOKDIR)/pre.d \
	    $(DESTDIR)$(HOOKDIR)/post.d
	install -m 0755 $(PKG)/hooks/pre.sh.example $(PKG)/hooks/post.sh.example \
	    $(DESTDIR)$(HOOKDIR)/
endef

install-guest: $(AGENT)
	$(pkg_install_guest_common)
	install -d $(DESTDIR)$(UNITDIR) $(DESTDIR)$(INITDIR)
	$(PKG_SUBST) $(PKG)/systemd/eve-guest-agent.service \
	    >$(DESTDIR)$(UNITDIR)/eve-guest-agent.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/eve-guest-agent.service
	$(PKG_SUBST) $(PKG)/sysvinit/eve-guest-agent \
	    >$(DESTDIR)$(INITDIR)/eve-guest-agent
	chmod 0755 $(DESTDIR)$(INITDIR)/eve-guest-agent

install-openrc: $(AGENT)
	$(pkg_install_guest_common)
	install -d $(DESTDIR)$(INITDIR)
	$(PKG_SUBST) $(PKG)/openrc/eve-guest-agent \
	    >$(DESTDIR)$(INITDIR)/eve-guest-agent
	chmod 0755 $(DESTDIR)$(INITDIR)/eve-guest-agent

# An existing hostd.conf is the administrator's: never overwritten.
install-host: $(HOSTD) $(HOSTCTL)
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(MANDIR)/man8 \
	    $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(UNITDIR) \
	    $(DESTDIR)$(HOSTCONFDIR)
	install -m 0755 $(HOSTD) $(DESTDIR)$(PREFIX)/sbin/eve-guest-hostd
	install -m 0755 $(HOSTCTL) $(DESTDIR)$(PREFIX)/sbin/eve-guest-hostctl
	install -m 0644 $(PKG)/man/eve-guest-hostd.8 \
	    $(PKG)/man/eve-guest-hostctl.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 $(PKG)/completion/eve-guest-hostd \
	    $(PKG)/completion/eve-guest-hostctl $(DESTDIR)$(BASHCOMPDIR)/
	$(PKG_SUBST) $(PKG)/systemd/eve-guest-hostd.service \
	    >$(DESTDIR)$(UNITDIR)/eve-guest-hostd.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/eve-guest-hostd.service
	[ -e $(DESTDIR)$(HOSTCONFDIR)/hostd.conf ] || \
	    install -m 0644 $(PKG)/conf/hostd.conf $(DESTDIR)$(HOSTCONFDIR)/

# The packages get their own build of the binaries, with all of Debian's
# hardening flags (dpkg-buildflags), in $(DEB_DIR)/obj, from scratch each time
# so that no object built with other flags is reused.  The install targets
# above stage the trees with PREFIX=/usr; packaging/build-deb.sh then adds the
# Debian parts and runs dpkg-deb.  CFLAGS and friends go through the
# environment because the top Makefile appends its own to them.
PKG_BUILDFLAGS	= DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --get
PKG_SUBMAKE	= env CFLAGS="$$($(PKG_BUILDFLAGS) CFLAGS)" \
		    CPPFLAGS="$$($(PKG_BUILDFLAGS) CPPFLAGS)" \
		    LDFLAGS="$$($(PKG_BUILDFLAGS) LDFLAGS)" \
		    $(MAKE) --no-print-directory -f $(PKG_TOP) \
		    -f $(PKG)/packaging.mk BUILD=$(DEB_DIR)/obj PREFIX=/usr \
		    SANITIZE=

deb:
	rm -rf $(DEB_DIR)/stage $(DEB_DIR)/obj
	$(PKG_SUBMAKE) DESTDIR=$(abspath $(DEB_DIR))/stage/guest install-guest
	$(PKG_SUBMAKE) DESTDIR=$(abspath $(DEB_DIR))/stage/host install-host
	DEB_MAINTAINER="$(DEB_MAINTAINER)" \
	    sh $(PKG)/build-deb.sh $(DEB_DIR) $(DEB_VERSION) $(DEB_ARCH)

# The test script runs `make deb` itself (its first check) and tests the
# packaged binaries; its install-* checks use those in $(BUILD).
PKG_TEST	= sh $(PKG)/test-packaging.sh --version $(DEB_VERSION) \
		    --arch $(DEB_ARCH) --deb-dir $(DEB_DIR) \
		    --make "$(MAKE) --no-print-directory -f $(PKG_TOP) -f $(PKG)/packaging.mk"

test-packaging:
	$(PKG_TEST)

lint-packaging:
	$(PKG_TEST) --lint

ifeq ($(PKG_GOAL),)
.DEFAULT_GOAL :=
endif

endif
