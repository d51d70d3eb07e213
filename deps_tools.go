//go:build tools

// This file pins the modules moat's packages are being built on, so that go.mod
// stays complete while the packages that import them are written.
package main

import (
	_ "github.com/BurntSushi/toml"
	_ "github.com/a-h/templ"
	_ "github.com/chromedp/chromedp"
	_ "github.com/docker/docker/api/types/container"
	_ "github.com/docker/docker/api/types/events"
	_ "github.com/docker/docker/api/types/filters"
	_ "github.com/docker/docker/api/types/image"
	_ "github.com/docker/docker/api/types/network"
	_ "github.com/docker/docker/api/types/volume"
	_ "github.com/docker/docker/client"
	_ "github.com/docker/docker/pkg/jsonmessage"
	_ "github.com/docker/docker/pkg/stdcopy"
	_ "github.com/hashicorp/consul/api"
	_ "github.com/hashicorp/consul/sdk/testutil"
	_ "github.com/oklog/run"
	_ "github.com/robfig/cron/v3"
	_ "github.com/trinodb/trino-go-client/trino"
	_ "golang.org/x/crypto/bcrypt"
	_ "golang.org/x/net/html"
	_ "modernc.org/sqlite"
)
