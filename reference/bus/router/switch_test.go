package router_test

import (
	"context"
	"errors"
	"testing"

	"github.com/edkit-dev/edkit/reference/bus"
	"github.com/edkit-dev/edkit/reference/bus/router"
)

// named returns a handler that reports its name into *got.
func named(got *string, name string) bus.Handler {
	return func(context.Context, *bus.Message) error { *got = name; return nil }
}

func TestSwitch(t *testing.T) {
	type want struct {
		handler string // "" when none ran
		noRoute bool   // a permanent *NoRouteError
		absent  bool
		value   string
		notJSON bool
	}
	tests := []struct {
		name string
		sw   func() *router.Switch
		fb   bool
		msg  bus.Message
		want want
	}{
		{"header match", func() *router.Switch { return router.ByHeader("kind") }, false,
			bus.Message{Headers: map[string]string{"kind": "refund"}}, want{handler: "refund"}},
		{"header empty value routes", func() *router.Switch { return router.ByHeader("kind") }, false,
			bus.Message{Headers: map[string]string{"kind": ""}}, want{handler: "empty"}},
		{"header no match", func() *router.Switch { return router.ByHeader("kind") }, false,
			bus.Message{Headers: map[string]string{"kind": "gift"}}, want{noRoute: true, value: "gift"}},
		{"header absent", func() *router.Switch { return router.ByHeader("kind") }, false,
			bus.Message{}, want{noRoute: true, absent: true}},
		{"header no match fallback", func() *router.Switch { return router.ByHeader("kind") }, true,
			bus.Message{Headers: map[string]string{"kind": "gift"}}, want{handler: "fallback"}},
		{"header absent fallback", func() *router.Switch { return router.ByHeader("kind") }, true,
			bus.Message{}, want{handler: "fallback"}},
		{"field match", func() *router.Switch { return router.ByField("order.kind") }, false,
			bus.Message{Payload: []byte(`{"order":{"kind":"refund","n":1}}`)}, want{handler: "refund"}},
		{"field number", func() *router.Switch { return router.ByField("order.kind") }, false,
			bus.Message{Payload: []byte(`{"order":{"kind":10}}`)}, want{handler: "ten"}},
		{"field array index", func() *router.Switch { return router.ByField("items.1.kind") }, false,
			bus.Message{Payload: []byte(`{"items":[{"kind":"x"},{"kind":"refund"}]}`)}, want{handler: "refund"}},
		{"field index out of range", func() *router.Switch { return router.ByField("items.2.kind") }, false,
			bus.Message{Payload: []byte(`{"items":[{"kind":"x"}]}`)}, want{noRoute: true, absent: true}},
		{"field object value", func() *router.Switch { return router.ByField("order") }, false,
			bus.Message{Payload: []byte(`{"order":{"b":1, "a":2}}`)}, want{noRoute: true, value: `{"a":2,"b":1}`}},
		{"field null", func() *router.Switch { return router.ByField("order.kind") }, false,
			bus.Message{Payload: []byte(`{"order":{"kind":null}}`)}, want{noRoute: true, value: "null"}},
		{"field missing", func() *router.Switch { return router.ByField("order.kind") }, false,
			bus.Message{Payload: []byte(`{"order":{}}`)}, want{noRoute: true, absent: true}},
		{"field through a scalar", func() *router.Switch { return router.ByField("order.kind") }, false,
			bus.Message{Payload: []byte(`{"order":"refund"}`)}, want{noRoute: true, absent: true}},
		{"field missing fallback", func() *router.Switch { return router.ByField("order.kind") }, true,
			bus.Message{Payload: []byte(`[]`)}, want{handler: "fallback"}},
		{"not JSON", func() *router.Switch { return router.ByField("order.kind") }, false,
			bus.Message{Payload: []byte(`kind=refund`)}, want{notJSON: true}},
		{"trailing garbage", func() *router.Switch { return router.ByField("order.kind") }, false,
			bus.Message{Payload: []byte(`{"order":{"kind":"refund"}}}`)}, want{notJSON: true}},
		{"not JSON even with fallback", func() *router.Switch { return router.ByField("order.kind") }, true,
			bus.Message{Payload: nil}, want{notJSON: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got string
			sw := tt.sw()
			for v, name := range map[string]string{"refund": "refund", "": "empty", "10": "ten"} {
				if err := sw.Route(v, named(&got, name)); err != nil {
					t.Fatal(err)
				}
			}
			if tt.fb {
				if err := sw.Fallback(named(&got, "fallback")); err != nil {
					t.Fatal(err)
				}
			}
			m := tt.msg
			m.ID = "m-1"
			err := sw.Handle(t.Context(), &m)
			if got != tt.want.handler {
				t.Fatalf("handler %q ran, want %q", got, tt.want.handler)
			}
			if tt.want.handler != "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			var perm *bus.PermanentError
			if !errors.As(err, &perm) {
				t.Fatalf("error %v is not permanent", err)
			}
			var nr *router.NoRouteError
			if got := errors.As(err, &nr); got != tt.want.noRoute {
				t.Fatalf("NoRouteError %v, want %v (error %v)", got, tt.want.noRoute, err)
			}
			if nr != nil && (nr.Absent != tt.want.absent || nr.Value != tt.want.value) {
				t.Fatalf("NoRouteError %+v, want absent %v value %q", nr, tt.want.absent, tt.want.value)
			}
			if got := errors.Is(err, router.ErrNotJSON); got != tt.want.notJSON {
				t.Fatalf("ErrNotJSON %v, want %v (error %v)", got, tt.want.notJSON, err)
			}
		})
	}
}

func TestSwitchRegistration(t *testing.T) {
	sw := router.ByHeader("kind")
	ok := func(context.Context, *bus.Message) error { return nil }
	if err := sw.Route("a", ok); err != nil {
		t.Fatal(err)
	}
	if err := sw.Route("a", ok); !errors.Is(err, router.ErrDuplicateRoute) {
		t.Fatalf("second route for a: %v", err)
	}
	if err := sw.Route("b", nil); err == nil {
		t.Fatal("nil handler accepted")
	}
	_ = sw.Handle(t.Context(), &bus.Message{ID: "1"})
	if err := sw.Route("c", ok); !errors.Is(err, router.ErrStarted) {
		t.Fatalf("route after first message: %v", err)
	}
	if err := sw.Fallback(ok); !errors.Is(err, router.ErrStarted) {
		t.Fatalf("fallback after first message: %v", err)
	}
}

func TestNoRouteErrorNamesTheValue(t *testing.T) {
	sw := router.ByField("order.kind")
	err := sw.Handle(t.Context(), &bus.Message{ID: "1", Payload: []byte(`{"order":{"kind":"gift"}}`)})
	if want := `permanent: router: no route for field "order.kind" = "gift"`; err == nil || err.Error() != want {
		t.Fatalf("error %v, want %s", err, want)
	}
}

// FuzzByField checks that no payload or path panics the field reader and
// that every failure is permanent, so nothing loops through retries.
func FuzzByField(f *testing.F) {
	f.Add("order.kind", []byte(`{"order":{"kind":"refund"}}`))
	f.Add("items.0", []byte(`{"items":[1,2]}`))
	f.Add("", []byte(`{"":1}`))
	f.Add("a..b", []byte(`nul`))
	f.Fuzz(func(t *testing.T, path string, payload []byte) {
		sw := router.ByField(path)
		called := false
		if err := sw.Route("refund", func(context.Context, *bus.Message) error { called = true; return nil }); err != nil {
			t.Fatal(err)
		}
		err := sw.Handle(context.Background(), &bus.Message{ID: "f", Payload: payload})
		var perm *bus.PermanentError
		if err != nil && !errors.As(err, &perm) {
			t.Fatalf("error %v is not permanent", err)
		}
		if (err == nil) != called {
			t.Fatalf("handler called %v, error %v", called, err)
		}
	})
}
