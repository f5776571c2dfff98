package main

import (
	"context"
	"io"
	"log/slog"
	"maps"
	"slices"

	"github.com/sirupsen/logrus"
	"k8s.io/klog/v2"

	"github.com/lbdns/lbdns/config"
)

// setupLogs returns lbdns's logger, writing to w, and routes the libraries'
// logs through it: client-go's (klog) and external-dns's (logrus). Every
// line then has one format, LBDNS_LOG_FORMAT's, and says which library
// wrote it (logger=client-go, logger=external-dns).
func setupLogs(cfg config.Log, w io.Writer) *slog.Logger {
	log := newLogger(cfg, w)
	klog.SetSlogLogger(log.With("logger", "client-go"))
	level, err := logrus.ParseLevel(cfg.Level)
	if err != nil {
		level = logrus.InfoLevel
	}
	logrus.SetLevel(level)
	logrus.SetOutput(io.Discard)
	logrus.StandardLogger().ReplaceHooks(logrus.LevelHooks{})
	logrus.AddHook(logrusToSlog{log.With("logger", "external-dns")})
	return log
}

func newLogger(cfg config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Level))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// logrusToSlog hands every logrus entry to an slog logger, its fields as
// attributes in a stable order.
type logrusToSlog struct{ log *slog.Logger }

func (logrusToSlog) Levels() []logrus.Level { return logrus.AllLevels }

func (h logrusToSlog) Fire(e *logrus.Entry) error {
	attrs := make([]any, 0, 2*len(e.Data))
	for _, k := range slices.Sorted(maps.Keys(e.Data)) {
		attrs = append(attrs, k, e.Data[k])
	}
	h.log.Log(context.Background(), slogLevel(e.Level), e.Message, attrs...)
	return nil
}

func slogLevel(l logrus.Level) slog.Level {
	switch {
	case l <= logrus.ErrorLevel:
		return slog.LevelError
	case l == logrus.WarnLevel:
		return slog.LevelWarn
	case l == logrus.InfoLevel:
		return slog.LevelInfo
	default:
		return slog.LevelDebug
	}
}
