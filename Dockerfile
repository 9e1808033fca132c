# OpenManager: slim, non-root image. Build: docker build -t openmanager .
# Run:   docker run -p 8080:8080 -v om-data:/var/lib/openmanager openmanager

FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY openmanager ./openmanager
# wheels of OpenManager and every dependency, so the runtime stage needs no compiler or index
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    OPENMANAGER_PROFILE=production \
    OPENMANAGER_CONFIG=/etc/openmanager/openmanager.yaml
RUN groupadd --system --gid 10001 openmanager \
    && useradd --system --uid 10001 --gid openmanager --home-dir /var/lib/openmanager \
       --shell /usr/sbin/nologin openmanager \
    && mkdir -p /var/lib/openmanager /etc/openmanager/rules \
    && chown openmanager:openmanager /var/lib/openmanager
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links=/wheels /wheels/openmanager-*.whl \
    && rm -rf /wheels
COPY deploy/config/openmanager.yaml /etc/openmanager/openmanager.yaml
COPY openmanager/rules/default_rules.yaml /etc/openmanager/rules/default.yml
USER 10001:10001
WORKDIR /var/lib/openmanager
VOLUME ["/var/lib/openmanager"]
EXPOSE 8080
# /-/healthy answers as soon as the server runs; the start period covers the history backfill
HEALTHCHECK --interval=30s --timeout=5s --start-period=2m --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/-/healthy', timeout=4)"]
ENTRYPOINT ["openmanager"]
CMD ["serve"]
