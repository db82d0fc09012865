package alertmanager

import (
	"io"
	"log/slog"
)

var testLog = slog.New(slog.NewTextHandler(io.Discard, nil))
