# Runner image: the stock k6 release image plus the k6-penelopa launcher installed under the
# name k6, so every `k6 run ...` (k6-operator's runners included) goes through penelopa while
# the real k6 stays untouched at /usr/bin/k6. Without --out penelopa the launcher simply runs
# k6, so the image behaves like the stock one.
#
#   docker build --build-arg K6_VERSION=1.8.1 -t k6-penelopa:1.8.1 .
ARG K6_VERSION=1.8.1

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# One launcher binary, and `k6` a relative symlink to it, made here because the k6 image runs
# as a non-root user (a RUN ln there could not write /usr/local/bin). Copying the directory
# keeps the symlink a symlink (a COPY naming the link itself would copy the binary again).
RUN mkdir -p /out/bin \
 && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=image" -o /out/bin/k6-penelopa ./cmd/k6-penelopa \
 && ln -s k6-penelopa /out/bin/k6

FROM grafana/k6:${K6_VERSION}
COPY --from=build /out/bin/ /usr/local/bin/
# The launcher runs this k6; /usr/local/bin comes first on PATH, so `k6` is the launcher. The
# launcher also skips itself on PATH (a symlink to it is the same file), but K6_BINARY names
# the stock k6 outright.
ENV K6_BINARY=/usr/bin/k6
