package replica_test

import (
	"testing"

	"github.com/chorus-data/chorus/replica"
	"github.com/chorus-data/chorus/replica/storetest"
)

func TestMemStoreConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) replica.Store { return replica.NewMemStore() })
}
