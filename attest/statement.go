package attest

import (
	"encoding/json"
	"errors"
	"fmt"
)

// In-toto constants.
const (
	StatementType     = "https://in-toto.io/Statement/v1"
	InTotoPayloadType = "application/vnd.in-toto+json"
	// MaxSubjects is sigstore-go's limit on the subjects of a verified statement.
	MaxSubjects = 1024
)

// Subject is an in-toto resource descriptor: an artifact name and its digests.
type Subject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

// Statement is an in-toto v1 statement.
type Statement struct {
	Type          string          `json:"_type"`
	Subject       []Subject       `json:"subject"`
	PredicateType string          `json:"predicateType"`
	Predicate     json.RawMessage `json:"predicate"`
}

// NewStatement makes a statement of predicateType about subjects; predicate is marshalled
// to JSON.
func NewStatement(predicateType string, predicate any, subjects []Subject) (Statement, error) {
	if err := checkSubjects(subjects); err != nil {
		return Statement{}, err
	}
	raw, err := json.Marshal(predicate)
	if err != nil {
		return Statement{}, fmt.Errorf("predicate: %w", err)
	}
	return Statement{Type: StatementType, Subject: subjects, PredicateType: predicateType, Predicate: raw}, nil
}

func checkSubjects(subjects []Subject) error {
	if len(subjects) == 0 {
		return errors.New("a statement needs at least one subject")
	}
	if len(subjects) > MaxSubjects {
		return fmt.Errorf("%d subjects: sigstore verifies at most %d", len(subjects), MaxSubjects)
	}
	for _, s := range subjects {
		if s.Name == "" || len(s.Digest) == 0 {
			return fmt.Errorf("subject %q has no name or no digest", s.Name)
		}
	}
	return nil
}

// MarshalJSON-ready payload of the statement (what goes into the DSSE envelope).
func (s Statement) Payload() ([]byte, error) {
	if s.Type != StatementType {
		return nil, fmt.Errorf("statement type %q is not %q", s.Type, StatementType)
	}
	if err := checkSubjects(s.Subject); err != nil {
		return nil, err
	}
	return json.Marshal(s)
}
