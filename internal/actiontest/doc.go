// Package actiontest runs the GitHub Action (action.yml, composite) in a real workflow
// runner: nektos/act in host mode (`-P ubuntu-latest=-self-hosted`, no container engine).
// Each test copies the project into a fresh git repository, writes workflows that
// `uses: ./` (or the example workflow, with its remote actions replaced by local
// stand-ins through act's --local-repository), runs act with JSON logs and checks what a
// user sees: step outputs, the job summary, annotations, the out-dir and exit statuses.
//
// act is found on PATH or in $(go env GOBIN) / $(go env GOPATH)/bin (.ci/run installs
// it with `go install github.com/nektos/act@v0.2.89`); without it the tests skip, or fail
// under IMMUTOS_REQUIRE_TOOLS=1. The package holds tests only.
package actiontest
