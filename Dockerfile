# The same image as `make image` (hack/image.sh), for Docker users: a static lbdns, /etc/passwd and /etc/group
# with the user nonroot (65532), Debian's CA certificates, /tmp and /home/nonroot, laid out by
# hack/image/rootfs.sh; nothing else (no shell).
#   docker buildx build --platform linux/amd64,linux/arm64 --build-arg VERSION=$(cat VERSION) -t ghcr.io/lbdns/lbdns:$(cat VERSION) .
# (the binary embeds VERSION itself; the argument feeds the image's labels)
FROM --platform=$BUILDPLATFORM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG TARGETOS=linux TARGETARCH
RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go build -trimpath -ldflags "-s -w" \
      -o /out/lbdns ./cmd/lbdns && \
    hack/image/rootfs.sh /rootfs /out/lbdns

FROM scratch
ARG VERSION=dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="lbdns" \
      org.opencontainers.image.description="Health-checked multi-A/AAAA records for LoadBalancer Services, for external-dns" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="https://github.com/lbdns/lbdns"
COPY --from=build /rootfs/ /
USER 65532:65532
WORKDIR /
EXPOSE 9797
ENTRYPOINT ["/lbdns"]
