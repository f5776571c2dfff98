# Multi-stage build of a static lbdns binary on a distroless, non-root base.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/lbdns ./cmd/lbdns

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/lbdns /lbdns
USER 65532:65532
EXPOSE 9797 8080
ENTRYPOINT ["/lbdns"]
