package supervisor_test

import (
	"context"
	"testing"
)

// TestNeverStartedInstanceIsReplaced: a container a killed moat created but
// never started (it may lack the files and networks Create adds after the
// container exists) is removed and made again, not adopted.
func TestNeverStartedInstanceIsReplaced(t *testing.T) {
	f := newFake(t, true)
	web := svc("web")
	left, err := f.rt.Create(context.Background(), project, web, "")
	if err != nil {
		t.Fatal(err)
	}
	f.mustUp(web)
	st := f.status("web")
	if st.InstanceID == left || st.InstanceID == "" {
		t.Errorf("web runs as %q; the never-started %s must have been replaced", st.InstanceID, left)
	}
	inv, err := f.rt.List(context.Background(), project)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range inv.Instances {
		if in.ID == left {
			t.Errorf("the never-started instance %s is still there", left)
		}
	}
}
