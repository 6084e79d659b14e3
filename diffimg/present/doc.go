// Package present renders the difference tree of package report for
// people: Text for a terminal or a log, Markdown for a GitHub step summary,
// HTML for a browser, each in its own file, and Outputs, which writes any
// of them (and the JSON report) with the bounds that keep them readable.
// All three read the report through one view (findings.go): in each
// partition and filesystem the causes first, derived differences folded
// under them, many alike as one finding, counts of the whole report.
// The model and its JSON contract stay in package report; presenters only
// read a *report.Report, never change it.
package present
