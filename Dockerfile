# taskchat: a small image that runs as a non-root user.
#   docker build -t taskchat .
#   docker run -p 8080:8080 -e TASKCHAT_SECRET=$(openssl rand -base64 48) -v taskchat-data:/data taskchat

FROM rust:1.95-bookworm AS build
WORKDIR /src
# Dependencies first, so source edits do not rebuild them.
COPY Cargo.toml Cargo.lock ./
RUN mkdir src && echo 'fn main() {}' > src/main.rs && echo '' > src/lib.rs \
    && cargo build --release --locked || true
COPY . .
RUN touch src/main.rs src/lib.rs && cargo build --release --locked && strip target/release/taskchat

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin taskchat \
    && mkdir -p /data && chown taskchat /data
COPY --from=build /src/target/release/taskchat /usr/local/bin/taskchat
USER taskchat
WORKDIR /data
ENV TASKCHAT_LISTEN=0.0.0.0:8080 \
    TASKCHAT_DATA_DIR=/data \
    TASKCHAT_ENV=production \
    TASKCHAT_LOG_FORMAT=json
EXPOSE 8080
VOLUME ["/data"]
HEALTHCHECK --interval=30s --timeout=3s CMD ["/bin/bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080 && printf 'GET /readyz HTTP/1.0\\r\\n\\r\\n' >&3 && grep -q '200 OK' <&3"]
ENTRYPOINT ["taskchat"]
CMD ["serve"]
