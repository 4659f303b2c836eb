package wizard

import (
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	tea "charm.land/bubbletea/v2"
	"charm.land/huh/v2"
)

// pump drives a bubbletea model (or a huh form) headlessly and
// deterministically: every message is handled on the test goroutine,
// commands run in the background and their messages are queued, batches
// and sequences are expanded, and cursor blinks and spinner ticks are
// dropped so that the queue runs dry. settle returns once nothing has
// arrived for a short while.
type pump struct {
	t       testing.TB
	update  func(tea.Msg) tea.Cmd
	results chan tea.Msg
	quit    bool
}

func newPump(t testing.TB, update func(tea.Msg) tea.Cmd) *pump {
	return &pump{t: t, update: update, results: make(chan tea.Msg, 1024)}
}

// modelPump drives a tea.Model, starting with Init and an 80×24 window.
func modelPump(t testing.TB, m tea.Model) *pump {
	p := newPump(t, func(msg tea.Msg) tea.Cmd {
		var cmd tea.Cmd
		m, cmd = m.Update(msg)
		return cmd
	})
	p.launch(m.Init())
	p.send(tea.WindowSizeMsg{Width: 80, Height: 24})
	return p
}

// formPump drives a huh form.
func formPump(t testing.TB, f *huh.Form) *pump {
	p := newPump(t, func(msg tea.Msg) tea.Cmd {
		_, cmd := f.Update(msg)
		return cmd
	})
	p.launch(f.Init())
	p.send(tea.WindowSizeMsg{Width: 80, Height: 24})
	return p
}

// launch runs cmd in the background; its message joins the queue.
func (p *pump) launch(cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	go func() {
		if msg := cmd(); msg != nil {
			p.results <- msg
		}
	}()
}

// handle dispatches one message.
func (p *pump) handle(msg tea.Msg) {
	switch m := msg.(type) {
	case tea.QuitMsg:
		p.quit = true
		return
	case tea.BatchMsg:
		for _, c := range m {
			p.launch(c)
		}
		return
	}
	v := reflect.ValueOf(msg)
	if v.Kind() == reflect.Slice && v.Type().Elem() == reflect.TypeOf(tea.Cmd(nil)) {
		// tea.Sequence: run in order, one after the other.
		cmds := make([]tea.Cmd, v.Len())
		for i := range cmds {
			cmds[i] = v.Index(i).Interface().(tea.Cmd)
		}
		go func() {
			for _, c := range cmds {
				if c == nil {
					continue
				}
				if msg := c(); msg != nil {
					p.results <- msg
				}
			}
		}()
		return
	}
	name := strings.ToLower(reflect.TypeOf(msg).String())
	if strings.Contains(name, "blink") || strings.HasSuffix(name, "tickmsg") {
		return
	}
	p.launch(p.update(msg))
}

// settle handles messages until none arrives for 60ms.
func (p *pump) settle() {
	p.t.Helper()
	for n := 0; n < 100000; n++ {
		select {
		case msg := <-p.results:
			p.handle(msg)
		case <-time.After(60 * time.Millisecond):
			return
		}
	}
	p.t.Fatal("pump: the model never settles")
}

// until handles messages until cond holds, failing after timeout.
func (p *pump) until(what string, timeout time.Duration, cond func() bool) {
	p.t.Helper()
	deadline := time.After(timeout)
	for !cond() {
		select {
		case msg := <-p.results:
			p.handle(msg)
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			p.t.Fatalf("pump: timed out waiting for %s", what)
		}
	}
}

// send handles msgs, settling after each.
func (p *pump) send(msgs ...tea.Msg) {
	p.t.Helper()
	for _, m := range msgs {
		p.handle(m)
		p.settle()
	}
}

// keys presses named keys: "enter", "down", "end", "ctrl+c", "shift+tab"…;
// anything else is typed as text.
func (p *pump) keys(names ...string) {
	p.t.Helper()
	for _, n := range names {
		if k, ok := namedKeys[n]; ok {
			p.send(k)
			continue
		}
		p.typeText(n)
	}
}

// typeText types s one rune at a time.
func (p *pump) typeText(s string) {
	p.t.Helper()
	for len(s) > 0 {
		r, size := utf8.DecodeRuneInString(s)
		s = s[size:]
		p.handle(tea.KeyPressMsg{Code: r, Text: string(r)})
	}
	p.settle()
}

var namedKeys = map[string]tea.KeyPressMsg{
	"enter":     {Code: tea.KeyEnter},
	"tab":       {Code: tea.KeyTab},
	"shift+tab": {Code: tea.KeyTab, Mod: tea.ModShift},
	"up":        {Code: tea.KeyUp},
	"down":      {Code: tea.KeyDown},
	"home":      {Code: tea.KeyHome},
	"end":       {Code: tea.KeyEnd},
	"pgdown":    {Code: tea.KeyPgDown},
	"backspace": {Code: tea.KeyBackspace},
	"ctrl+c":    {Code: 'c', Mod: tea.ModCtrl},
	"ctrl+u":    {Code: 'u', Mod: tea.ModCtrl},
	"left":      {Code: tea.KeyLeft},
	"a":         {Code: 'a', Text: "a"},
	"b":         {Code: 'b', Text: "b"},
	"q":         {Code: 'q', Text: "q"},
}
