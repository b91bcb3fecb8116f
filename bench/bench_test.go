package bench

import (
	"context"
	"testing"
)

// TestRunSmall runs the whole benchmark at a small size: every figure must
// come out positive and the multi-source fetch must actually use the three
// limited links in parallel (more than one link's worth).
func TestRunSmall(t *testing.T) {
	res, err := Run(context.Background(), Config{
		Size:          16 << 20,
		MultiSize:     32 << 20,
		LinkLimitMBps: 16,
		SmallFiles:    300,
		Dir:           t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", *res)
	for name, v := range map[string]float64{
		"raw": res.RawStreamMBps, "publish": res.PublishMBps, "fetch single": res.FetchSingleMBps,
		"fetch multi": res.FetchMultiMBps, "small publish": res.SmallFilesPublishS, "small fetch": res.SmallFilesFetchS,
	} {
		if v <= 0 {
			t.Errorf("%s = %v, want > 0", name, v)
		}
	}
	if want := publishSamples + fetchSamples + 1; len(res.RawStreamSamplesMBps) != want || res.RawStreamMBps != median(res.RawStreamSamplesMBps) {
		t.Errorf("raw stream %v from samples %v: want the median of %d", res.RawStreamMBps, res.RawStreamSamplesMBps, want)
	}
	if len(res.PublishSamplesMBps) != publishSamples || res.PublishMBps != median(res.PublishSamplesMBps) {
		t.Errorf("publish %v from samples %v: want the median of %d", res.PublishMBps, res.PublishSamplesMBps, publishSamples)
	}
	if len(res.FetchSingleSamplesMBps) != fetchSamples || res.FetchSingleMBps != median(res.FetchSingleSamplesMBps) {
		t.Errorf("fetch %v from samples %v: want the median of %d", res.FetchSingleMBps, res.FetchSingleSamplesMBps, fetchSamples)
	}
	if res.FetchMultiMBps <= res.MultiLinkLimitMBps {
		t.Errorf("three links of %.1f MB/s gave %.1f MB/s: not striped", res.MultiLinkLimitMBps, res.FetchMultiMBps)
	}
}

func TestMedian(t *testing.T) {
	tests := []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{5}, 5},
		{[]float64{9, 1, 5}, 5},
		{[]float64{4, 1, 3, 2}, 2.5},
	}
	for _, tt := range tests {
		if got := median(tt.in); got != tt.want {
			t.Errorf("median(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
