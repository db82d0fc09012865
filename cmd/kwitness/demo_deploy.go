package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// demoDeployVersion is the version fraud-check's redeploy reports.
const demoDeployVersion = "v2.4.0"

// reportDeploy tells the sidecar at httpAddr about fraud-check's redeploy
// at demoDeployAt through POST /v1/events, as a user's deploy pipeline
// would. A failed report is not retried: the demo still shows the
// membership change.
func (w *workload) reportDeploy(httpAddr string) {
	w.goRun(w.ctx, func(ctx context.Context) {
		t := time.NewTimer(time.Until(w.start.Add(demoDeployAt)))
		defer t.Stop()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		body, _ := json.Marshal(map[string]any{"service": "fraud-check", "version": demoDeployVersion, "group": "fraud-check",
			"labels": map[string]string{"pipeline": "demo", "change": "slower consumer"}})
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+httpAddr+"/v1/events", bytes.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set("Content-Type", "application/json")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	})
}
