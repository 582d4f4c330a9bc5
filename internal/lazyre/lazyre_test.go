package lazyre

import "testing"

func TestNew(t *testing.T) {
	re := New(`^a+$`)
	if re() != re() {
		t.Error("New: two calls compiled two regexps")
	}
	if !re().MatchString("aaa") || re().MatchString("ab") {
		t.Error("New: the regexp does not match as compiled")
	}
	defer func() {
		if recover() == nil {
			t.Error("New with a bad expression: no panic on first use")
		}
	}()
	New(`(`)()
}
