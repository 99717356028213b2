package container_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/edkit-dev/edkit/harness/env"
	edc "github.com/edkit-dev/edkit/harness/env/container"
	"github.com/edkit-dev/edkit/harness/env/ownership"
	"github.com/testcontainers/testcontainers-go"
)

func TestImageSelection(t *testing.T) {
	t.Setenv(edc.ImagesEnv, "")
	tests := []struct {
		name      string
		opts      []edc.Option
		env       string
		spec      env.ComponentSpec
		want      string
		wantLocal bool
	}{
		{"official by default", nil, "", env.ComponentSpec{Kind: env.KindRedis}, "redis:7.2.5", false},
		{"official kafka", nil, "", env.ComponentSpec{Kind: env.KindKafka}, "apache/kafka:3.8.0", false},
		{"LocalImages option", []edc.Option{edc.LocalImages()}, "", env.ComponentSpec{Kind: env.KindNATS}, "edkit/nats:local", true},
		{"EDKIT_IMAGES=local", nil, "local", env.ComponentSpec{Kind: env.KindPostgres}, "edkit/postgres:local", true},
		{"spec image wins", []edc.Option{edc.LocalImages()}, "", env.ComponentSpec{Kind: env.KindRedis, Image: "redis:7.4"}, "redis:7.4", false},
		{"spec edkit image is local", nil, "", env.ComponentSpec{Kind: env.KindRedis, Image: "edkit/redis:dev"}, "edkit/redis:dev", true},
		{"WithImage", []edc.Option{edc.WithImage(env.KindRabbitMQ, "rabbitmq:4.0")}, "local", env.ComponentSpec{Kind: env.KindRabbitMQ}, "rabbitmq:4.0", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(edc.ImagesEnv, tt.env)
			got, local := edc.New(tt.opts...).Image(tt.spec)
			if got != tt.want || local != tt.wantLocal {
				t.Fatalf("Image = %s (local %v), want %s (local %v)", got, local, tt.want, tt.wantLocal)
			}
		})
	}
}

func TestSupports(t *testing.T) {
	p := edc.New(edc.WithImage(env.KindRedis, "edkit/redis:absent"))
	err := p.Supports(env.KindRedis)
	if !errors.Is(err, edc.ErrNoImage) || !strings.Contains(err.Error(), "make images") {
		t.Fatalf("Supports with an absent local image = %v; want ErrNoImage naming make images", err)
	}
	if err := p.Supports(env.Kind("kurrent")); !errors.Is(err, edc.ErrUnsupportedKind) {
		t.Fatalf("Supports(kurrent) = %v, want ErrUnsupportedKind", err)
	}
	_, err = p.Start(t.Context(), env.ComponentSpec{Name: "r", Kind: env.KindRedis, Provider: env.Container})
	if !errors.Is(err, edc.ErrNoImage) {
		t.Fatalf("Start with an absent local image = %v, want ErrNoImage", err)
	}
}

// TestSweep checks that New removes a managed container whose owner is
// gone (no process has its PID, or another process does), and leaves
// alone one whose owner lives and one not managed.
func TestSweep(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cli.Close() }()
	if _, err := cli.ImageInspect(ctx, "edkit/redis:local"); err != nil {
		t.Fatalf("edkit/redis:local is missing — run `make images` first: %v", err)
	}
	// A pid that is surely dead: a child that has exited and been reaped.
	child := exec.CommandContext(ctx, "true")
	if err := child.Run(); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	mk := func(labels map[string]string) string {
		r, err := cli.ContainerCreate(ctx, &container.Config{Image: "edkit/redis:local", Labels: labels}, nil, nil, nil, "")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = cli.ContainerRemove(context.Background(), r.ID, container.RemoveOptions{Force: true, RemoveVolumes: true})
		})
		return r.ID
	}
	orphan := mk(map[string]string{edc.LabelManaged: "true", edc.LabelOwnerHost: host, edc.LabelOwnerPID: strconv.Itoa(child.Process.Pid)})
	self, err := ownership.Self()
	if err != nil {
		t.Fatal(err)
	}
	start := strconv.FormatUint(self.Start, 10)
	live := mk(map[string]string{edc.LabelManaged: "true", edc.LabelOwnerHost: host, edc.LabelOwnerPID: strconv.Itoa(os.Getpid()), edc.LabelOwnerStart: start})
	// A live PID that started at another time: the owner died and its PID
	// went to this process.
	reused := mk(map[string]string{edc.LabelManaged: "true", edc.LabelOwnerHost: host, edc.LabelOwnerPID: strconv.Itoa(os.Getpid()), edc.LabelOwnerStart: start + "0"})
	foreign := mk(map[string]string{"dev.other.owner-pid": strconv.Itoa(child.Process.Pid)})

	edc.New()

	exists := func(id string) bool { _, err := cli.ContainerInspect(ctx, id); return err == nil }
	if exists(orphan) {
		t.Error("the orphan (managed, owner gone) was not removed")
	}
	if exists(reused) {
		t.Error("the orphan whose owner's PID was reused was not removed")
	}
	if !exists(live) {
		t.Error("a container of a live owner was removed")
	}
	if !exists(foreign) {
		t.Error("an unmanaged container was removed")
	}
}
