# Build: one static-ish binary with the locales and web assets embedded, with the `dist` profile
# (fat LTO, one codegen unit: slower to build than `--release`, faster to run; see BENCHMARKS.md).
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --profile dist --locked --bin switchboard

# Run: the binary, CA certificates for the platform APIs, and a volume for SQLite and media.
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --create-home --home-dir /data switchboard
COPY --from=build /src/target/dist/switchboard /usr/local/bin/switchboard
ENV SWITCHBOARD_DATABASE_URL=sqlite:///data/switchboard.db \
    SWITCHBOARD_MEDIA_DIR=/data/media \
    SWITCHBOARD_BIND=0.0.0.0:8080
VOLUME ["/data"]
USER switchboard
WORKDIR /data
EXPOSE 8080
CMD ["switchboard", "serve"]
