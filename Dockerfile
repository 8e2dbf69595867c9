# chatplug serve in a container: slim Python, a virtual environment, a non-root user.
#
#   docker build -t chatplug .                                        # the four seed plugins
#   docker build -t chatplug --build-arg PLUGINS="openai" .            # only some of them
#   docker build -t chatplug --build-arg EXTRA="chatplug-acme==1.2" .  # plus plugins from PyPI
#   docker run -p 8000:8000 -e CHATPLUG_API_KEY=... chatplug
#
# Listening on 0.0.0.0 needs a key: CHATPLUG_API_KEY, or [[server.keys]] in the file that
# CHATPLUG_CONFIG names (see docs/deployment.md). Arguments after the image name replace
# CMD, e.g. `docker run chatplug --host 0.0.0.0 --port 9000 --redis redis://redis:6379/0`.

ARG PYTHON_VERSION=3.12

FROM python:${PYTHON_VERSION}-slim AS build
# plugins of this repository to install (directory names under plugins/, without "chatplug-")
ARG PLUGINS="vitalentum ai365vip aichatonline openai"
# more requirements, e.g. third-party plugins from PyPI ("chatplug-acme==1.2 uvloop")
ARG EXTRA=""
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY core core
COPY plugins plugins
RUN python -m venv /opt/chatplug \
    && set -- "./core[redis,socks]" \
    && for name in $PLUGINS; do set -- "$@" "./plugins/chatplug-$name"; done \
    && /opt/chatplug/bin/pip install "$@" $EXTRA \
    && /opt/chatplug/bin/chatplug plugins

FROM python:${PYTHON_VERSION}-slim
COPY --from=build /opt/chatplug /opt/chatplug
RUN groupadd --system --gid 10001 chatplug \
    && useradd --system --uid 10001 --gid chatplug --no-create-home --shell /usr/sbin/nologin chatplug
ENV PATH=/opt/chatplug/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/tmp
USER chatplug:chatplug
WORKDIR /tmp
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s \
    CMD ["python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8000/health/live', timeout=2)"]
# --grace below Docker's 10 s stop timeout: running answers finish, then the process exits
ENTRYPOINT ["chatplug", "serve"]
CMD ["--host", "0.0.0.0", "--port", "8000", "--grace", "8"]
