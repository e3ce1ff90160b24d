#!/usr/bin/env bash
# Installs what the local stack needs on a fresh machine, and nothing twice:
#   the Python virtualenv (.venv) with the locked dependencies (hashes checked),
#   the Apache Kafka broker jars from Maven Central (deploy/kafka/lib),
#   the PostgreSQL server and Prometheus from Debian's packages when they are missing.
# Usage: deploy/local/bootstrap.sh [--test]   (--test adds what only the tests need)
set -euo pipefail
cd "$(dirname "$0")/../.."

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }
apt_updated=""
apt_install() {
  if ! command -v apt-get >/dev/null; then
    echo "Please install: $* (this script knows only Debian's apt-get)" >&2; exit 1
  fi
  [ -n "$apt_updated" ] || { as_root apt-get update -qq || true; apt_updated=1; }
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null \
    || { echo "Could not install $*: run as root, or install them yourself" >&2; exit 1; }
}

# 1. Java and Maven run the Kafka broker.
command -v java >/dev/null || { say "installing a JDK"; apt_install openjdk-17-jre-headless; }
command -v mvn >/dev/null || { say "installing Maven"; apt_install maven; }

# 2. PostgreSQL server binaries (Debian's postgresql package; the version on this distribution).
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null; then
  say "installing the PostgreSQL server (Debian package postgresql)"
  apt_install postgresql
fi

# 2b. Pango and HarfBuzz's subsetter (Debian's), on which WeasyPrint lays out the board pack's
#     PDF (services/projections/dashboard/packs.py), and a font with Arial's metrics for it.
if ! { ldconfig -p 2>/dev/null || /sbin/ldconfig -p 2>/dev/null; } | grep -q 'libpangoft2-1.0.so.0' \
  || ! { ldconfig -p 2>/dev/null || /sbin/ldconfig -p 2>/dev/null; } | grep -q 'libharfbuzz-subset.so.0'; then
  say "installing Pango (Debian packages libpango-1.0-0, libpangoft2-1.0-0) for the board pack's PDF"
  apt_install --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-liberation
fi

# 3. Prometheus and promtool (Debian's prometheus package): `make run` starts Prometheus to
#    scrape every process and evaluate the alert rules (deploy/prometheus/rules.yml); `make
#    test` checks and unit-tests those rules with promtool. Without the node exporter it
#    recommends; should the package have started a system service, it is stopped and disabled
#    (the local stack runs its own, on a port of its own).
if ! command -v prometheus >/dev/null || ! command -v promtool >/dev/null; then
  say "installing Prometheus and promtool (Debian package prometheus)"
  apt_install --no-install-recommends prometheus
  if command -v systemctl >/dev/null && systemctl is-active --quiet prometheus 2>/dev/null; then
    as_root systemctl disable --now prometheus >/dev/null 2>&1 || true
  fi
fi

# 4. Python virtualenv with the locked dependencies: requirements-dev.lock pins every
#    transitive dependency (runtime, dev and the build backend) with its hashes, and pip
#    refuses anything else; then the project itself, editable, resolving nothing more and
#    built with the locked setuptools. Re-installed when the lock or pyproject.toml changes
#    (`make lock` regenerates the lock from pyproject.toml).
python=${PYTHON:-python3}
[ -x .venv/bin/python ] || { say "creating .venv"; "$python" -m venv .venv; }
lock=requirements-dev.lock
stamp=".venv/.installed-$(cat "$lock" pyproject.toml | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  say "installing Python dependencies from $lock (hashes checked)"
  export PIP_DISABLE_PIP_VERSION_CHECK=1
  # --no-deps: the lock is every package there is to install, so pip resolves nothing. It
  # resolved a dependency's extra (weasyprint's fonttools[woff]) to the newest release on
  # PyPI rather than the lock's pin, and refused it as unpinned, once a newer one came out.
  # `pip check` below holds the installed set to every package's requirements.
  .venv/bin/pip install -q --no-deps --require-hashes -r "$lock"
  # (its output only on failure: setuptools warns that an editable install is editable)
  out=$(.venv/bin/pip install -q --no-deps --no-build-isolation -e . 2>&1) \
    || { printf '%s\n' "$out" >&2; exit 1; }
  rm -f .venv/.installed-*
  if .venv/bin/pip check >/dev/null; then touch "$stamp"; else  # asked again next time
    .venv/bin/pip check >&2 || true
    say "warning: $lock is behind pyproject.toml: run \`make lock\`"
  fi
fi

# 5. Kafka broker jars from Maven Central (cached in ~/.m2 and deploy/kafka/lib).
jars_stamp="deploy/kafka/lib/.fetched-$(sha256sum deploy/kafka/pom.xml | cut -c1-16)"
if [ ! -f "$jars_stamp" ]; then
  say "fetching the Apache Kafka broker jars from Maven Central"
  rm -rf deploy/kafka/lib
  mvn -q -B -f deploy/kafka/pom.xml dependency:copy-dependencies
  touch "$jars_stamp"
fi

# 6. The dashboard's front-end assets (GOV.UK Design System) from the npm registry: the
#    platform serves them itself, so the dashboard works offline (no CDN). Its devDependencies
#    too: axe-core, which the browser tests run on every page (tests/e2e/accessibility.py).
assets=services/projections/dashboard
assets_stamp="$assets/node_modules/.installed-$(sha256sum $assets/package-lock.json | cut -c1-16)"
if [ ! -f "$assets_stamp" ]; then
  command -v npm >/dev/null || { say "installing Node.js and npm"; apt_install nodejs npm; }
  say "installing the dashboard's front-end assets (npm ci)"
  (cd "$assets" && npm ci --no-audit --no-fund --silent)
  touch "$assets_stamp"
fi

# 7. The DfE's validation rules for the statutory returns (docs/returns.md), in a virtualenv
#    of their own (.venv-returns): Data to Insight's validators pin pandas < 2, the platform
#    does not. Both locks hashed; liiatools (the DfE's schemas and Ofsted's data map) without
#    its dependencies, since only its data files are read.
#    They need Python 3.11 or older (pandas 1.5 and numpy 1.24 have no wheels for later ones):
#    python3.11 if there is one, else the platform's own when it is old enough.
returns_python=""
for candidate in "${PYTHON_RETURNS:-}" python3.11 python3.10 "$python"; do
  [ -n "$candidate" ] && command -v "$candidate" >/dev/null || continue
  if "$candidate" -c 'import sys; sys.exit(not (3, 9) <= sys.version_info[:2] <= (3, 11))'; then
    returns_python=$candidate; break
  fi
done
returns_stamp=".venv-returns/.installed-$(cat deploy/returns/requirements.lock deploy/returns/liiatools.lock | sha256sum | cut -c1-16)"
if [ -z "$returns_python" ]; then
  say "warning: no Python 3.9 to 3.11 for the DfE's return validators (set PYTHON_RETURNS):"
  say "  make check-returns and the returns' end-to-end test will say so; the platform runs"
elif [ ! -f "$returns_stamp" ]; then
  say "installing the DfE's return validators into .venv-returns (hashes checked)"
  [ -x .venv-returns/bin/python ] || "$returns_python" -m venv .venv-returns
  export PIP_DISABLE_PIP_VERSION_CHECK=1
  .venv-returns/bin/pip install -q --no-deps --require-hashes -r deploy/returns/requirements.lock
  .venv-returns/bin/pip install -q --require-hashes --no-deps -r deploy/returns/liiatools.lock
  rm -f .venv-returns/.installed-*
  touch "$returns_stamp"
fi

# 8. For the tests only: docker-compose (Debian) validates docker-compose.yml (no engine
#    needed), and Debian's Chromium runs the dashboard's browser tests (Playwright drives it;
#    it cannot download a browser of its own here).
if [ "${1:-}" = "--test" ]; then
  command -v docker-compose >/dev/null || { say "installing docker-compose"; apt_install docker-compose; }
  command -v chromium >/dev/null || { say "installing Chromium"; apt_install chromium; }
fi
