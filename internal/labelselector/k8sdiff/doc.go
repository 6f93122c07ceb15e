// Package k8sdiff holds only tests: they check package labelselector
// against Kubernetes' own k8s.io/apimachinery/pkg/labels, input by input.
// It is a module of its own so that fleetkit's go.mod never requires
// apimachinery; run it with (cd internal/labelselector/k8sdiff && go test ./...).
package k8sdiff
