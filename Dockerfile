# HPN Router: the reverse proxy on :8080 and the HTTPS_PROXY listener on :8888.
#   docker build -t hpn-router .
#   docker run --rm -p 127.0.0.1:8080:8080 -p 127.0.0.1:8888:8888 \
#       -e HPN_API_KEYS=AIza...,AIza... -e HPN_CLIENT_TOKENS=... hpn-router
# Keys come from the environment at run time, never from the image.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HPN_VENV=/opt/hpn-router/.venv \
    HPN_CONFDIR=/home/hpn/.mitmproxy \
    HPN_HOST=0.0.0.0

RUN useradd --create-home --uid 10001 --user-group hpn
WORKDIR /opt/hpn-router
COPY pyproject.toml README.md run.sh ./
COPY addons ./addons
COPY configs ./configs
# The venv belongs to root (read-only for the router); .hpn holds the pool state file.
RUN ./run.sh setup \
    && install -d -o hpn -g hpn -m 0700 /opt/hpn-router/.hpn /home/hpn/.mitmproxy

USER hpn
# Inside the container only: publish the ports on the host's 127.0.0.1 unless clients elsewhere
# need them, and then set HPN_CLIENT_TOKENS.
EXPOSE 8080 8888
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('HPN_PORT', '8080'), timeout=4)"]
CMD ["./run.sh"]
