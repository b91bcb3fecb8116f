package simulations

import (
	"math"
	"testing"

	"github.com/chorus-data/chorus/overlay"
)

func TestDebugBuild(t *testing.T) {
	for _, n := range []int{300, 2000} {
		for _, dbl := range []float64{30, 60, 90} {
			e := newEngine(1, nodeParams{succListLen: overlay.DefaultSuccListLen(n), stabilize: 30000, jitter: 15000, rpcTimeout: 500}, NetConfig{}, 10000, n)
			jp := overlay.Time(dbl * 1000 * log2(float64(n)))
			scheduleBuild(e, n, jp)
			for T := jp / 2; T <= jp+600000; T += 60000 {
				e.runUntil(T, nil)
				bs, bp := ringCheck(e)
				t.Logf("n=%d dbl=%vs jp=%ds t=%ds joined=%d badSucc=%d badPred=%d events=%d", n, dbl, jp/1000, T/1000, len(e.joined), bs, bp, e.events)
				if T > jp && bs == 0 && bp == 0 {
					break
				}
			}
		}
	}
}

func log2(x float64) float64 { return math.Log2(x) }
