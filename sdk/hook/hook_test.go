package hook_test

import (
	"testing"

	"github.com/eurekad/eurekad/sdk/hook"
)

func TestValid(t *testing.T) {
	for _, e := range hook.EventTypes {
		if !e.Valid() {
			t.Errorf("%q is listed but not valid", e)
		}
	}
	for _, e := range []hook.EventType{"", "born", "Registered"} {
		if e.Valid() {
			t.Errorf("%q valid", e)
		}
	}
	if !hook.OpRenew.Valid() || hook.Operation("fly").Valid() {
		t.Error("Operation.Valid")
	}
	for _, op := range hook.AdmissionOperations {
		if !op.Valid() || !op.IsWrite() || op == hook.OpRenew {
			t.Errorf("admission operation %q", op)
		}
	}
}
