package attest

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// VerificationSummaryPredicateType is the SLSA Verification Summary v1 predicate type,
// used for rebuild attestations (see docs/rebuilders.md).
const VerificationSummaryPredicateType = "https://slsa.dev/verification_summary/v1"

// Verification results of a verification summary.
const (
	VerificationPassed = "PASSED"
	VerificationFailed = "FAILED"
)

// ResourceDescriptor is an in-toto v1 resource descriptor (the subset we write).
type ResourceDescriptor struct {
	Name   string            `json:"name,omitempty"`
	URI    string            `json:"uri,omitempty"`
	Digest map[string]string `json:"digest,omitempty"`
}

// Verifier names who verified: for a rebuild, the rebuilder.
type Verifier struct {
	ID string `json:"id"`
}

// VerificationSummary is the SLSA Verification Summary v1 predicate. A rebuilder signs
// one about the published artifacts: PASSED when every rebuilt artifact was
// bit-for-bit identical to the published one. Reproducibility is our extension field
// (consumers of the SLSA type ignore unknown fields): both digests per artifact, the
// builds, and the differences counted by cause.
type VerificationSummary struct {
	Verifier           Verifier             `json:"verifier"`
	TimeVerified       time.Time            `json:"timeVerified"`
	ResourceURI        string               `json:"resourceUri"`
	Policy             ResourceDescriptor   `json:"policy"`
	InputAttestations  []ResourceDescriptor `json:"inputAttestations,omitempty"`
	VerificationResult string               `json:"verificationResult"`
	// VerifiedLevels is required by the SLSA type; a rebuild checks no SLSA level,
	// so it stays empty.
	VerifiedLevels  []string         `json:"verifiedLevels"`
	SLSAVersion     string           `json:"slsaVersion,omitempty"`
	Reproducibility *Reproducibility `json:"reproducibility,omitempty"`
}

// Validate checks the fields a reader of a rebuild attestation relies on.
func (v *VerificationSummary) Validate() error {
	if v.Verifier.ID == "" {
		return errors.New("no verifier.id")
	}
	if v.ResourceURI == "" {
		return errors.New("no resourceUri")
	}
	switch v.VerificationResult {
	case VerificationPassed, VerificationFailed:
	default:
		return fmt.Errorf("verificationResult %q is neither PASSED nor FAILED", v.VerificationResult)
	}
	if v.Reproducibility != nil {
		if err := v.Reproducibility.Validate(); err != nil {
			return fmt.Errorf("reproducibility: %w", err)
		}
		if (v.VerificationResult == VerificationPassed) != v.Reproducibility.Reproducible {
			return fmt.Errorf("verificationResult %s contradicts the reproducibility verdict %s", v.VerificationResult, v.Reproducibility.Verdict)
		}
	}
	return nil
}

// NewVerificationSummary makes the verification summary statement about subjects.
func NewVerificationSummary(pred VerificationSummary, subjects []Subject) (Statement, error) {
	if err := pred.Validate(); err != nil {
		return Statement{}, fmt.Errorf("verification summary: %w", err)
	}
	if pred.VerifiedLevels == nil {
		pred.VerifiedLevels = []string{}
	}
	return NewStatement(VerificationSummaryPredicateType, pred, subjects)
}

// verificationSummary reads a verification summary statement's predicate.
func verificationSummary(st *Statement) (*VerificationSummary, error) {
	var v VerificationSummary
	if err := json.Unmarshal(st.Predicate, &v); err != nil {
		return nil, fmt.Errorf("malformed verification summary: %w", err)
	}
	if err := v.Validate(); err != nil {
		return nil, fmt.Errorf("invalid verification summary: %w", err)
	}
	return &v, nil
}
