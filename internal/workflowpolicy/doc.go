// Package workflowpolicy holds a test of the least-privilege rules for the workflows this
// project ships (.github/workflows and examples/workflows): only a job that signs gets
// id-token: write and attestations: write, a job that only records a build reads the
// repository and nothing else, and third-party actions are pinned by commit. The
// package holds tests only.
package workflowpolicy
